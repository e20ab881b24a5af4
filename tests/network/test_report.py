import numpy as np
from shapely.geometry import LineString

from mapserver.network import network_report
from mapserver.network.schema import edges_frame, nodes_frame


def _network():
    lon = np.array([121.2, 121.201, 121.202, 121.3, 121.301])
    lat = np.full(5, 31.1)
    nodes = nodes_frame(["a", "b", "c", "far1", "far2"], ["junction"] * 5, lon, lat)
    rows = [
        ("e1", "a", "b"),
        ("e2", "b", "c"),
        ("e3", "far1", "far2"),
        ("e4", "c", "ghost"),
        ("e5", "b", "b"),
    ]
    geometry = [
        LineString([(121.2, 31.1), (121.201, 31.1)]),
        LineString([(121.201, 31.1), (121.202, 31.1)]),
        LineString([(121.3, 31.1), (121.301, 31.1)]),
        LineString([(121.202, 31.1), (121.203, 31.1)]),
        LineString([(121.201, 31.1), (121.2015, 31.1005), (121.201, 31.1)]),
    ]
    cols = {
        "edge_id": [r[0] for r in rows],
        "u": [r[1] for r in rows],
        "v": [r[2] for r in rows],
        "name": [None] * 5,
        "road_class": ["street"] * 5,
        "oneway": [False] * 5,
        "mode": ["drive"] * 5,
        "closed": [False] * 5,
    }
    edges = edges_frame(cols, geometry)
    edges.loc[edges["edge_id"] == "e2", "length_m"] = 0.0
    return nodes, edges


def test_fragments_and_bad_edges_are_reported_not_dropped():
    nodes, edges = _network()
    report = network_report(nodes, edges)
    assert (report.n_nodes, report.n_edges) == (5, 5)
    assert len(report.fragments) == 1
    frag = report.fragments[0]
    assert frag.size == 2 and frag.node_ids == ["far1", "far2"]
    assert frag.bbox == (121.3, 31.1, 121.301, 31.1)
    assert report.dangling_edges == ["e4"]
    assert report.self_loops == ["e5"]
    assert report.zero_length_edges == ["e2"]
    assert not report.is_clean()
    data = report.to_dict()
    assert data["fragments"][0]["bbox"] == [121.3, 31.1, 121.301, 31.1]
    assert data["total_km"] == report.total_km > 0.1


def test_a_clean_network_is_clean():
    nodes, edges = _network()
    edges = edges[edges["edge_id"] == "e1"]
    report = network_report(nodes.iloc[:2], edges)
    assert report.is_clean() and report.to_dict()["is_clean"]
    assert abs(report.total_km - 0.0953) < 0.001
