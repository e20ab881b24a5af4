"""Tests for stops (handover points, drop lists) and the access graph of sealed areas."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from mapserver.network import build_graph
from mapserver.routing.fleet import VehicleType
from mapserver.routing.gpx import manifest_rows, manifest_text
from mapserver.routing.orders import Order
from mapserver.routing.stops import access_graph, build_stops, sealed_entrances
from mapserver.routing.vrp import solve
from tests.routing.conftest import box_lonlat, to_lonlat


def sealed_district(lattice: dict, *, staffed: bool) -> dict:
    """The lattice with its middle 3 x 3 nodes sealed; one staffed checkpoint on the west road."""
    nodes, edges = lattice["nodes"], lattice["edges"]
    whole = box_lonlat(-50, -50, 450, 450)
    inner = box_lonlat(50, 50, 350, 350)
    grids = gpd.GeoDataFrame(
        {
            "grid_id": ["G", "G-S", "G-O"],
            "parent_id": [None, "G", "G"],
            "level": ["community", "micro", "micro"],
            "name": ["社区", "封控", "其他"],
            "area_class": ["none", "sealed", "precaution"],
        },
        geometry=[whole, inner, whole.difference(inner)],
        crs="EPSG:4326",
    )
    buildings = gpd.GeoDataFrame(
        {
            "building_id": ["in-1", "in-2", "out-1", "out-2"],
            "grid_id": ["G-S", "G-S", "G-O", "G-O"],
            "name": ["封控1号楼", "封控2号楼", "外1号楼", "外2号楼"],
            "address": ["", "", "", ""],
            "compound_id": ["K", "K", None, None],
            "gate_node": ["n2_2", "n3_2", "n0_4", "n4_4"],
        },
        geometry=shapely.points(to_lonlat([[200, 210], [300, 210], [0, 410], [400, 410]])),
        crs="EPSG:4326",
    )
    checkpoints = gpd.GeoDataFrame(
        {
            "checkpoint_id": ["CP1"],
            "name": ["西道口"],
            "node_id": ["n0_2"],
            "kind": ["land"],
            "staffed": [staffed],
            "shifts": [3],
        },
        geometry=shapely.points(to_lonlat([[50, 200]])),
        crs="EPSG:4326",
    )
    return {
        "nodes": nodes,
        "edges": edges,
        "grids": grids,
        "buildings": buildings,
        "checkpoints": checkpoints,
    }


def test_access_graph_keeps_only_staffed_entrances(lattice):
    d = sealed_district(lattice, staffed=True)
    lists = sealed_entrances(d["nodes"], d["edges"], d["grids"], d["checkpoints"])
    entrances = lists["G-S"].entrances
    assert len(entrances) == 12
    staffed = {e.edge_id for e in entrances if e.state == "staffed"}
    assert staffed == {"e0_2_h"}
    graph = access_graph(d["nodes"], d["edges"], d["grids"], d["checkpoints"])
    kept = set(graph.arc_edge)
    assert "e0_2_h" in kept
    assert not ({e.edge_id for e in entrances} - staffed) & kept
    assert "e0_0_h" in kept  # roads outside stay


def test_sealed_compound_is_one_stop_at_its_gate(lattice):
    d = sealed_district(lattice, staffed=True)
    graph = access_graph(d["nodes"], d["edges"], d["grids"], d["checkpoints"])
    orders = [
        Order("o1", 5, "food", "in-1"),
        Order("o2", 4, "food", "in-2"),
        Order("o3", 1, "medicine", "in-2"),
        Order("o4", 2, "food", "out-1"),
    ]
    stops = build_stops(
        orders,
        d["buildings"],
        d["grids"],
        graph=graph,
        service_s=60,
        service_per_box_s=10,
        window=(100, 200),
    )
    by_id = {s.stop_id: s for s in stops}
    assert set(by_id) == {"K", "out-1"}
    gate = by_id["K"]
    assert gate.sealed and gate.node_id == "n2_2" and gate.demand == 10
    assert [(d.building_id, d.boxes, d.kind) for d in gate.drops] == [
        ("in-1", 5, "food"),
        ("in-2", 4, "food"),
        ("in-2", 1, "medicine"),
    ]
    assert gate.service_s == 60 + 10 * 10 and gate.window == (100, 200)
    assert not by_id["out-1"].sealed and by_id["out-1"].node_id == "n0_4"


def test_big_stop_splits_into_whole_orders(lattice):
    d = sealed_district(lattice, staffed=True)
    graph = access_graph(d["nodes"], d["edges"], d["grids"], d["checkpoints"])
    orders = [
        Order(f"o{k}", b, "food", "in-1" if k % 2 else "in-2")
        for k, b in enumerate([7, 6, 5, 4, 3, 2])
    ]
    stops = build_stops(orders, d["buildings"], d["grids"], graph=graph, max_boxes=10)
    assert all(s.stop_id.startswith("K/") and s.demand <= 10 for s in stops)
    served = sorted(o for s in stops for o in s.order_ids)
    assert served == sorted(o.order_id for o in orders)
    assert sum(s.demand for s in stops) == 27 and len(stops) == 3


def test_gate_off_the_drive_roads_snaps_to_the_nearest_road_node(lattice):
    d = sealed_district(lattice, staffed=True)
    edges = d["edges"].copy()
    edges.loc[edges["edge_id"].isin(["e0_3_v", "e0_4_h"]), "mode"] = "walk"  # n0_4 walk-only
    graph = build_graph(d["nodes"], edges, mode="drive")
    stops = build_stops([Order("o", 1, "food", "out-1")], d["buildings"], d["grids"], graph=graph)
    assert stops[0].node_id != "n0_4"
    assert stops[0].node_id in {"n0_3", "n1_4"}


def test_unknown_building_is_named(lattice):
    d = sealed_district(lattice, staffed=True)
    graph = build_graph(d["nodes"], d["edges"])
    with pytest.raises(ValueError, match=r"order 'x'.*'B-9'"):
        build_stops([Order("x", 1, "food", "B-9")], d["buildings"], d["grids"], graph=graph)


def test_demo_sealed_compound_is_served_at_its_gate(demo_layers):
    L = demo_layers
    graph = access_graph(L["road_nodes"], L["road_edges"], L["grids"], L["checkpoints"])
    b = L["buildings"]
    sealed_b = b[b["compound_id"] == "C01-3"]
    orders = [Order(f"{x}-food", 3, "food", x) for x in sealed_b["building_id"]]
    stops = build_stops(orders, b, L["grids"], graph=graph, max_boxes=120)
    assert {s.node_id for s in stops} == {sealed_b["gate_node"].mode().iloc[0]}
    assert all(s.sealed for s in stops)
    assert sum(len(s.drops) for s in stops) == len(sealed_b)
    # the uncovered main gate of the sealed compound is not a road of the drive graph
    lists = sealed_entrances(L["road_nodes"], L["road_edges"], L["grids"], L["checkpoints"])
    shut = {e.edge_id for lst in lists.values() for e in lst.entrances if e.state != "staffed"}
    assert shut and not shut & set(graph.arc_edge)
    closed = set(L["road_edges"].loc[L["road_edges"]["closed"], "edge_id"])
    assert not closed & set(graph.arc_edge)


def test_buildings_without_gates_snap_to_their_nearest_road_node(lattice):
    d = sealed_district(lattice, staffed=True)
    xy = [[30, 20], [260, 170], [390, 330], [140, 260]]
    buildings = gpd.GeoDataFrame(
        {
            "building_id": [f"b{k}" for k in range(len(xy))],
            "grid_id": "G-O",
            "gate_node": [None, "", "nowhere", None],
        },
        geometry=shapely.points(to_lonlat(xy)),
        crs="EPSG:4326",
    )
    graph = build_graph(d["nodes"], d["edges"])
    orders = [Order(f"o{k}", 1, "food", f"b{k}") for k in range(len(xy))]
    stops = build_stops(orders, buildings, d["grids"], graph=graph)
    got = {s.drops[0].building_id: s.node_id for s in stops}
    metric_nodes = d["nodes"].to_crs("EPSG:4549")
    metric_b = buildings.to_crs("EPSG:4549")
    for b, point in zip(metric_b["building_id"], metric_b.geometry, strict=True):
        nearest = metric_nodes.loc[metric_nodes.distance(point).idxmin(), "node_id"]
        assert got[b] == nearest


def test_order_larger_than_any_vehicle_is_served_in_several_loads(lattice):
    d = sealed_district(lattice, staffed=True)
    graph = access_graph(d["nodes"], d["edges"], d["grids"], d["checkpoints"])
    orders = [Order("big", 277, "food", "out-1"), Order("small", 9, "medicine", "out-1")]
    fleet = [
        VehicleType("van", 100, 3, 30.0, (7 * 3600, 11 * 3600), None, "n0_0"),
        VehicleType("tricycle", 40, 2, 15.0, (7 * 3600, 11 * 3600), None, "n0_0"),
    ]
    stops = build_stops(orders, d["buildings"], d["grids"], graph=graph, max_boxes=100)
    big = [dr for s in stops for dr in s.drops if dr.order_id == "big"]
    assert sum(dr.boxes for dr in big) == 277
    assert sorted(dr.part for dr in big) == [1, 2, 3] and {dr.parts for dr in big} == {3}
    assert all(s.demand <= 100 for s in stops)
    assert len(stops) == 3  # 100 + 100 + (77 + 9): the fewest loads of 100 for 286 boxes
    assert [(s.part, s.parts) for s in stops] == [(k, len(stops)) for k in range(1, len(stops) + 1)]
    plan = solve(stops, fleet, graph, time_limit_s=0.3)
    assert plan.is_feasible() and not plan.unserved()
    served = [dr for r in plan.routes for v in r.visits for dr in v.stop.drops]
    assert sum(dr.boxes for dr in served if dr.order_id == "big") == 277
    assert sum(dr.boxes for dr in served if dr.order_id == "small") == 9
    for r in plan.routes:
        assert sum(v.stop.demand for v in r.visits) <= r.vehicle.capacity
    rows = [row for r in plan.routes for row in manifest_rows(r)]
    assert sorted((row["part"], row["parts"]) for row in rows if row["order_id"] == "big") == [
        (1, 3),
        (2, 3),
        (3, 3),
    ]
    stops_out = [s for r in plan.to_dict()["routes"] for s in r["stops"]]
    assert {(s["part"], s["parts"]) for s in stops_out} == {(1, 3), (2, 3), (3, 3)}
    text = "".join(manifest_text(r) for r in plan.routes)
    assert "load 1 of 3" in text and "(第2/3车 load 2 of 3)" in text
