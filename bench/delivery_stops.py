"""Benchmark: snapping delivery stops to the road network on a large demo district.

Run: python bench/delivery_stops.py [--scale 10] [--keep-gates]
Prints figures; asserts nothing. One food order per building; by default the
buildings' gate nodes are cleared, as on a district started from OSM alone,
so every building is snapped from its footprint to the nearest road node.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mapserver.demo import generate_demo
from mapserver.routing import Order, access_graph, build_stops


def main() -> None:
    """Time ``build_stops`` for one order per building of a scaled demo."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--keep-gates", action="store_true")
    args = parser.parse_args()
    t0 = time.perf_counter()
    demo = generate_demo(scale=args.scale)
    buildings = demo["buildings"]
    if not args.keep_gates:
        buildings = buildings.assign(gate_node=None)
    t1 = time.perf_counter()
    graph = access_graph(demo["road_nodes"], demo["road_edges"], demo["grids"], demo["checkpoints"])
    t2 = time.perf_counter()
    orders = [Order(f"{b}-food", 3, "food", str(b)) for b in buildings["building_id"]]
    stops = build_stops(orders, buildings, demo["grids"], graph=graph, max_boxes=120)
    t3 = time.perf_counter()
    print(
        f"scale {args.scale:g}: {len(buildings):,} buildings, {graph.n_nodes:,} road nodes, "
        f"gates {'kept' if args.keep_gates else 'cleared'}"
    )
    print(f"demo {t1 - t0:.1f} s, access graph {t2 - t1:.1f} s")
    print(f"build_stops: {t3 - t2:.2f} s for {len(orders):,} orders -> {len(stops):,} stops")


if __name__ == "__main__":
    main()
