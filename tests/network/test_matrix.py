import networkx as nx
import numpy as np
import pytest

from mapserver.demo import generate_demo
from mapserver.network import build_graph, distance_matrix, nearest_node, shortest_path
from mapserver.network import matrix as matrix_module


@pytest.fixture(scope="module")
def demo_graph():
    layers = generate_demo(seed=2020, scale=1)
    return build_graph(layers["road_nodes"], layers["road_edges"], mode="drive")


def _stops(graph, n, seed):
    rng = np.random.default_rng(seed)
    return [str(graph.node_ids[i]) for i in rng.choice(graph.active, size=n, replace=False)]


def test_matrix_equals_networkx_shortest_paths(demo_graph):
    nxg = nx.DiGraph()
    for u, v, w in zip(demo_graph.arc_u, demo_graph.arc_v, demo_graph.arc_length, strict=True):
        a, b = demo_graph.node_ids[u], demo_graph.node_ids[v]
        if not nxg.has_edge(a, b) or nxg[a][b]["length"] > w:
            nxg.add_edge(a, b, length=float(w))
    sources, targets = _stops(demo_graph, 12, 1), _stops(demo_graph, 15, 2)
    got = distance_matrix(demo_graph, sources, targets)
    for i, s in enumerate(sources):
        lengths = nx.single_source_dijkstra_path_length(nxg, s, weight="length")
        want = [lengths.get(t, np.inf) for t in targets]
        np.testing.assert_allclose(got[i], want, rtol=1e-9)


def test_bounded_search_falls_back_to_a_full_one(demo_graph, monkeypatch):
    sources, targets = _stops(demo_graph, 5, 3), _stops(demo_graph, 5, 4)
    full = distance_matrix(demo_graph, sources, targets, limit_m=np.inf)
    monkeypatch.setattr(matrix_module, "DETOUR_FACTOR", 0.01)  # bound far too tight
    monkeypatch.setattr(matrix_module, "MIN_BOUND_M", 1.0)
    np.testing.assert_allclose(distance_matrix(demo_graph, sources, targets), full)
    limited = distance_matrix(demo_graph, sources, targets, limit_m=300.0)
    assert np.all(np.isinf(limited[full > 300]))
    np.testing.assert_allclose(limited[full <= 300], full[full <= 300])


def test_shortest_path_walks_its_edges(demo_graph):
    source, target = _stops(demo_graph, 2, 5)
    nodes, edges, metres = shortest_path(demo_graph, source, target)
    assert nodes[0] == source and nodes[-1] == target and len(edges) == len(nodes) - 1
    length = dict(zip(demo_graph.arc_edge, demo_graph.arc_length, strict=True))
    assert sum(length[e] for e in edges) == pytest.approx(metres)
    assert metres == pytest.approx(distance_matrix(demo_graph, [source], [target])[0, 0])
    assert shortest_path(demo_graph, source, source) == ([source], [], 0.0)


def test_unknown_nodes_are_named(demo_graph):
    with pytest.raises(ValueError, match="'nowhere'"):
        distance_matrix(demo_graph, ["nowhere"], [demo_graph.node_ids[0]])


def test_nearest_node_is_a_driven_node_near_the_point(demo_graph):
    i = demo_graph.active[10]
    found = nearest_node(demo_graph, demo_graph.lon[i] + 1e-6, demo_graph.lat[i])
    assert found == demo_graph.node_ids[i]
