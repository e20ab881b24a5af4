"""`mapserver cordon`: the entrances of an area and the fewest checkpoints sealing it."""

from __future__ import annotations

import argparse
from pathlib import Path

from mapserver.cli.common import open_store_of, print_problems, table
from mapserver.errors import ValidationError


def cmd_cordon(args: argparse.Namespace) -> int:
    """Print the entrances or the cordon plan of an area and write it as GeoJSON."""
    import json

    from mapserver.services.checkpoints import CheckpointService

    store = open_store_of(args)
    service = CheckpointService(store)
    polygon = Path(args.polygon).read_text(encoding="utf-8") if args.polygon else None
    area = {"grid_ids": args.grid or None, "polygon": polygon}
    try:
        if args.entrances:
            result = service.entrances(**area, tolerance_m=args.tolerance)
            print(f"出入口 / entrances: {result['total']}  {result['counts']}")
            rows = [f["properties"] for f in result["features"]]
            print(
                table(
                    rows,
                    [
                        ("entrance_id", "entrance"),
                        ("road_class", "class"),
                        ("mode", "mode"),
                        ("state", "state"),
                        ("checkpoint_id", "checkpoint"),
                        ("name", "road"),
                    ],
                )
            )
        else:
            result = service.cordon(
                **area,
                max_outward_m=args.outward,
                household_cost=args.household_cost,
                keep_existing=not args.replan,
            )
            summary = result["summary"]
            print(
                f"封控方案 / cordon: staffed {summary['staffed']} "
                f"(new {summary['new_staffed']}, kept {len(summary['existing'])}), "
                f"barriers {summary['barriers']}, extra households {summary['extra_households']}, "
                f"staffed now {result['checkpoints_now']}, "
                f"persons per day {result['rota']['persons_per_day']}"
            )
            rows = [
                f["properties"]
                for f in result["features"]
                if f["properties"].get("feature") == "cut"
            ]
            print(
                table(
                    rows,
                    [
                        ("edge_id", "edge"),
                        ("road_class", "class"),
                        ("placement", "placement"),
                        ("checkpoint_id", "checkpoint"),
                        ("name", "road"),
                    ],
                )
            )
            if args.tradeoff:
                points = service.tradeoff(
                    **area, max_outward_m=args.outward or 300.0, keep_existing=not args.replan
                )
                print("\n道口前移权衡 / trade-off (staffed vs extra households):")
                print(
                    table(
                        points,
                        [
                            ("household_cost", "price/household"),
                            ("staffed", "staffed"),
                            ("barriers", "barriers"),
                            ("extra_households", "extra households"),
                        ],
                    )
                )
                result["tradeoff"] = points
    except ValidationError as err:
        return print_problems(err)
    if args.out:
        Path(args.out).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
        print(f"written: {args.out}")
    return 0


def add_parser(sub) -> None:
    """The ``cordon`` command."""
    cordon = sub.add_parser("cordon", help="entrances and the fewest checkpoints sealing an area")
    cordon.add_argument("--grid", action="append", help="grid id of the area (repeatable)")
    cordon.add_argument("--polygon", help="GeoJSON file with the area polygon instead of grids")
    cordon.add_argument("--entrances", action="store_true", help="list entrances only")
    cordon.add_argument("--tolerance", type=float, default=30.0, help="checkpoint match (m)")
    cordon.add_argument("--outward", type=float, default=0.0, help="cordon may move out (m)")
    cordon.add_argument(
        "--household-cost",
        type=float,
        default=0.0,
        help="price of enclosing one extra household (checkpoint costs 2-3)",
    )
    cordon.add_argument("--replan", action="store_true", help="ignore existing checkpoints")
    cordon.add_argument("--tradeoff", action="store_true", help="also print the trade-off curve")
    cordon.add_argument("--out", help="write the result as GeoJSON")
    cordon.set_defaults(func=cmd_cordon)
