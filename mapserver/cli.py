"""The ``mapserver`` command line: demo, serve, import, status upload, users."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mapserver.cli_server import default_workers
from mapserver.config import (
    DEFAULT_DEMO_DIR,
    INSTANCE_DIR,
    SettingsError,
    check_settings,
    env_database_url,
    load_settings,
)
from mapserver.errors import NotFoundError, ValidationError
from mapserver.model import LAYERS

DEMO_PASSWORD = "demo2020"  # printed at start; the demo is for trying things out locally
DEMO_DATABASE = INSTANCE_DIR / "demo.sqlite"
# Past this many households the demo skips its sample delivery run (a city-wide run is
# no quick sample); `mapserver deliver` plans one on request.
DEMO_DELIVERY_MAX_HOUSEHOLDS = 25_000


def _demo_dir(scale: float, seed: int) -> Path:
    """Where generated demo data is kept: the instance folder, never the package."""
    suffix = "" if seed == 2020 else f"-seed{seed}"
    return INSTANCE_DIR / f"demo-x{scale:g}{suffix}"


def _load_demo_layers(scale: float, *, seed: int, regenerate: bool) -> dict:
    from mapserver.demo import generate_demo, read_demo, write_demo

    shipped = DEFAULT_DEMO_DIR if scale == 1 and seed == 2020 else None
    out_dir = _demo_dir(scale, seed)
    for folder in (out_dir, shipped):
        if not regenerate and folder is not None and (folder / "grids.geojson").is_file():
            print(f"读取演示数据 / reading demo data: {folder}")
            return read_demo(folder)
    print(f"生成演示街道 / generating demo district (scale {scale:g}, seed {seed})")
    layers = generate_demo(seed=seed, scale=scale, progress=True)
    try:
        write_demo(layers, out_dir)
        print(f"已写出 / written: {out_dir}")
    except OSError as err:
        print(f"无法写出 / could not write {out_dir}: {err}", file=sys.stderr)
    return layers


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate (or read) the demo district, load it into a fresh store and serve it."""
    from mapserver.store import open_store

    layers = _load_demo_layers(args.scale, seed=args.seed, regenerate=args.regenerate)
    problem = _scheme_problem(sorted(set(layers["status"]["status"])), load_settings().scheme)
    if problem:
        print(f"设置错误，未载入 / bad setting, nothing loaded: {problem}", file=sys.stderr)
        return 2
    url = args.database or env_database_url()
    if url is None:
        db_path = DEMO_DATABASE
        db_path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{db_path}"
    store = open_store(url)
    print("写入数据库 / loading into the store …")
    store.import_layers(layers, user="demo")
    grids = layers["grids"]
    accounts = _demo_accounts(store, grids)
    token = store.create_token("admin")
    links = [] if args.no_plans else _demo_plans(store, layers)
    if links and links[0][1] == "/routes":  # the sample run's first route goes to the driver
        plan_id, route_id = links[1][1].split("/")[2:4]
        store.assign_driver(plan_id, route_id, "driver")
    else:
        accounts = [
            (label, name, "(no sample route / 无样例路线)" if name == "driver" else area)
            for label, name, area in accounts
        ]
    store.dispose()
    households = len(layers["households"])
    print(
        f"演示街道 / demo district: {len(grids)} grids, {len(layers['buildings'])} buildings, "
        f"{households} households, {int(layers['households']['residents'].sum())} residents"
    )
    print(f"演示账号 / demo accounts (password {DEMO_PASSWORD}):")
    for label, username, area in accounts:
        print(f"  {label:<22}: {username:<10}{area}")
    print(f"  API token (admin): {token}")
    print(f"  e.g. curl -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\")
    print(
        f'       -d \'{{"entity_id": "...", "status": "red"}}\' http://{args.host}:{args.port}/api/status'
    )
    for label, path in links:
        print(f"  {label}: http://{args.host}:{args.port}{path}")
    print("其他命令请用此数据库 / other commands act on this store with:")
    print(f"  export DATABASE_URL={url}")
    if args.no_serve:
        return 0
    return _serve(url, args.host, args.port, workers=args.workers, anonymous_read=True)


def _demo_accounts(store, grids) -> list[tuple[str, str, str]]:
    """One demo login per role, each bound to a sensible part of the tree; returns
    (label, username, area) for the printout."""
    micro = grids[grids["level"] == "micro"].iloc[0]
    community = grids[grids["level"] == "community"].iloc[0]
    accounts = [
        ("管理员 admin", "admin", None),
        ("指挥 commander", "commander", None),
        ("规划员 planner", "planner", community),
        ("调度员 dispatcher", "dispatcher", None),
        ("司机 driver", "driver", None),
        ("网格员 worker", "worker", micro),
    ]
    out = []
    for label, username, grid in accounts:
        grid_id = None if grid is None else str(grid["grid_id"])
        store.create_user(username, DEMO_PASSWORD, role=username, grid_id=grid_id)
        area = "" if grid is None else f"(grid {grid_id} {grid['name']})"
        if username == "driver":
            area = "(the sample run's first route / 样例第一条路线)"
        out.append((label, username, area))
    return out


def _demo_plans(store, layers: dict) -> list[tuple[str, str]]:
    """A morning delivery run and two patrols for the demo; (label, page path) pairs."""
    from mapserver.services.delivery import DeliveryRequest, DeliveryService
    from mapserver.services.patrol import PatrolService

    print("规划上午保供与巡逻路线 / planning the morning deliveries and patrols …")
    links: list[tuple[str, str]] = []
    households = len(layers["households"])
    if households > DEMO_DELIVERY_MAX_HOUSEHOLDS:
        print(
            f"  跳过演示保供路线 / skipped the sample delivery run: {households} households "
            f"(over {DEMO_DELIVERY_MAX_HOUSEHOLDS}, no quick sample); `mapserver deliver` "
            "plans runs on request (--vans, --trips)"
        )
    else:
        delivery = DeliveryService(store)
        request = DeliveryRequest(statuses=("red",), trips=3, time_limit_s=3)
        try:
            plan_id = delivery.plan(request, user="demo")
        except (ValueError, ValidationError) as err:  # e.g. a generated road net with islands
            issues = getattr(err, "issues", None)
            reason = (issues[0].reason if issues else str(err)).split(";")[0]
            print(f"  跳过演示保供路线 / skipped the sample delivery run: {reason}")
        else:
            links.append(("保供路线 / delivery routes", "/routes"))
            first = delivery.get(plan_id)["plan"]["routes"][0]["route_id"]
            links.append(("司机页面 / driver page", f"/driver/{plan_id}/{first}"))
    patrol = PatrolService(store)
    grids = layers["grids"]
    big = str(grids[grids["level"] == "big"]["grid_id"].iloc[0])
    village = grids[(grids["level"] == "community") & grids["name"].str.contains("村")]
    streets = patrol.streets([big], teams=2, user="demo")
    links.append(("街巷巡逻 / street patrol", f"/patrol/{streets}"))
    if len(village):
        tour = patrol.checkpoints(grid_ids=[str(village["grid_id"].iloc[0])], teams=2, user="demo")
        links.append(("道口巡查 / checkpoint patrol", f"/patrol/{tour}"))
    return links


def _stored_codes(url: str) -> list[str]:
    """The status codes held by the store at ``url``."""
    from mapserver.store import open_store

    store = open_store(url)
    try:
        return store.status_codes()
    finally:
        store.dispose()


def _scheme_problem(stored: list[str], scheme_name: str) -> str | None:
    """Say why the scheme cannot colour these status codes, or None when it can."""
    from mapserver.status.scheme import load_scheme

    known = {c.code for c in load_scheme(scheme_name).codes}
    unknown = sorted(set(stored) - known)
    if not unknown:
        return None
    return (
        f"MAPSERVER_SCHEME={scheme_name!r}: the status data holds codes "
        f"{', '.join(unknown[:8])} that {scheme_name} does not have (its codes: "
        f"{', '.join(sorted(known))}); every grid would be grey. Use the scheme the status "
        "was entered in (the demo's is hongkou6), or re-import the status in this scheme"
    )


def _serve(
    url: str,
    host: str,
    port: int,
    *,
    workers: int,
    threads: int | None = None,
    anonymous_read: bool | None = None,
) -> int:
    """Serve the store at ``url`` under gunicorn after checking the scheme fits its data."""
    from mapserver.cli_server import DEFAULT_THREADS, run_gunicorn

    settings = load_settings(database_url=url, anonymous_read=anonymous_read)
    problem = _scheme_problem(_stored_codes(url), settings.scheme)
    if problem:
        print(f"设置错误 / bad setting: {problem}", file=sys.stderr)
        return 2
    return run_gunicorn(
        settings, host=host, port=port, workers=workers, threads=threads or DEFAULT_THREADS
    )


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve an existing store with gunicorn (several worker processes)."""
    url = args.database or load_settings().database_url
    return _serve(url, args.host, args.port, workers=args.workers, threads=args.threads)


def cmd_import(args: argparse.Namespace) -> int:
    """Validate files together and import them in one transaction (merge by id by default)."""
    from mapserver.io.mapping import ColumnMapping, parse_mapping
    from mapserver.services.mapview import MapView
    from mapserver.services.statusio import import_files
    from mapserver.store import User, open_store

    store = open_store(args.database or load_settings().database_url)
    # a folder's README (geodata/demo/README.txt) describes the data: `import folder/*` works
    files = [p for p in args.files if args.layer or Path(p).stem.lower() != "readme"]
    for skipped in [p for p in args.files if p not in files]:
        print(f"跳过说明文件 / skipped (documentation, not data): {skipped}")
    paths = {Path(p): Path(p).name for p in files}
    layer = args.layer
    try:
        mapping = ColumnMapping()
        if args.mapping:
            saved = store.get_mapping(args.mapping)
            mapping = ColumnMapping.from_dict(saved["mapping"])
            layer = layer or saved["layer"]
        mapping = mapping.merged(parse_mapping(args.map))
        if args.level:
            mapping = mapping.merged(ColumnMapping(constants={"level": args.level}))
        if args.save_mapping and layer is None:
            print("--save-mapping 需要 --layer / needs --layer", file=sys.stderr)
            return 2
        counts = import_files(
            store,
            MapView(store, load_settings().scheme),
            paths,
            layer_hint=dict.fromkeys(paths, layer) if layer else None,
            mappings=dict.fromkeys(paths, mapping),
            source_crs=args.crs,
            encoding=args.encoding,
            repair=args.repair,
            parent_by=args.parent_by,
            replace=args.replace,
            dry_run=args.dry_run,
            user=User("cli", "admin"),
        )
    except NotFoundError as err:
        print(f"未找到 / not found: {err}", file=sys.stderr)
        return 2
    except ValidationError as err:
        print("导入被拒绝，未写入任何数据 / import rejected, nothing written:", file=sys.stderr)
        for issue in err.issues:
            print(f"  {issue}", file=sys.stderr)
        return 2
    if args.save_mapping:
        store.save_mapping(args.save_mapping, layer, mapping.to_dict(), user="cli")
        print(f"已保存列映射 / column mapping saved: {args.save_mapping}")
    _print_import(counts)
    return 0


def _print_import(counts: dict) -> None:
    """Print what an import did (or, on a dry run, would do)."""
    report = counts.pop("network_report", None)
    plan = counts.pop("plan", {})
    notes = counts.pop("notes", [])
    dry_run = counts.pop("dry_run", False)
    counts.pop("mode", None)
    if dry_run:
        print("试运行，未写入 / dry run, nothing written:")
    for note in notes:
        print(f"  说明 / note: {note}")
    for name, n in counts.items():
        change = plan.get(name, {})
        line = (
            f"{name}: {n} rows (新增 added {change.get('added', 0)}, "
            f"更新 updated {change.get('updated', 0)}"
        )
        if change.get("deleted"):
            shown = ", ".join(change["deleted_ids"][:5])
            more = " …" if change["deleted"] > 5 else ""
            line += f", 删除 deleted {change['deleted']}: {shown}{more}"
        print(line + ")")
    if report is not None:
        print(
            f"道路网 / road network: {report['n_nodes']} nodes, {report['n_edges']} edges, "
            f"{report['total_km']:.1f} km"
        )
        for fragment in report["fragments"]:
            print(
                f"  断开的片段 / disconnected fragment: {fragment['size']} nodes, "
                f"e.g. {', '.join(fragment['node_ids'][:3])}, bbox {fragment['bbox']}"
            )
        for key in ("dangling_edges", "self_loops", "zero_length_edges"):
            if report[key]:
                print(f"  {key}: {len(report[key])} (e.g. {', '.join(report[key][:3])})")


def cmd_export(args: argparse.Namespace) -> int:
    """Write the stored layers to a folder (GeoJSON and CSV) that imports back unchanged."""
    from mapserver.services.exports import export_layers
    from mapserver.store import open_store

    store = open_store(args.database or load_settings().database_url)
    written = export_layers(store, args.folder, layers=args.layers)
    for layer, path in written.items():
        print(f"{layer}: {path}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Upload a status table (CSV/XLSX); all rows or none."""
    from mapserver.services.mapview import MapView
    from mapserver.services.statusio import apply_status_file
    from mapserver.store import User, open_store

    store = open_store(args.database or load_settings().database_url)
    try:
        seq, n = apply_status_file(
            store,
            MapView(store, load_settings().scheme),
            Path(args.file),
            file=Path(args.file).name,
            user=User(args.user, "admin"),
            encoding=args.encoding,
        )
    except ValidationError as err:
        print(
            "状态表被拒绝，未写入任何数据 / status table rejected, nothing written:",
            file=sys.stderr,
        )
        for issue in err.issues:
            print(f"  {issue}", file=sys.stderr)
        return 2
    print(f"{n} rows written, change log at #{seq}")
    return 0


def _table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """A plain text table of ``rows`` with (key, heading) columns."""
    cells = [["" if r.get(k) is None else str(r.get(k)) for k, _ in columns] for r in rows]
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, (_, h) in enumerate(columns)]
    line = "  ".join(h.ljust(w) for (_, h), w in zip(columns, widths, strict=True))
    body = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([line, "-" * len(line), *body])


