"""Benchmark: entrances, one cordon and the trade-off curve on a city-scale road graph.

Run: python bench/cordon_scale.py [--scale 220 --outward 300 --ratio-outward 1000]
Prints figures; asserts nothing. Scale 220 gives about 106,000 road edges.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mapserver.coverage._graph import SINK, SOURCE
from mapserver.coverage._sides import transformer
from mapserver.coverage.cordon import DEFAULT_COSTS, _problem, plan_cordon, tradeoff_curve
from mapserver.coverage.entrances import find_entrances
from mapserver.crs import metric_crs
from mapserver.demo import generate_demo


def _square_km(nodes) -> shapely.Geometry:
    """A 1 km x 1 km square (EPSG:4326) centred on the median road node."""
    lon = float(np.median(shapely.get_x(nodes.geometry.to_numpy())))
    lat = float(np.median(shapely.get_y(nodes.geometry.to_numpy())))
    crs = metric_crs((lon, lat, lon, lat))
    x, y = transformer("EPSG:4326", crs).transform(lon, lat)
    back = transformer(crs, "EPSG:4326")
    square = shapely.box(x - 500.0, y - 500.0, x + 500.0, y + 500.0)
    return shapely.transform(square, lambda c: np.column_stack(back.transform(c[:, 0], c[:, 1])))


def _timed(label: str, fn, repeat: int = 3):
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    print(f"{label:<48} {best:8.3f} s")
    return out, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=220.0)
    parser.add_argument("--outward", type=float, default=300.0)
    parser.add_argument("--ratio-outward", type=float, default=1000.0)
    args = parser.parse_args()

    t = time.perf_counter()
    layers = generate_demo(scale=args.scale)
    nodes, edges, buildings = layers["road_nodes"], layers["road_edges"], layers["buildings"]
    households = int(buildings["households"].sum())
    took = time.perf_counter() - t
    print(f"demo scale {args.scale:g}: {len(nodes):,} nodes, {len(edges):,} edges, "
          f"{households:,} households ({took:.1f} s)")  # fmt: skip
    area = _square_km(nodes)

    found, _ = _timed("entrances of a 1 km2 area", lambda: find_entrances(area, nodes, edges))
    print(f"  {len(found.entrances)} entrances, {found.inside_nodes} nodes inside")
    fixed, _ = _timed("cordon on the boundary", lambda: plan_cordon(area, nodes, edges))
    print(f"  staffed {fixed.staffed}, barriers {fixed.barriers}, cost {fixed.total_cost:.1f}")
    moved, _ = _timed(
        f"cordon moved up to {args.outward:g} m out (price 0)",
        lambda: plan_cordon(
            area, nodes, edges, max_outward_m=args.outward, buildings=buildings
        ),
    )  # fmt: skip
    print(f"  staffed {moved.staffed}, barriers {moved.barriers}, cost {moved.total_cost:.1f}, "
          f"extra households {moved.extra_households}")  # fmt: skip
    curve, _ = _timed(
        f"trade-off curve (exact, {args.outward:g} m)",
        lambda: tradeoff_curve(
            area, nodes, edges, max_outward_m=args.outward, buildings=buildings
        ),
        repeat=1,
    )  # fmt: skip
    for p in curve:
        print(f"  price {p.household_cost:10.5f}  staffed {p.staffed:4d}  "
              f"barriers {p.barriers:4d}  cost {p.total_cost:8.1f}  "
              f"extra households {p.extra_households:6d}")  # fmt: skip

    problem = _problem(
        area, nodes, edges, checkpoints=None, costs=DEFAULT_COSTS,
        max_outward_m=args.ratio_outward, outward_grids=None, grids=None,
        buildings=buildings, keep_existing=True,
    )  # fmt: skip
    cut = problem.cut
    cap = (cut.base + 0.01 * cut.households).tolist()
    print(f"min-cut instance ({args.ratio_outward:g} m out): {cut.graph.vcount():,} vertices, "
          f"{cut.graph.ecount():,} edges")  # fmt: skip
    _, t_ig = _timed("  igraph maxflow", lambda: cut.graph.maxflow(SOURCE, SINK, capacity=cap))
    graph = nx.Graph()
    for (a, b), c in zip(cut.ends.tolist(), cap, strict=True):
        if graph.has_edge(a, b):
            graph[a][b]["capacity"] += c
        else:
            graph.add_edge(a, b, capacity=c)
    _, t_nx = _timed("  networkx minimum_cut", lambda: nx.minimum_cut(graph, SOURCE, SINK), 1)
    print(f"  networkx / igraph time ratio: {t_nx / t_ig:.0f}x")


if __name__ == "__main__":
    main()
