"""What every command shares: opening the store it names, printing refused input, tables."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from mapserver.config import load_settings
from mapserver.errors import ValidationError


def open_store_of(args: argparse.Namespace):
    """The store the command names (``--database``, else the settings' DATABASE_URL)."""
    from mapserver.store import open_store

    return open_store(args.database or load_settings().database_url)


@contextmanager
def store_of(args: argparse.Namespace) -> Iterator:
    """The store the command names, closed when the command is done with it."""
    store = open_store_of(args)
    try:
        yield store
    finally:
        store.dispose()


def print_problems(err: ValidationError, headline: str | None = None) -> int:
    """Print why input was refused (a headline, then one line per problem) on stderr;
    returns the exit status of refused input, 2."""
    if headline:
        print(headline, file=sys.stderr)
    for issue in err.issues:
        print(f"  {issue}", file=sys.stderr)
    return 2


def table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """A plain text table of ``rows`` with (key, heading) columns."""
    cells = [["" if r.get(k) is None else str(r.get(k)) for k, _ in columns] for r in rows]
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, (_, h) in enumerate(columns)]
    line = "  ".join(h.ljust(w) for (_, h), w in zip(columns, widths, strict=True))
    body = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([line, "-" * len(line), *body])
