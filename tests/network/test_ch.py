"""Contraction hierarchies give exactly the distances of plain dijkstra."""

import geopandas as gpd
import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import Point

from mapserver.demo import generate_demo
from mapserver.network import build_graph, distance_matrix
from mapserver.network.ch import build_ch, ch_matrix


def _random_graph(seed: int, n: int, m: int):
    """A drive graph of ``n`` nodes and ``m`` edges: about half one-way, some parallel
    (same ends, other length), some zero-length, a few nodes left isolated."""
    rng = np.random.default_rng(seed)
    nodes = gpd.GeoDataFrame(
        {"node_id": [f"n{i}" for i in range(n)]},
        geometry=[Point(121.2 + rng.random() * 0.01, 31.1 + rng.random() * 0.01) for _ in range(n)],
        crs=4326,
    )
    live = max(2, n - 3)  # the last nodes have no edges
    u = rng.integers(0, live, m)
    v = rng.integers(0, live, m)
    dup = rng.integers(0, m, m // 5)
    u, v = np.concatenate([u, u[dup]]), np.concatenate([v, v[dup]])
    length = np.round(rng.random(len(u)) * 100.0, rng.integers(0, 3))
    length[rng.random(len(u)) < 0.05] = 0.0
    edges = gpd.GeoDataFrame(
        {
            "edge_id": [f"e{i}" for i in range(len(u))],
            "u": [f"n{i}" for i in u],
            "v": [f"n{i}" for i in v],
            "length_m": length,
            "oneway": rng.random(len(u)) < 0.5,
            "closed": False,
            "mode": "drive",
            "road_class": "street",
        },
        geometry=[None] * len(u),
        crs=4326,
    )
    return build_graph(nodes, edges, mode="drive")


def _assert_same(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    fin = np.isfinite(want)
    assert np.allclose(got[fin], want[fin], rtol=1e-9, atol=0.0)


@pytest.mark.parametrize("seed", range(12))
def test_random_directed_graphs_match_dijkstra(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(5, 80))
    graph = _random_graph(seed, n, int(rng.integers(n, 4 * n)))
    ch = build_ch(graph)
    everyone = np.arange(n)
    want = dijkstra(graph.matrix, directed=True)
    got = ch_matrix(ch, everyone, everyone)
    _assert_same(got, want)
    assert np.isinf(want).any()  # one-way arcs and isolated nodes leave pairs unreachable


def test_sources_and_targets_in_any_order_with_repeats():
    graph = _random_graph(7, 40, 90)
    ch = build_ch(graph)
    src, tgt = np.array([3, 3, 0, 39, 12]), np.array([5, 12, 12, 0])
    want = dijkstra(graph.matrix, directed=True, indices=src)[:, tgt]
    _assert_same(ch_matrix(ch, src, tgt), want)
    assert ch_matrix(ch, [], tgt).shape == (0, 4)


@pytest.fixture(scope="module")
def layers():
    return generate_demo(seed=2020, scale=1)


def test_demo_graph_matches_dijkstra(layers):
    for mode in ("drive", "walk"):
        graph = build_graph(layers["road_nodes"], layers["road_edges"], mode=mode)
        ch = build_ch(graph)
        assert (
            ch.rank[ch.up_head] > np.repeat(ch.rank[: graph.n_nodes], np.diff(ch.up_indptr))
        ).all()
        rng = np.random.default_rng(5)
        src = rng.choice(graph.n_nodes, 60, replace=False)
        tgt = np.arange(graph.n_nodes)
        want = dijkstra(graph.matrix, directed=True, indices=src)
        _assert_same(ch_matrix(ch, src, tgt), want)


def test_unknown_index_is_an_error():
    ch = build_ch(_random_graph(1, 10, 20))
    with pytest.raises(ValueError, match="target node index 10 is not in a graph of 10 nodes"):
        ch_matrix(ch, [0], [10])


def test_distance_matrix_method_ch_equals_the_bounded_one(layers):
    graph = build_graph(layers["road_nodes"], layers["road_edges"], mode="drive")
    rng = np.random.default_rng(9)
    ids = [str(i) for i in graph.node_ids[rng.choice(graph.active, 30, replace=False)]]
    bounded = distance_matrix(graph, ids[:12], ids[12:])
    _assert_same(distance_matrix(graph, ids[:12], ids[12:], method="ch"), bounded)
    limited = distance_matrix(graph, ids[:12], ids[12:], method="ch", limit_m=800.0)
    _assert_same(limited, distance_matrix(graph, ids[:12], ids[12:], limit_m=800.0))
    with pytest.raises(ValueError, match="unknown distance matrix method 'fast'"):
        distance_matrix(graph, ids, ids, method="fast")
