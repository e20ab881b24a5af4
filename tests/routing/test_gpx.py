"""Tests for the driver's GPX file and printable manifest."""

from __future__ import annotations

from datetime import date
from xml.etree import ElementTree as ET

import numpy as np
import pytest

from mapserver.network import build_graph
from mapserver.network.osm import read_osm_roads
from mapserver.routing.fleet import VehicleType
from mapserver.routing.gpx import manifest_rows, manifest_text, route_gpx
from mapserver.routing.stops import Drop, Stop
from mapserver.routing.vrp import solve
from tests.routing.conftest import assert_track_follows, curved_lattice, track_length_m

NS = {"g": "http://www.topografix.com/GPX/1/1"}


@pytest.fixture
def route(lattice):
    graph = build_graph(lattice["nodes"], lattice["edges"])
    stops = [
        Stop(
            "封控K",
            "n2_2",
            7,
            (
                Drop("in-1", 5, "food", "o1", "封控1号楼"),
                Drop("in-2", 2, "medicine", "o2", "封控2号楼"),
            ),
            True,
            60,
            None,
            "封控小区门口",
        ),
        Stop("out-1", "n4_1", 3, (Drop("out-1", 3, "food", "o3", "外1号楼"),), False, 60),
    ]
    fleet = [VehicleType("van", 20, 1, 18.0, (7 * 3600, 11 * 3600), None, "n0_0")]
    plan = solve(stops, fleet, graph, time_limit_s=0.2)
    return plan.routes[0], lattice


def test_gpx_parses_with_waypoints_and_a_road_track(route):
    r, lattice = route
    text = route_gpx(r, edges=lattice["edges"], day=date(2022, 4, 5))
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "{http://www.topografix.com/GPX/1/1}gpx" and root.get("version") == "1.1"
    wpts = root.findall("g:wpt", NS)
    assert [w.find("g:name", NS).text.split(". ", 1)[1] for w in wpts] == [
        v.stop.name or v.stop.stop_id for v in r.visits
    ]
    assert "封控1号楼 5箱食品" in "".join(w.find("g:desc", NS).text for w in wpts)
    eta = r.visits[0].arrival_s  # 07:0x China time (UTC+8) is 23:0x UTC the day before
    want = f"2022-04-04T{eta // 3600 - 8 + 24:02d}:{eta % 3600 // 60:02d}:{eta % 60:02d}Z"
    assert wpts[0].find("g:time", NS).text == want
    pts = root.findall("g:trk/g:trkseg/g:trkpt", NS)
    track = np.array([(float(p.get("lon")), float(p.get("lat"))) for p in pts])
    nodes = lattice["nodes"].set_index("node_id").geometry
    path = [n for k, n in enumerate(r.path_nodes) if k == 0 or n != r.path_nodes[k - 1]]
    expected = np.array([(nodes[n].x, nodes[n].y) for n in path])
    assert track.shape == expected.shape and np.allclose(track, expected, atol=1e-6)


def test_gpx_without_edges_joins_the_nodes(route):
    r, _ = route
    root = ET.fromstring(route_gpx(r).encode("utf-8"))
    assert len(root.findall("g:trk/g:trkseg/g:trkpt", NS)) >= len(set(r.path_nodes))
    assert root.find("g:wpt/g:time", NS) is None


def test_manifest_lists_every_drop_in_order(route):
    r, _ = route
    rows = manifest_rows(r)
    assert [row["order_id"] for row in rows] == [d.order_id for v in r.visits for d in v.stop.drops]
    assert sum(row["boxes"] for row in rows) == r.load == 10
    sealed = [row for row in rows if row["sealed"]]
    assert {row["building_id"] for row in sealed} == {"in-1", "in-2"}
    assert all(len(row["eta"]) == 5 and row["eta"] >= "07:00" for row in rows)
    text = manifest_text(r)
    assert text.count("\n") == len(rows) + 2 and "门口交接" in text and "药品" in text


def _track(text: str) -> list[np.ndarray]:
    """Each track of a GPX text as an (N, 2) array of (lon, lat)."""
    root = ET.fromstring(text.encode("utf-8"))
    points = [trk.findall("g:trkseg/g:trkpt", NS) for trk in root.findall("g:trk", NS)]
    return [np.array([(float(p.get("lon")), float(p.get("lat"))) for p in pts]) for pts in points]


def test_gpx_follows_curved_roads_in_the_direction_driven():
    lattice = curved_lattice(4)
    graph = build_graph(lattice["nodes"], lattice["edges"])
    stops = [
        Stop("a", "n3_1", 4, (Drop("a", 4, "food", "oa", "A"),), False, 60),
        Stop("b", "n1_3", 4, (Drop("b", 4, "food", "ob", "B"),), False, 60),
    ]
    fleet = [VehicleType("van", 20, 1, 18.0, (7 * 3600, 11 * 3600), None, "n0_0")]
    (route,) = solve(stops, fleet, graph, time_limit_s=0.2).routes
    (track,) = _track(route_gpx(route, edges=lattice["edges"]))
    steps = [
        (e, a, b)
        for leg in route.legs
        for a, e, b in zip(leg.nodes, leg.edges, leg.nodes[1:], strict=False)
    ]
    assert len(steps) >= 8
    assert len(track) == 3 * len(steps) + 1  # every vertex once
    assert_track_follows(track, steps, lattice["edges"], lattice["nodes"])
    assert track_length_m(track) == pytest.approx(route.distance_m, rel=2e-3)


def test_gpx_on_real_osm_roads_measures_the_route(realdata):
    nodes, edges = read_osm_roads(realdata / "beijing-wangjing.osm")
    graph = build_graph(nodes, edges)
    main = graph.active[graph.component[graph.active] == np.bincount(graph.component).argmax()]
    picks = [str(graph.node_ids[i]) for i in main[:: max(len(main) // 5, 1)][:6]]
    stops = [
        Stop(f"s{k}", n, 2, (Drop(None, 2, "food", f"o{k}", n),), False, 60)
        for k, n in enumerate(picks[1:])
    ]
    fleet = [VehicleType("van", 20, 1, 30.0, (7 * 3600, 11 * 3600), None, picks[0])]
    (route,) = solve(stops, fleet, graph, time_limit_s=0.3).routes
    (track,) = _track(route_gpx(route, edges=edges))
    assert len(track) > len(route.path_nodes)  # the roads' own vertices are in
    assert track_length_m(track) == pytest.approx(route.distance_m, rel=5e-3)
    steps = [
        (e, a, b)
        for leg in route.legs
        for a, e, b in zip(leg.nodes, leg.edges, leg.nodes[1:], strict=False)
    ]
    assert_track_follows(track, steps, edges, nodes)
