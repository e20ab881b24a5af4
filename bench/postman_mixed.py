"""Benchmark: mixed one-way/two-way postman, integer program against the exact optimum.

Run: python bench/postman_mixed.py [--cases 200 --large 500,3000 --limit 30]
For seeded random mixed road graphs (5-9 junctions, up to 12 streets, about a
third one-way) prints the gap of the walk length to the shortest closed walk
found by an exhaustive search over (junction, streets walked) states, for the
integer program and for the old flow heuristic beside it, and their times;
then larger cases (demo areas of hundreds to thousands of streets with a tenth of
them one-way). Prints figures; asserts nothing. Target: 0 % mean gap, exact on
every case under the time limit.
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, Point

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mapserver.demo import generate_demo
from mapserver.routing.postman import _required, postman_route, walk_network

_DEG = 0.001


def _at(p: tuple[float, float]) -> tuple[float, float]:
    return (121.2 + p[0] * _DEG, 31.1 + p[1] * _DEG)


def _layers(xy: dict, rows: list[tuple]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    nodes = gpd.GeoDataFrame(
        {"node_id": list(xy), "kind": "junction"},
        geometry=[Point(121.2 + x * _DEG, 31.1 + y * _DEG) for x, y in xy.values()],
        crs="EPSG:4326",
    )
    recs = [
        {
            "edge_id": eid,
            "u": u,
            "v": v,
            "name": eid,
            "road_class": "lane",
            "oneway": one,
            "mode": "drive",
            "length_m": float(length),
            "closed": False,
            "geometry": LineString([_at(xy[u]), _at(xy[v])]),
        }
        for eid, u, v, length, one in rows
    ]
    edges = gpd.GeoDataFrame(pd.DataFrame(recs), geometry="geometry", crs="EPSG:4326")
    return nodes, edges


def _strongly_connected(names: list[str], arcs: list[tuple[str, str]]) -> bool:
    out: dict[str, set] = {n: set() for n in names}
    back: dict[str, set] = {n: set() for n in names}
    for a, b in arcs:
        out[a].add(b)
        back[b].add(a)
    for adj in (out, back):
        seen, todo = {names[0]}, [names[0]]
        while todo:
            for nxt in adj[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        if len(seen) < len(names):
            return False
    return True


def random_case(seed: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A seeded strongly connected mixed road graph."""
    rng = random.Random(seed)
    while True:
        n = rng.randint(5, 9)
        names = [f"n{i}" for i in range(n)]
        xy = {k: (rng.uniform(0, 5), rng.uniform(0, 5)) for k in names}
        pairs = [(names[i], names[rng.randrange(i)]) for i in range(1, n)]
        target = rng.randint(n + 1, 12)
        while len(pairs) < target:
            pairs.append(tuple(rng.sample(names, 2)))
        one = [rng.random() < 0.35 for _ in pairs]
        if all(one) or not any(one):
            continue
        arcs = [
            arc
            for (a, b), o in zip(pairs, one, strict=True)
            for arc in ([(a, b)] if o else [(a, b), (b, a)])
        ]
        if _strongly_connected(names, arcs):
            rows = [
                (f"e{k}", a, b, rng.randint(5, 120), o)
                for k, ((a, b), o) in enumerate(zip(pairs, one, strict=True))
            ]
            return _layers(xy, rows)


def exact_optimum(edges: gpd.GeoDataFrame, base: str) -> float:
    """Shortest closed walk from ``base`` over every edge: Dijkstra over (node, walked set)."""
    rows = list(edges.itertuples(index=False))
    full = (1 << len(rows)) - 1
    moves: dict[str, list] = {}
    for i, r in enumerate(rows):
        moves.setdefault(r.u, []).append((r.v, 1 << i, r.length_m))
        if not r.oneway:
            moves.setdefault(r.v, []).append((r.u, 1 << i, r.length_m))
    dist = {(base, 0): 0.0}
    heap = [(0.0, base, 0)]
    while heap:
        d, node, mask = heapq.heappop(heap)
        if node == base and mask == full:
            return d
        if d > dist[(node, mask)]:
            continue
        for nxt, bit, length in moves.get(node, []):
            state = (nxt, mask | bit)
            if d + length < dist.get(state, np.inf):
                dist[state] = d + length
                heapq.heappush(heap, (d + length, *state))
    return np.inf


