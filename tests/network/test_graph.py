import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from shapely.geometry import LineString, Point

from mapserver.demo import generate_demo
from mapserver.network import apply_closures, build_graph, roads_from_lines
from mapserver.network.schema import edges_frame, nodes_frame

D = 0.001
X0, Y0 = 121.2, 31.1


@pytest.fixture(scope="module")
def demo():
    return generate_demo(seed=2020, scale=1)


@pytest.fixture
def square():
    """Four nodes on a square of side ~100 m; A->B one way, a ferry, a closed lane."""
    lon = np.array([X0, X0 + D, X0 + D, X0])
    lat = np.array([Y0, Y0, Y0 + D, Y0 + D])
    nodes = nodes_frame(["A", "B", "C", "E"], ["junction"] * 4, lon, lat)
    pt = dict(zip("ABCE", zip(lon, lat, strict=True), strict=True))
    rows = [  # id, u, v, class, oneway, mode, closed
        ("ab", "A", "B", "street", True, "drive", False),
        ("bc", "B", "C", "street", False, "drive", False),
        ("ce", "C", "E", "path", False, "walk", False),
        ("ea", "E", "A", "water", False, "water", False),
        ("ac", "A", "C", "lane", False, "drive", True),
        ("ab2", "A", "B", "street", False, None, False),  # parallel, blank mode, longer
    ]
    keys = ["edge_id", "u", "v", "road_class", "oneway", "mode", "closed"]
    cols = {k: [r[i] for r in rows] for i, k in enumerate(keys)}
    cols["name"] = [None] * len(rows)
    geometry = [LineString([pt[r[1]], pt[r[2]]]) for r in rows]
    edges = edges_frame(cols, geometry)
    edges.loc[edges["edge_id"] == "ab2", "length_m"] = 500.0
    return nodes, edges


def test_drive_graph_follows_one_way_and_keeps_the_shortest_parallel_arc(square):
    nodes, edges = square
    g = build_graph(nodes, edges, mode="drive")
    a, b, c = (g.index[k] for k in "ABC")
    assert g.matrix[a, b] == pytest.approx(edges.set_index("edge_id").loc["ab", "length_m"])
    assert g.matrix[b, a] == pytest.approx(500.0)  # only the two-way parallel edge goes back
    assert g.matrix[a, c] == 0  # closed lane left out
    assert g.matrix[g.index["C"], g.index["E"]] == 0  # a path is not driven
    assert g.matrix[b, c] > 0 and g.matrix[c, b] > 0


def test_walk_ignores_one_way_and_water_graph_adds_ferries(square):
    nodes, edges = square
    walk = build_graph(nodes, edges, mode="walk")
    a, b, e = (walk.index[k] for k in "ABE")
    assert walk.matrix[b, a] == pytest.approx(edges.set_index("edge_id").loc["ab", "length_m"])
    assert walk.matrix[e, a] == 0
    water = build_graph(nodes, edges, mode="water")
    assert water.matrix[e, a] > 0 and water.matrix[a, e] > 0
    closed = build_graph(nodes, edges, mode="drive", include_closed=True)
    assert closed.matrix[a, closed.index["C"]] > 0


def test_networkx_and_igraph_exports_carry_every_arc(square):
    nodes, edges = square
    g = build_graph(nodes, edges, mode="drive")
    graph = g.to_networkx()
    assert isinstance(graph, nx.MultiDiGraph)
    assert graph.number_of_edges("A", "B") == 2  # parallel arcs kept
    assert {d["edge_id"] for d in graph["B"]["A"].values()} == {"ab2"}
    ig = g.to_igraph()
    assert ig.is_directed() and ig.ecount() == graph.number_of_edges() == len(g.arc_u)
    assert sorted(ig.es["edge_id"]) == sorted(d["edge_id"] for *_, d in graph.edges(data=True))


def test_unknown_node_and_unknown_mode_are_refused(square):
    nodes, edges = square
    with pytest.raises(ValueError, match="'bike'"):
        build_graph(nodes, edges, mode="bike")
    with pytest.raises(ValueError, match="ab"):
        build_graph(nodes.iloc[1:], edges)


def test_closures_close_the_edges_they_touch():
    lines = gpd.GeoDataFrame(
        geometry=[
            LineString([(X0, Y0), (X0 + 2 * D, Y0)]),
            LineString([(X0 + D, Y0 - D), (X0 + D, Y0 + D)]),
        ],
        crs=4326,
    )
    nodes, edges = roads_from_lines(lines, file="roads.geojson")
    # a roadblock 3 m north of the east-west road, far from the junction
    block = gpd.GeoDataFrame(geometry=[Point(X0 + 1.5 * D, Y0 + 0.000027)], crs=4326)
    closed = apply_closures(edges, block, buffer_m=5)
    assert list(closed.loc[closed["closed"], "edge_id"]) == ["L1:1"]
    assert not edges["closed"].any()  # input untouched
    assert not apply_closures(edges, block, buffer_m=1)["closed"].any()
    g = build_graph(nodes, closed)
    assert len(g.arc_u) == 2 * (len(edges) - 1)


def test_demo_roads_build_one_connected_drive_graph(demo):
    g = build_graph(demo["road_nodes"], demo["road_edges"], mode="drive")
    active = g.active
    assert len(active) > 300
    assert len(np.unique(g.component[active])) == 1
    # strongly connected too: every driven node can reach every other
    from scipy.sparse.csgraph import connected_components

    sub = g.matrix[active][:, active]
    n_strong, _ = connected_components(sub, directed=True, connection="strong")
    assert n_strong == 1
