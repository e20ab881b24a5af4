"""``mapserver print``: the wall map of a level as PDF or PNG (A4 to A0), or the map as one
self-contained HTML file that opens offline, from the stored data."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mapserver.cli.common import open_store_of
from mapserver.config import load_settings
from mapserver.io.wallmap import PAPERS_MM
from mapserver.status.measures import MAX_CLASSES, MEASURES, METHODS

OUTPUTS = (".pdf", ".png", ".html")


def cmd_print(args: argparse.Namespace) -> int:
    """Write the wall map (or the offline HTML map) of a level or a grid's children."""
    from mapserver.model import DISTRICT_TZ
    from mapserver.services.mapview import MapView
    from mapserver.web.i18n import translate

    out = Path(args.output)
    kind = out.suffix.lower()
    if kind not in OUTPUTS:
        print(
            f"输出文件须以 {' / '.join(OUTPUTS)} 结尾 / the output file must end in "
            f"{', '.join(OUTPUTS)}: {out}",
            file=sys.stderr,
        )
        return 2
    settings = load_settings()
    store = open_store_of(args)
    view = MapView(store, settings.scheme)
    levels = view.levels()
    if args.level and args.level not in levels:
        print(
            f"无此层级 / no such level: {args.level} (有 / present: {', '.join(levels)})",
            file=sys.stderr,
        )
        return 2
    at = moment = None
    if args.at:
        from mapserver.params import moment as parse_moment

        text = parse_moment(args.at, "at")
        at = view.seq_at(text)
        from datetime import datetime

        moment = datetime.fromisoformat(text).astimezone(DISTRICT_TZ)
    options = {
        "level": args.level,
        "parent_id": args.grid,
        "measure": args.measure,
        "statuses": args.status,
        "method": args.method,
        "classes": args.classes,
        "at": at,
    }
    try:
        if kind == ".html":
            from mapserver.services.htmlexport import offline_map

            body = offline_map(view, lambda key: translate(key, args.lang), **options).encode()
        else:
            from mapserver.services.wallprint import wall_map

            body = wall_map(
                view,
                lambda key: translate(key, args.lang),
                lang=args.lang,
                moment=moment,
                paper=args.paper,
                fmt=kind[1:],
                title=args.title,
                **options,
            )
    except ValueError as err:
        print(f"无法打印 / cannot print: {err}", file=sys.stderr)
        return 2
    out.write_bytes(body)
    print(f"已写出 / written: {out} ({len(body) / 1024:.0f} kB)")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``print`` sub-command to the ``mapserver`` parser."""
    printing = sub.add_parser(
        "print", help="wall map of a level as PDF/PNG (A4–A0), or an offline HTML map"
    )
    printing.add_argument("output", help="file to write: .pdf, .png or .html")
    where = printing.add_mutually_exclusive_group()
    where.add_argument("--level", help="grid level (default: the second from the top)")
    where.add_argument("--grid", help="a grid id: print its children")
    printing.add_argument("--paper", choices=list(PAPERS_MM), default="A3")
    printing.add_argument("--measure", choices=list(MEASURES), default="households")
    printing.add_argument(
        "--status", action="append", help="status code counted (repeatable; default: the worst)"
    )
    printing.add_argument(
        "--method", choices=[m for m in METHODS if m != "fixed"], default="quantile"
    )
    printing.add_argument("--classes", type=int, choices=range(1, MAX_CLASSES + 1), default=5)
    printing.add_argument("--at", help="the map as of a past moment (e.g. 2026-12-01T08:00)")
    printing.add_argument("--lang", choices=["zh", "en"], default="zh")
    printing.add_argument("--title", help="title printed at the top (default: the map's)")
    printing.set_defaults(func=cmd_print)
