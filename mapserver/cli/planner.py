"""`mapserver init` and `partition`: a district from an OSM extract, micro-grid proposals."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mapserver.cli.common import open_store_of, print_problems, table
from mapserver.errors import NotFoundError, ValidationError


def cmd_init(args: argparse.Namespace) -> int:
    """Start from OpenStreetMap alone: buildings, roads and a proposed grid tree."""
    import geopandas as gpd
    from tqdm import tqdm

    from mapserver.districting.osm_init import ROAD_MARGIN_M, HouseholdAssumptions, init_from_osm
    from mapserver.districting.target import Target

    area = None
    if args.area:
        area = gpd.read_file(args.area).to_crs("EPSG:4326").union_all()
    elif args.bbox:
        area = tuple(float(v) for v in args.bbox.split(","))
    assumptions = HouseholdAssumptions(
        m2_per_household=args.m2_per_household, persons_per_household=args.persons_per_household
    )
    steps = tqdm(total=2, desc="OSM", unit="step")
    try:
        result = init_from_osm(
            args.osm,
            area=area,
            target=Target(args.min, args.max),
            assumptions=assumptions,
            name_prefix=args.prefix,
            split_units=args.split_units,
        )
    except ValueError as err:
        steps.close()
        print(f"  {err}", file=sys.stderr)
        return 2
    steps.update(1)
    store = open_store_of(args)
    store.import_layers(
        {k: result[k] for k in ("grids", "buildings", "households", "road_nodes", "road_edges")},
        user="init",
    )
    steps.update(1)
    steps.close()
    grids = result["grids"]
    print(
        f"建筑 / buildings: {len(result['buildings'])}, 估算户数 / estimated households: "
        f"{result['total_households']} ({len(result['households'])} 户记录 / household rows), "
        f"小区 / compounds: {len(result['compounds']) if result['compounds'] is not None else 0}, "
        f"网格 / grids: {len(grids)} "
        f"({', '.join(f'{k} {v}' for k, v in grids['level'].value_counts().items())}), "
        f"道路 / road edges: {len(result['road_edges'])}"
    )
    print(
        f"假设 / assumptions: {assumptions.m2_per_household:g} m² per household, "
        f"{assumptions.usable_ratio:g} usable, {assumptions.persons_per_household:g} persons "
        f"per household, {assumptions.apartment_levels} levels for apartments without a tag, "
        f"{assumptions.households_per_floor} households per floor and unit; household ids "
        f"<building>-<unit>-<floor><flat>; roads kept {ROAD_MARGIN_M:g} m around the area"
    )
    maximum = args.max
    for building_id, count in result["big_buildings"]:
        pieces = result["split"].get(building_id)
        what = (
            f"split into {len(pieces)} unit groups"
            if pieces
            else "kept whole (--split-units splits it)"
        )
        print(f"  大楼 / big building {building_id}: {count} households > {maximum}, {what}")
    for exception in result["exceptions"]:
        print(f"  例外 / exception {exception.subject}: {exception.reason}")
    return 0


def cmd_partition(args: argparse.Namespace) -> int:
    """Propose micro-grids for a parent grid; optionally save, publish and export the plan."""
    import json

    from mapserver.errors import ConflictError
    from mapserver.services.planner import PlannerService

    store = open_store_of(args)
    service = PlannerService(store)
    target = {"minimum": args.min, "maximum": args.max, "measure": args.measure}
    try:
        result = service.propose(args.parent, target=target, keep_current=not args.fresh)
    except ValidationError as err:
        return print_problems(err)
    except NotFoundError as err:
        print(f"  {err}", file=sys.stderr)
        return 2
    summary = result["summary"]
    print(
        f"{args.parent}: {summary['count']} grids, {args.measure} per grid "
        f"min {summary['min']:g} max {summary['max']:g} std {summary['std']:.2f}, "
        f"{summary['within_target']:.0%} within {args.min}–{args.max}, "
        f"households moved {result['changed_households']}"
    )
    print(
        table(
            result["totals"],
            [
                ("cell_id", "grid"),
                ("households", "households"),
                ("residents", "residents"),
                ("buildings", "buildings"),
                ("within_target", "in range"),
            ],
        )
    )
    for exception in result["exceptions"]:
        print(f"  例外 / exception {exception['subject']}: {exception['reason']}")
    for issue in result["issues"]:
        print(f"  校验 / check {issue['kind']} {issue['subject']}: {issue['detail']}")
    if not (args.save or args.publish or args.export):
        return 0
    try:
        saved = service.save(
            args.parent,
            base_version=store.latest_plan_version(args.parent),
            assignment=result["assignment"],
            user="cli",
            label="mapserver partition",
        )
    except ConflictError as err:
        print(f"  {err}", file=sys.stderr)
        return 3
    print(f"保存 / saved version {saved['version']}")
    if args.publish:
        service.publish(saved["version"])
        print(f"发布 / published version {saved['version']}")
    if args.export:
        out = Path(args.export)
        data = service.export(saved["version"])
        if out.suffix.lower() == ".gpkg":
            import geopandas as gpd

            frame = gpd.GeoDataFrame.from_features(data["features"], crs="EPSG:4326")
            frame["buildings"] = frame["buildings"].map(",".join)
            frame.to_file(out, driver="GPKG", layer="grids")
        else:
            out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        print(f"导出 / exported: {out}")
    return 0


def add_parser(sub) -> None:
    """The ``partition`` and ``init`` commands."""
    partition = sub.add_parser("partition", help="propose micro-grids for a parent grid")
    partition.add_argument("--parent", required=True, help="the grid whose children to plan")
    partition.add_argument("--min", type=int, default=20)
    partition.add_argument("--max", type=int, default=30)
    partition.add_argument("--measure", choices=["households", "residents"], default="households")
    partition.add_argument("--fresh", action="store_true", help="ignore the current cells")
    partition.add_argument("--save", action="store_true", help="save the proposal as a draft")
    partition.add_argument("--publish", action="store_true", help="save and publish it")
    partition.add_argument("--export", help="save and export it (.geojson or .gpkg)")
    partition.set_defaults(func=cmd_partition)

    init = sub.add_parser("init", help="start from an OSM extract: buildings, roads, grid tree")
    init.add_argument("--osm", required=True, help="OSM extract (.osm.pbf or .osm)")
    init.add_argument("--area", help="vector file with the area polygon (default: all buildings)")
    init.add_argument("--bbox", help="minlon,minlat,maxlon,maxlat instead of --area")
    init.add_argument("--min", type=int, default=20, help="micro-grid minimum households")
    init.add_argument("--max", type=int, default=30, help="micro-grid maximum households")
    init.add_argument("--m2-per-household", type=float, default=90.0)
    init.add_argument("--persons-per-household", type=float, default=2.5)
    init.add_argument("--prefix", default="OSM", help="grid id prefix")
    init.add_argument(
        "--split-units",
        action="store_true",
        help="split buildings over --max households into sub-buildings of whole units",
    )
    init.set_defaults(func=cmd_init)