def cmd_cordon(args: argparse.Namespace) -> int:
    """Print the entrances or the cordon plan of an area and write it as GeoJSON."""
    import json

    from mapserver.services.checkpoints import CheckpointService
    from mapserver.store import open_store

    store = open_store(args.database or load_settings().database_url)
    service = CheckpointService(store)
    polygon = Path(args.polygon).read_text(encoding="utf-8") if args.polygon else None
    area = {"grid_ids": args.grid or None, "polygon": polygon}
    try:
        if args.entrances:
            result = service.entrances(**area, tolerance_m=args.tolerance)
            print(f"出入口 / entrances: {result['total']}  {result['counts']}")
            rows = [f["properties"] for f in result["features"]]
            print(
                _table(
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
                _table(
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
                    _table(
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
        for issue in err.issues:
            print(f"  {issue}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
        print(f"written: {args.out}")
    return 0


def cmd_deliver(args: argparse.Namespace) -> int:
    """Plan a delivery run from the live status, print the routes, write GPX files."""
    from mapserver.services.delivery import DeliveryRequest, DeliveryService
    from mapserver.store import open_store

    settings = load_settings()
    store = open_store(args.database or settings.database_url)
    service = DeliveryService(store, max_stops=settings.max_stops)
    request = DeliveryRequest(
        run=args.run,
        statuses=tuple(args.status or ()),
        vans=args.vans,
        tricycles=args.tricycles,
        trips=args.trips,
        time_limit_s=args.time_limit,
        solver=args.solver,
        grid=args.grid,
    )
    print(f"求解中 / solving ({args.solver}, {args.time_limit:g} s) …")
    try:
        table = None
        if args.orders:
            from mapserver.io.readers import read_table

            table = read_table(Path(args.orders))
        plan_id = service.plan(
            request, user="cli", orders_table=table, orders_file=Path(args.orders or "-").name
        )
    except ValidationError as err:
        for issue in err.issues:
            print(f"  {issue}", file=sys.stderr)
        return 2
    except NotFoundError as err:
        print(f"  {err}", file=sys.stderr)
        return 2
    plan = service.get(plan_id)
    print(f"计划 / plan {plan_id}: {plan['name']}, cost {plan['plan']['cost']}")
    rows = [
        {
            "route": r["route_id"],
            "stops": len(r["stops"]),
            "boxes": r.get("boxes", r["load"]),
            "trips": r.get("trips", 1),
            "km": f"{r['distance_m'] / 1000:.1f}",
            "time": f"{r['start']}–{r['end']}",
        }
        for r in plan["plan"]["routes"]
    ]
    print(
        _table(
            rows,
            [
                ("route", "route"),
                ("stops", "stops"),
                ("boxes", "boxes"),
                ("trips", "trips"),
                ("km", "km"),
                ("time", "time"),
            ],
        )
    )
    if args.gpx_dir:
        out = Path(args.gpx_dir)
        out.mkdir(parents=True, exist_ok=True)
        for r in plan["plan"]["routes"]:
            path = out / f"{plan_id}-{r['route_id']}.gpx"
            path.write_text(service.gpx(plan_id, r["route_id"]), encoding="utf-8")
        print(f"GPX: {out}")
    return 0


def cmd_patrol(args: argparse.Namespace) -> int:
    """Plan a patrol over every street of grids, or every checkpoint; print it, write GPX."""
    from mapserver.services.patrol import PatrolService
    from mapserver.store import open_store

    store = open_store(args.database or load_settings().database_url)
    service = PatrolService(store)
    try:
        if args.checkpoints:
            plan_id = service.checkpoints(grid_ids=args.grid, teams=args.teams, user="cli")
        else:
            plan_id = service.streets(
                args.grid or [], teams=args.teams, shift_h=args.shift, user="cli"
            )
    except ValidationError as err:
        for issue in err.issues:
            print(f"  {issue}", file=sys.stderr)
        return 2
    plan = service.get(plan_id)
    summary = plan["summary"]
    print(f"巡逻计划 / patrol plan {plan_id}: {plan['name']}")
    for key in ("street_km", "deadhead_km", "longest_km", "total_km", "within_shift"):
        if key in summary:
            print(f"  {key}: {summary[key]}")
    if summary.get("unreachable"):
        from mapserver.web.i18n import translate

        lost = summary["unreachable"]
        warn = f"{translate('patrol_unreachable', 'zh')} / {translate('patrol_unreachable', 'en')}"
        print(f"  {warn}: {len(lost)}, {summary['unreachable_km']} km")
        print(_table(lost, [("edge_id", "edge"), ("name", "name"), ("length_m", "m")]))
    print(
        _table(
            summary["team_routes"], [("team", "team"), ("length_km", "km"), ("duration_h", "hours")]
        )
    )
    if args.gpx:
        team = "all" if args.checkpoints else "1"
        Path(args.gpx).write_text(service.gpx(plan_id, team), encoding="utf-8")
        print(f"GPX: {args.gpx}")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    """Start from OpenStreetMap alone: buildings, roads and a proposed grid tree."""
    import geopandas as gpd
    from tqdm import tqdm

    from mapserver.districting.osm_init import ROAD_MARGIN_M, HouseholdAssumptions, init_from_osm
    from mapserver.districting.target import Target
    from mapserver.store import open_store

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
    store = open_store(args.database or load_settings().database_url)
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
    from mapserver.store import open_store

    store = open_store(args.database or load_settings().database_url)
    service = PlannerService(store)
    target = {"minimum": args.min, "maximum": args.max, "measure": args.measure}
    try:
        result = service.propose(args.parent, target=target, keep_current=not args.fresh)
    except ValidationError as err:
        for issue in err.issues:
            print(f"  {issue}", file=sys.stderr)
        return 2
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
        _table(
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


def cmd_closures(args: argparse.Namespace) -> int:
    """Close the roads a closure layer (points, lines, polygons) touches."""
    from mapserver.io.readers import read_vector
    from mapserver.services.closures import close_roads
    from mapserver.store import open_store

    store = open_store(args.database or load_settings().database_url)
    try:
        layer = read_vector(Path(args.file), source_crs=args.crs)
        result = close_roads(store, layer, buffer_m=args.buffer, reopen=args.reopen)
    except (ValidationError, ValueError) as err:
        print(f"  {err}", file=sys.stderr)
        return 2
    print(
        f"封闭道路 / closed edges: {result['closed_before']} -> {result['closed_after']} "
        f"(new {len(result['newly_closed'])}, reopened {len(result['reopened'])})"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="mapserver", description="网格化管理地图服务 / grid map server"
    )
    parser.add_argument(
        "--database", help="SQLAlchemy URL (default: DATABASE_URL or instance/mapserver.sqlite)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="generate the demo district and serve it")
    demo.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply the neighbourhoods (≈125 → 1M households)",
    )
    demo.add_argument("--seed", type=int, default=2020)
    demo.add_argument(
        "--regenerate",
        action="store_true",
        help="generate even if the data exists (written to instance/demo-x<scale>)",
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--workers", type=int, default=default_workers(), help="server processes")
    demo.add_argument(
        "--no-serve", action="store_true", help="load the data, print credentials, exit"
    )
    demo.add_argument(
        "--no-plans", action="store_true", help="skip the demo delivery run and patrols"
    )
    demo.set_defaults(func=cmd_demo)

    serve = sub.add_parser("serve", help="serve an existing database (gunicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=default_workers(), help="server processes")
    serve.add_argument(
        "--threads", type=int, help="threads per process (each open map holds one; default 256)"
    )
    serve.set_defaults(func=cmd_serve)

    imp = sub.add_parser(
        "import",
        help="import grids/buildings/households/status/roads/checkpoints files (merge by id)",
    )
    imp.add_argument("files", nargs="+")
    imp.add_argument("--layer", choices=[*LAYERS, "roads"])
    imp.add_argument(
        "--crs",
        help="source CRS: EPSG code, gcj02, bd09, a .prj file, WKT or PROJ (default: the file's)",
    )
    imp.add_argument(
        "--encoding", help="text encoding of the files, e.g. gbk (default: .cpg, else detected)"
    )
    imp.add_argument(
        "--map",
        help="column mapping field=column,...: grid_id=社区编码,parent_id=街道编码,name=社区",
    )
    imp.add_argument("--level", help="grid level of every row (community, 社区, big, 大网格…)")
    imp.add_argument("--mapping", help="use a saved column mapping by name")
    imp.add_argument("--save-mapping", help="save this column mapping under a name")
    imp.add_argument(
        "--parent-by",
        choices=["code", "containment"],
        help="fill blank parents from higher-level grids by id prefix or by containment",
    )
    imp.add_argument(
        "--repair",
        action="store_true",
        help="repair invalid polygons, cut sibling overlaps (larger grid keeps), report gaps",
    )
    imp.add_argument(
        "--replace",
        action="store_true",
        help="replace each imported layer whole (stored rows not in the files are deleted)",
    )
    imp.add_argument("--dry-run", action="store_true", help="check and report; write nothing")
    imp.set_defaults(func=cmd_import)

    export = sub.add_parser("export", help="write the stored layers to a folder")
    export.add_argument("folder")
    export.add_argument("--layers", nargs="+", choices=list(LAYERS))
    export.set_defaults(func=cmd_export)

    status = sub.add_parser("status", help="upload a status table (CSV/XLSX)")
    status.add_argument("file")
    status.add_argument("--user", default="cli")
    status.add_argument("--encoding", help="text encoding of a CSV (default: detected)")
    status.set_defaults(func=cmd_status)

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

    deliver = sub.add_parser("deliver", help="plan a delivery run from the live status")
    deliver.add_argument("--run", choices=["morning", "afternoon"], default="morning")
    deliver.add_argument(
        "--status",
        action="append",
        help="also supply households in this status (repeatable), e.g. red",
    )
    deliver.add_argument(
        "--orders",
        help="CSV/XLSX order list (building_id or compound_id, "
        "boxes, kind) instead of the status rule",
    )
    deliver.add_argument("--vans", type=int, default=4)
    deliver.add_argument("--tricycles", type=int, default=3)
    deliver.add_argument(
        "--trips", type=int, default=1, help="loads per vehicle, reloading at the depot"
    )
    deliver.add_argument("--time-limit", type=float, default=5.0, help="solver seconds")
    deliver.add_argument("--solver", choices=["pyvrp", "ortools"], default="pyvrp")
    deliver.add_argument(
        "--grid", help="plan only this grid's area (its subtree, with the roads around it)"
    )
    deliver.add_argument("--gpx-dir", help="write one GPX file per route here")
    deliver.set_defaults(func=cmd_deliver)

    patrol = sub.add_parser("patrol", help="patrol every street of grids or every checkpoint")
    patrol.add_argument("--grid", action="append", help="grid id (repeatable)")
    patrol.add_argument("--teams", type=int, default=1)
    patrol.add_argument("--shift", type=float, default=8.0, help="shift length in hours")
    patrol.add_argument("--checkpoints", action="store_true", help="visit every checkpoint")
    patrol.add_argument("--gpx", help="write the first team's (or the tour's) GPX here")
    patrol.set_defaults(func=cmd_patrol)

    closures = sub.add_parser("closures", help="close roads touched by a closure layer")
    closures.add_argument("file", help="GeoJSON/GPKG/SHP.zip/KML of roadblocks or closed areas")
    closures.add_argument("--buffer", type=float, default=5.0, help="metres")
    closures.add_argument("--crs", help="source CRS: EPSG code, gcj02 or bd09")
    closures.add_argument("--reopen", action="store_true", help="open every road first")
    closures.set_defaults(func=cmd_closures)

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

    from mapserver.cli_users import add_parser as add_users_parser

    add_users_parser(sub)

    from mapserver.cli_events import add_parser as add_events_parser
    from mapserver.cli_print import add_parser as add_print_parser
    from mapserver.cli_server import add_parsers as add_server_parsers

    add_events_parser(sub)
    add_print_parser(sub)
    add_server_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mapserver`` command: settings are checked once, before any work."""
    from mapserver.cli_users import legacy_argv

    argv = legacy_argv(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        serving = args.func in (cmd_serve, cmd_demo) and not getattr(args, "no_serve", False)
        problems = check_settings(load_settings(database_url=args.database), serving=serving)
    except SettingsError as err:
        problems = err.problems
    if problems:
        print("设置错误，未启动 / bad settings, nothing done:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
