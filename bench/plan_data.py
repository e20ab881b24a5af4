"""Route plans as JSON data: size and (de)serialisation time on the demo district.

Run: PYTHONPATH=$PWD python bench/plan_data.py [--statuses red,yellow] [--time-limit 2]
"""

from __future__ import annotations

import argparse
import json
import time

from mapserver import routing
from mapserver.demo import generate_demo


def main() -> None:
    """Solve one demo delivery run and print the JSON plan data's size and timings."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--statuses", default="red,yellow,black", help="households to serve")
    parser.add_argument("--time-limit", type=float, default=2.0, help="solver seconds")
    args = parser.parse_args()
    layers = generate_demo(seed=2020, scale=1.0)
    graph = routing.access_graph(
        layers["road_nodes"], layers["road_edges"], layers["grids"], layers["checkpoints"]
    )
    orders = routing.orders_from_status(
        layers["grids"],
        layers["buildings"],
        layers["households"],
        layers["status"],
        rule="status",
        statuses=tuple(args.statuses.split(",")),
    )
    stops = routing.build_stops(
        orders,
        layers["buildings"],
        layers["grids"],
        graph=graph,
        max_boxes=120,
        window=routing.run_window("morning"),
    )
    fleet = routing.default_fleet("N000000", run="morning", vans=4, tricycles=3)
    plan = routing.solve(stops, fleet, graph, time_limit_s=args.time_limit)
    start = time.perf_counter()
    text = json.dumps(routing.plan_to_data(plan), ensure_ascii=False)
    written = time.perf_counter() - start
    start = time.perf_counter()
    back = routing.plan_from_data(json.loads(text))
    read = time.perf_counter() - start
    legs = sum(len(r.visits) + 1 for r in plan.routes)
    print(f"orders {len(orders)}, stops {len(plan.stops)}, routes {len(plan.routes)}, legs {legs}")
    print(f"plan data: {len(text.encode()) / 1024:.0f} KiB of JSON")
    print(f"to JSON {written * 1000:.1f} ms, from JSON {read * 1000:.1f} ms, exact: {back == plan}")


if __name__ == "__main__":
    main()
