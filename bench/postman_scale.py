"""Benchmark: postman route on a ~5,000-street area; PyMatching T-join against networkx matching.

Run: python bench/postman_scale.py [--scale 30 --streets 5000 --small 700 --teams 4]
(the networkx side of the comparison takes about 80 s at 700 streets).
Prints figures; asserts nothing. Target: the postman route of a 5,000-street area under 5 s.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mapserver.demo import generate_demo
from mapserver.routing.patrol import split_patrol
from mapserver.routing.postman import (
    _connectors,
    _required,
    _t_join,
    postman_route,
    walk_network,
)


def _timed(label: str, fn, repeat: int = 3):
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    print(f"{label:<58} {best:8.3f} s")
    return out, best


def _area_with(net, edges, streets: int) -> shapely.Geometry:
    """A square (EPSG:4326) round the median node holding about ``streets`` required streets."""
    lon, lat = float(np.median(net.lon)), float(np.median(net.lat))
    lo, hi = 0.0, 1.0
    for _ in range(40):
        half = (lo + hi) / 2
        area = shapely.box(lon - half, lat - half, lon + half, lat + half)
        if len(_required(net, edges, area)) < streets:
            lo = half
        else:
            hi = half
    return shapely.box(lon - hi, lat - hi, lon + hi, lat + hi)


def _networkx_t_join_m(net, steps) -> float:
    """Deadhead metres by networkx min_weight_matching over odd nodes' shortest-path distances."""
    graph = nx.Graph()
    for e in np.argsort(-net.length).tolist():  # the shortest parallel edge is written last
        graph.add_edge(int(net.u[e]), int(net.v[e]), weight=float(net.length[e]))
    deg = np.bincount([x for _, a, b in steps for x in (a, b)], minlength=net.n_nodes)
    odd = np.flatnonzero(deg % 2).tolist()
    pairs = nx.Graph()
    for a in odd:
        dist = nx.single_source_dijkstra_path_length(graph, a, weight="weight")
        pairs.add_weighted_edges_from((a, b, dist[b]) for b in odd if b > a)
    matching = nx.min_weight_matching(pairs)
    return float(sum(pairs[a][b]["weight"] for a, b in matching))


def _t_join_case(net, edges, area) -> tuple[list, int]:
    required = _required(net, edges, area)
    steps = [(int(e), int(net.u[e]), int(net.v[e])) for e in required]
    steps += _connectors(net, required, int(net.u[required[0]]))
    return steps, len(required)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=30.0)
    parser.add_argument("--streets", type=int, default=5000)
    parser.add_argument("--small", type=int, default=700)
    parser.add_argument("--teams", type=int, default=4)
    args = parser.parse_args()

    t = time.perf_counter()
    layers = generate_demo(scale=args.scale)
    nodes, edges = layers["road_nodes"], layers["road_edges"]
    print(f"demo scale {args.scale}: {len(edges):,} road edges in {time.perf_counter() - t:.1f} s")
    net = walk_network(nodes, edges)

    area = _area_with(net, edges, args.streets)
    route, _ = _timed(
        f"postman route, {len(route_streets(net, edges, area)):,} streets (target < 5 s)",
        lambda: postman_route(nodes, edges, area=area),
    )
    print(
        f"  walk {route.length_m / 1000:,.1f} km = streets {route.street_m / 1000:,.1f} km"
        f" + deadhead {route.deadhead_m / 1000:,.1f} km"
        f" ({100 * route.deadhead_m / route.street_m:.1f} %); closed {route.is_closed()},"
        f" covers all {route.covers(route.street_edges)}"
    )
    steps, _ = _t_join_case(net, edges, area)
    _timed("  of which the PyMatching T-join", lambda: _t_join(net, steps))
    plan, _ = _timed(
        f"split among {args.teams} teams",
        lambda: split_patrol(route, args.teams, nodes=nodes, edges=edges),
        repeat=1,
    )
    print(
        f"  longest team {plan.longest_m / 1000:,.1f} km, balance {plan.balance:.3f},"
        f" deadhead {plan.deadhead_m / 1000:,.1f} km"
    )
    for streets in (args.small,):
        small = _area_with(net, edges, streets)
        steps, count = _t_join_case(net, edges, small)
        joined, fast = _timed(
            f"T-join {count:,} streets: PyMatching", lambda s=steps: _t_join(net, s)
        )
        exact, slow = _timed(
            f"T-join {count:,} streets: networkx min_weight_matching",
            lambda s=steps: _networkx_t_join_m(net, s),
            repeat=1,
        )
        cost = float(sum(net.length[e] for e, _, _ in joined))
        print(
            f"  same cost: {abs(cost - exact) < 0.05} ({cost:,.1f} m vs {exact:,.1f} m);"
            f" networkx / PyMatching = {slow / fast:,.0f}x"
        )


def route_streets(net, edges, area) -> list[str]:
    """Ids of the streets an area requires."""
    return list(itertools.chain(net.edge_ids[_required(net, edges, area)]))


if __name__ == "__main__":
    main()
