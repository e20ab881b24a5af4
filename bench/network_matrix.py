"""Benchmark: 1,000 x 1,000 road distance matrix on a graph of 100,000+ edges.

Run: python bench/network_matrix.py [--scale 210 --stops 1000 --box-km 3]
Prints figures; asserts nothing. Compares ``network.distance_matrix`` (searches
bounded around the stops, widened only where they miss) and bucket queries on a
contraction hierarchy (``network.ch``, built once, time printed) with plain scipy
dijkstra over the whole graph, for stops inside one sub-district-sized box and
for stops spread over the whole graph; "identical" compares every cell.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.sparse.csgraph import dijkstra

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mapserver.demo import generate_demo
from mapserver.network import build_graph, distance_matrix
from mapserver.network.ch import build_ch, ch_matrix


def _plain(graph, src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
    """Whole-graph dijkstra from every source, in chunks to bound memory."""
    out = np.empty((len(src), len(tgt)))
    for start in range(0, len(src), 100):
        block = src[start : start + 100]
        out[start : start + len(block)] = dijkstra(graph.matrix, indices=block)[:, tgt]
    return out


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal to rtol 1e-9 with ``inf`` in the same cells."""
    fin = np.isfinite(b)
    return bool((np.isinf(a) == ~fin).all() and np.allclose(a[fin], b[fin], rtol=1e-9, atol=0))


def _run(graph, ch, label: str, src: np.ndarray, tgt: np.ndarray) -> None:
    ids = graph.node_ids
    t = time.perf_counter()
    ours = distance_matrix(graph, list(ids[src]), list(ids[tgt]))
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    hier = ch_matrix(ch, src, tgt)
    t_ch = time.perf_counter() - t
    t = time.perf_counter()
    plain = _plain(graph, src, tgt)
    t_plain = time.perf_counter() - t
    print(
        f"{label:<28} scipy whole graph {t_plain:7.2f} s\n"
        f"{'':<28} bounded {t_ours:7.2f} s  ratio {t_plain / t_ours:6.1f}x  "
        f"identical: {_same(ours, plain)}\n"
        f"{'':<28} CH      {t_ch:7.2f} s  ratio {t_plain / t_ch:6.1f}x  "
        f"identical: {_same(hier, plain)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=210.0, help="demo scale (210: ~100k edges)")
    parser.add_argument("--stops", type=int, default=1000)
    parser.add_argument("--box-km", type=float, default=3.0, help="side of the clustered box")
    args = parser.parse_args()
    t = time.perf_counter()
    layers = generate_demo(scale=args.scale)
    t_demo = time.perf_counter() - t
    t = time.perf_counter()
    graph = build_graph(layers["road_nodes"], layers["road_edges"], mode="walk")
    t_graph = time.perf_counter() - t
    print(
        f"demo scale {args.scale}: {len(layers['road_edges']):,} edges, {graph.n_nodes:,} nodes, "
        f"{len(graph.arc_u):,} walk arcs (demo {t_demo:.1f} s, build_graph {t_graph:.2f} s)"
    )
    t = time.perf_counter()
    small = generate_demo(scale=1)
    tiny = build_graph(small["road_nodes"], small["road_edges"], mode="walk")
    ch_matrix(build_ch(tiny), [0], [0])
    t_jit = time.perf_counter() - t
    t = time.perf_counter()
    ch = build_ch(graph)
    print(
        f"CH build {time.perf_counter() - t:.2f} s, {ch.n_shortcuts:,} shortcuts "
        f"(numba compile/warm-up on a small graph first: {t_jit:.1f} s)"
    )
    rng = np.random.default_rng(7)
    active = graph.active
    cx, cy = np.median(graph.x[active]), np.median(graph.y[active])
    half = args.box_km * 500.0
    inside = active[(np.abs(graph.x[active] - cx) < half) & (np.abs(graph.y[active] - cy) < half)]
    n = min(args.stops, len(inside))
    src, tgt = rng.choice(inside, n, replace=False), rng.choice(inside, n, replace=False)
    _run(graph, ch, f"{n} x {n} in {args.box_km:g} km box", src, tgt)
    print(f"graph extent {np.ptp(graph.x) / 1000:.1f} x {np.ptp(graph.y) / 1000:.1f} km")
    src, tgt = (
        rng.choice(active, args.stops, replace=False),
        rng.choice(active, args.stops, replace=False),
    )
    _run(graph, ch, f"{args.stops} x {args.stops} whole graph", src, tgt)


if __name__ == "__main__":
    main()
