"""`mapserver deliver` and `patrol`: delivery runs and patrols, with the API's limits."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mapserver.cli.common import open_store_of, print_problems, table
from mapserver.config import load_settings
from mapserver.errors import NotFoundError, ValidationError


def cmd_deliver(args: argparse.Namespace) -> int:
    """Plan a delivery run from the live status, print the routes, write GPX files. The
    numbers are checked as the API checks them (services/requests.py)."""
    from mapserver.services.delivery import DeliveryService
    from mapserver.services.requests import delivery_request

    settings = load_settings()
    body = {
        "run": args.run,
        "statuses": args.status or [],
        "vans": args.vans,
        "tricycles": args.tricycles,
        "trips": args.trips,
        "time_limit_s": args.time_limit,
        "solver": args.solver,
        "grid": args.grid,
    }
    try:
        request = delivery_request(
            body, max_vehicles=settings.max_vehicles, max_job_time_s=settings.max_job_time_s
        )
    except ValidationError as err:
        return print_problems(err, "参数有误，未规划 / bad parameters, nothing planned:")
    store = open_store_of(args)
    service = DeliveryService(store, max_stops=settings.max_stops)
    print(f"求解中 / solving ({request.solver}, {request.time_limit_s:g} s) …")
    try:
        orders = None
        if args.orders:
            from mapserver.io.readers import read_table

            orders = read_table(Path(args.orders))
        plan_id = service.plan(
            request, user="cli", orders_table=orders, orders_file=Path(args.orders or "-").name
        )
    except ValidationError as err:
        return print_problems(err)
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
        table(
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
    """Plan a patrol over every street of grids, or every checkpoint; print it, write GPX.
    The numbers are checked as the API checks them (services/requests.py)."""
    from mapserver.services.patrol import PatrolService
    from mapserver.services.requests import patrol_request

    body = {
        "kind": "checkpoints" if args.checkpoints else "streets",
        "grids": args.grid or [],
        "teams": args.teams,
        "shift_h": args.shift,
    }
    try:
        patrol = patrol_request(body)
    except ValidationError as err:
        return print_problems(err, "参数有误，未规划 / bad parameters, nothing planned:")
    store = open_store_of(args)
    service = PatrolService(store)
    try:
        if patrol.kind == "checkpoints":
            plan_id = service.checkpoints(
                grid_ids=list(patrol.grids), teams=patrol.teams, user="cli"
            )
        else:
            plan_id = service.streets(
                list(patrol.grids), teams=patrol.teams, shift_h=patrol.shift_h, user="cli"
            )
    except ValidationError as err:
        return print_problems(err)
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
        print(table(lost, [("edge_id", "edge"), ("name", "name"), ("length_m", "m")]))
    print(
        table(
            summary["team_routes"], [("team", "team"), ("length_km", "km"), ("duration_h", "hours")]
        )
    )
    if args.gpx:
        team = "all" if args.checkpoints else "1"
        Path(args.gpx).write_text(service.gpx(plan_id, team), encoding="utf-8")
        print(f"GPX: {args.gpx}")
    return 0


def add_parser(sub) -> None:
    """The ``deliver`` and ``patrol`` commands."""
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
