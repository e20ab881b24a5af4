"""Benchmark: snapping delivery stops to the road network on a large demo district.

Run: python bench/delivery_stops.py [--scale 10] [--keep-gates] [--database URL]
Prints figures; asserts nothing. One food order per building; by default the
buildings' gate nodes are cleared, as on a district started from OSM alone,
so every building is snapped from its footprint to the nearest road node.
``--database`` reads the layers from a store instead of generating the demo
(e.g. one made by ``mapserver init --osm``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mapserver.demo import generate_demo
from mapserver.routing import Order, access_graph, build_stops


def _stored(url: str) -> dict:
    """The layers of a store."""
    from mapserver.store import open_store

    store = open_store(url)
    try:
        return {
            "grids": store.read_grids(),
            "buildings": store.read_buildings(),
            "road_nodes": store.read_layer("road_nodes"),
            "road_edges": store.read_layer("road_edges"),
            "checkpoints": store.read_layer("checkpoints"),
        }
    finally:
        store.dispose()


def main() -> None:
    """Time ``build_stops`` for one order per building of a scaled demo."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--keep-gates", action="store_true")
    parser.add_argument("--database", help="read the layers from this store URL")
    args = parser.parse_args()
    t0 = time.perf_counter()
    demo = _stored(args.database) if args.database else generate_demo(scale=args.scale)
    buildings = demo["buildings"]
    if not args.keep_gates:
        buildings = buildings.assign(gate_node=None)
    t1 = time.perf_counter()
    graph = access_graph(demo["road_nodes"], demo["road_edges"], demo["grids"], demo["checkpoints"])
    t2 = time.perf_counter()
    orders = [Order(f"{b}-food", 3, "food", str(b)) for b in buildings["building_id"]]
    stops = build_stops(orders, buildings, demo["grids"], graph=graph, max_boxes=120)
    t3 = time.perf_counter()
    where = args.database or f"demo scale {args.scale:g}"
    print(
        f"{where}: {len(buildings):,} buildings, {graph.n_nodes:,} road nodes, "
        f"gates {'kept' if args.keep_gates else 'cleared'}"
    )
    print(f"layers {t1 - t0:.1f} s, access graph {t2 - t1:.1f} s")
    print(f"build_stops: {t3 - t2:.2f} s for {len(orders):,} orders -> {len(stops):,} stops")


if __name__ == "__main__":
    main()
