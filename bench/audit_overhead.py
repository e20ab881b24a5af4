"""Benchmark: what the audit row costs a status write (SQLite file or PostgreSQL).

Run: PYTHONPATH=$PWD python bench/audit_overhead.py [--writes 300] [--database URL]
Writes single-row and 1,000-row status batches on the demo district with the audit
row and with it switched off (same store, same rows); prints ms per write. Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from mapserver.demo import generate_demo
from mapserver.store import StatusRow, open_store
from mapserver.store.sql import Store


def _time(store: Store, batches: list[list[StatusRow]]) -> tuple[float, float]:
    """Median ms per apply_status call with and without the audit row, alternating
    the two so that drift on a shared machine hits both alike."""
    audited = store._audit
    took: dict[bool, list[float]] = {True: [], False: []}
    for k, rows in enumerate(batches * 2):
        on = k % 2 == 0
        store._audit = audited if on else (lambda conn, **entry: 0)  # type: ignore[method-assign]
        start = time.perf_counter()
        store.apply_status(rows, user="bench", source="bench")
        took[on].append((time.perf_counter() - start) * 1000)
    store._audit = audited  # type: ignore[method-assign]
    return statistics.median(took[True]), statistics.median(took[False])


def main() -> None:
    """Print the median time of status writes with and without their audit row."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writes", type=int, default=300, help="single-row writes per variant")
    parser.add_argument("--database", help="store URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{Path(folder) / 'bench.sqlite'}"
        store = open_store(url)
        store.import_layers(generate_demo(seed=2020, scale=1.0), user="bench")
        ids = list(store.read_households()["household_id"])
        single = [[StatusRow("household", ids[k % len(ids)], "red")] for k in range(args.writes)]
        batch = [
            [StatusRow("household", i, "yellow") for i in ids[k * 1000 : (k + 1) * 1000]]
            for k in range(10)
        ]
        one = _time(store, single)
        many = _time(store, batch)
        store.dispose()
    print(f"store: {store.dialect}; median ms per write (with audit row / without)")
    print(f"  1 row:      {one[0]:.2f} / {one[1]:.2f}")
    print(f"  1,000 rows: {many[0]:.2f} / {many[1]:.2f}")


if __name__ == "__main__":
    main()
