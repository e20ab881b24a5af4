"""``mapserver events FILE``: import a case/report list as the event layer and print the report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mapserver.cli.common import open_store_of, print_problems
from mapserver.errors import ValidationError
from mapserver.status.events import DEFAULT_MAX_DISTANCE_M

LISTED = 20  # outside points and row issues printed before "... and N more"


def _print_report(report: dict) -> None:
    """Print the counts, the outside-grid list and the row issues, Chinese then English."""
    c = report["counts"]
    w = report["written"]
    fields = ", ".join(f"{k}←{v}" for k, v in report["fields"].items()) or "-"
    print(f"文件 / file: {report['file']}  (字段 / fields: {fields})")
    print(f"事件点 / events: {c['total']}  跳过的行 / rows skipped: {c['skipped_rows']}")
    print(
        f"落入网格 / in a grid: {c['joined']}  "
        f"(不在末级网格 / not in a leaf grid: {c['not_in_leaf']})"
    )
    print(f"不在任何网格内 / outside every grid: {c['outside']}")
    print(
        f"{report['max_distance_m']:g} 米内有楼栋 / with a building within "
        f"{report['max_distance_m']:g} m: {c['with_building']}  无 / none: {c['no_building']}"
    )
    print(
        f"写入 / written: {w['rows']} (新增 / added {w['added']}, 替换 / replaced "
        f"{w['replaced']}, 删除 / deleted {w['deleted']})"
    )
    if report["outside"]:
        print("网格外的点 / points outside every grid (row, id, name, lon, lat WGS84):")
        for item in report["outside"][:LISTED]:
            print(
                f"  row {item['row']}  {item['event_id']}  {item['name'] or ''}  "
                f"{item['lon']}, {item['lat']}"
            )
        if report["outside_total"] > LISTED:
            print(f"  … 另有 / and {report['outside_total'] - LISTED} more")
    if report["issues"]:
        print("问题 / issues (row skipped or field left blank):")
        for issue in report["issues"][:LISTED]:
            print(
                f"  {issue['file']} row {issue['row']} field '{issue['field']}': {issue['reason']}"
            )
        if len(report["issues"]) > LISTED:
            print(f"  … 另有 / and {len(report['issues']) - LISTED} more")


def cmd_events(args: argparse.Namespace) -> int:
    """Import an event table (CSV/XLSX with lon/lat) and print what joined and what did not."""
    from mapserver.services.events import import_events_file, rejoin_events
    from mapserver.store import User

    if (args.file is None) == (not args.rejoin):
        print("给出事件表文件或 --rejoin / give an event table FILE or --rejoin", file=sys.stderr)
        return 2
    store = open_store_of(args)
    if args.rejoin:
        try:
            result = rejoin_events(
                store, max_distance_m=args.max_distance, user=User(args.user, "admin")
            )
        finally:
            store.dispose()
        c = result["counts"]
        print(
            f"重新匹配 / re-joined: {c['total']} events, 换了网格 / moved to another grid: "
            f"{c['moved']}, 网格外 / outside every grid: {c['outside']}, "
            f"无楼栋 / no building within {c['max_distance_m']:g} m: {c['no_building']}"
        )
        return 0
    try:
        report = import_events_file(
            store,
            Path(args.file),
            source_crs=args.crs,
            max_distance_m=args.max_distance,
            replace=args.replace,
            user=User(args.user, "admin"),
        )
    except ValidationError as err:
        return print_problems(
            err, "事件表被拒绝，未写入任何数据 / event table rejected, nothing written:"
        )
    finally:
        store.dispose()
    _print_report(report)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``events`` sub-command to the ``mapserver`` parser."""
    events = sub.add_parser("events", help="import a case/report list (lon/lat) as the event layer")
    events.add_argument("file", nargs="?", help="CSV/XLSX with lon/lat (经度/纬度) columns")
    events.add_argument(
        "--rejoin",
        action="store_true",
        help="join the stored events again to the current grids and buildings (after a redraw)",
    )
    events.add_argument("--crs", help="coordinates: wgs84 (default), gcj02, bd09 or an EPSG code")
    events.add_argument(
        "--max-distance",
        type=float,
        default=DEFAULT_MAX_DISTANCE_M,
        help="nearest building search distance, metres (default 50)",
    )
    events.add_argument(
        "--replace", action="store_true", help="replace the whole layer (default: merge by id)"
    )
    events.add_argument("--user", default="cli")
    events.set_defaults(func=cmd_events)
