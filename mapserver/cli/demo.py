"""`mapserver demo`: generate (or read) the demo district, load it with its users
and sample plans, then serve it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mapserver.cli.server import default_workers, scheme_problem, serve_store
from mapserver.config import DEFAULT_DEMO_DIR, INSTANCE_DIR, env_database_url, load_settings
from mapserver.errors import ValidationError

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

    layers = _load_demo_layers(args.scale, seed=args.seed, regenerate=args.regenerate)
    problem = scheme_problem(sorted(set(layers["status"]["status"])), load_settings().scheme)
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
    from mapserver.store import open_store

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
    return serve_store(url, args.host, args.port, workers=args.workers, anonymous_read=True)


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


def add_parser(sub) -> None:
    """The ``demo`` command."""
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