def _row(label: str, gaps: list[float], times: list[float], extra: str = "") -> None:
    g = np.array(gaps) * 100
    print(
        f"{label:<22} mean gap {g.mean():6.2f} %  worst {g.max():6.2f} %  "
        f"exact {int((g < 1e-9).sum()):>3}/{len(g)}  "
        f"time mean {1000 * np.mean(times):6.1f} ms  max {1000 * np.max(times):6.1f} ms{extra}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument(
        "--large", default="500,3000", help="streets of the larger cases (comma-separated)"
    )
    parser.add_argument("--limit", type=float, default=30.0, help="time limit (s)")
    parser.add_argument(
        "--realdata",
        default=str(Path(__file__).resolve().parent.parent.parent / "shared" / "realdata"),
        help="folder of real OSM extracts (skipped when absent)",
    )
    args = parser.parse_args()
    if args.cases:
        _random_cases(args)
    _larger_cases(args)
    _real_cases(args)


def _random_cases(args: argparse.Namespace) -> None:
    """Seeded small cases against the exhaustive optimum."""
    ilp_gap, ilp_t, old_gap, old_t, proven, streets = [], [], [], [], 0, []
    for seed in range(args.cases):
        nodes, edges = random_case(seed)
        streets.append(len(edges))
        best = exact_optimum(edges, "n0")
        t = time.perf_counter()
        route = postman_route(
            nodes, edges, respect_oneway=True, base_node="n0", time_limit_s=args.limit
        )
        ilp_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        old = postman_route(nodes, edges, respect_oneway=True, base_node="n0", time_limit_s=0)
        old_t.append(time.perf_counter() - t)
        ilp_gap.append(route.length_m / best - 1)
        old_gap.append(old.length_m / best - 1)
        proven += route.optimal
    print(
        f"{args.cases} random mixed cases, {min(streets)}-{max(streets)} streets, "
        f"time limit {args.limit:g} s"
    )
    _row("integer program", ilp_gap, ilp_t, f"  proven optimal {proven}/{args.cases}")
    _row("old flow heuristic", old_gap, old_t)


def _larger_cases(args: argparse.Namespace) -> None:
    """Demo areas of the given sizes, a tenth of the streets one-way."""
    if not args.large:
        return
    layers = generate_demo(scale=12.0)
    nodes, edges = layers["road_nodes"], layers["road_edges"].copy()
    rng = np.random.default_rng(7)
    edges["oneway"] = rng.random(len(edges)) < 0.1
    net = walk_network(nodes, edges, respect_oneway=True)
    for streets in (int(x) for x in args.large.split(",") if x):
        area = _area_with(net, edges, streets)
        for label, limit in (("integer program", args.limit), ("old flow heuristic", 0.0)):
            t = time.perf_counter()
            route = postman_route(
                nodes,
                edges,
                area=area,
                respect_oneway=True,
                skip_unreachable=True,
                time_limit_s=limit,
            )
            took = time.perf_counter() - t
            one = int(net.oneway[_required(net, edges, area)].sum())
            _report(f"larger case, {label}", route, took, f"{one:,} one-way in the area")


def _report(name: str, route, took: float, what: str) -> None:
    """One line: streets, walk, bound, gap, how it was found, time."""
    print(
        f"{name}: {len(route.street_edges):,} streets ({what}, "
        f"{len(route.unreachable_edges)} unreachable left out): "
        f"walk {route.length_m / 1000:,.2f} km, lower bound {route.lower_bound_m / 1000:,.2f} km, "
        f"gap <= {100 * route.gap:.2f} %, optimal {route.optimal}, {route.method}, {took:.1f} s"
    )


def _real_cases(args: argparse.Namespace) -> None:
    """Every street of the real OSM extracts, their own one-way streets respected."""
    from mapserver.network.osm import read_osm_roads

    for path in sorted(Path(args.realdata).glob("*.osm")):
        nodes, edges = read_osm_roads(path)
        for label, limit in (("integer program", args.limit), ("old flow heuristic", 0.0)):
            t = time.perf_counter()
            route = postman_route(
                nodes, edges, respect_oneway=True, skip_unreachable=True, time_limit_s=limit
            )
            took = time.perf_counter() - t
            _report(f"{path.name}, {label}", route, took, "OSM one-way tags")


def _area_with(net, edges, streets: int) -> shapely.Geometry:
    """A square round the median node holding about ``streets`` required streets."""
    lon, lat = float(np.median(net.lon)), float(np.median(net.lat))
    lo, hi = 0.0, 1.0
    for _ in range(40):
        half = (lo + hi) / 2
        if len(
            _required(net, edges, shapely.box(lon - half, lat - half, lon + half, lat + half))
        ) < (streets):
            lo = half
        else:
            hi = half
    return shapely.box(lon - hi, lat - hi, lon + hi, lat + hi)


if __name__ == "__main__":
    main()
