"""Tests for route plans on the demo district: served once, limits kept, legs on roads, re-plan."""

from __future__ import annotations

import json

import pytest

from mapserver.network import build_graph
from mapserver.routing.fleet import RUNS, VehicleType, default_fleet
from mapserver.routing.orders import orders_from_status
from mapserver.routing.plan import Leg, Vehicle, schedule
from mapserver.routing.stops import access_graph, build_stops
from mapserver.routing.vrp import replan, solve
from tests.routing.test_vrp import CVRP_STOPS, stop

DEPOT = "N000000"


@pytest.fixture(scope="module")
def morning(demo_layers):
    """The demo's morning run: food for every sealed household, medicine for a few."""
    L = demo_layers
    graph = access_graph(L["road_nodes"], L["road_edges"], L["grids"], L["checkpoints"])
    special = L["households"]["household_id"].iloc[::700].tolist()
    orders = orders_from_status(
        L["grids"], L["buildings"], L["households"], L["status"], special_households=special
    )
    stops = build_stops(
        orders, L["buildings"], L["grids"], graph=graph, max_boxes=120, window=RUNS["morning"]
    )
    fleet = default_fleet(DEPOT, run="morning", vans=3, tricycles=2)
    plan = solve(stops, fleet, graph, time_limit_s=1.0)
    return {"graph": graph, "orders": orders, "stops": stops, "plan": plan, "fleet": fleet}


def test_demo_morning_plan_serves_every_order_once(morning):
    plan, orders = morning["plan"], morning["orders"]
    assert plan.is_feasible(), plan.violations()
    served = sorted(o for r in plan.routes for v in r.visits for o in v.stop.order_ids)
    assert served == sorted(o.order_id for o in orders)
    boxes = sum(v.stop.demand for r in plan.routes for v in r.visits)
    assert boxes == sum(o.boxes for o in orders)


def test_demo_plan_keeps_capacity_windows_and_shift(morning):
    start, end = RUNS["morning"]
    caps = {vt.name: vt.capacity for vt in morning["fleet"]}
    for r in morning["plan"].routes:
        assert r.load <= caps[r.vehicle_type]
        assert start <= r.start_s and r.end_s <= end
        for a, b in zip(r.visits[:-1], r.visits[1:], strict=True):
            assert a.depart_s + b.leg.travel_s == b.arrival_s
        for v in r.visits:
            assert start <= v.start_s <= end and v.load >= v.stop.demand


def test_consecutive_route_points_lie_on_graph_edges(morning, demo_layers):
    graph = morning["graph"]
    edges = demo_layers["road_edges"].set_index("edge_id")
    for r in morning["plan"].routes:
        path = r.path_nodes
        assert path[0] == DEPOT and path[-1] == DEPOT
        ia = [graph.index[n] for n in path[:-1]]
        ib = [graph.index[n] for n in path[1:]]
        graph.arcs_between(ia, ib)  # raises when a step is not an arc
        for leg in r.legs:
            for a, b, e in zip(leg.nodes[:-1], leg.nodes[1:], leg.edges, strict=True):
                row = edges.loc[e]
                assert {a, b} == {row["u"], row["v"]} and not row["closed"]
        assert sum(leg.distance_m for leg in r.legs) == pytest.approx(r.distance_m)


def test_sealed_stops_are_at_the_gate_outside(morning, demo_layers):
    sealed = [s for s in morning["stops"] if s.sealed]
    gate = demo_layers["buildings"].query("compound_id == 'C01-3'")["gate_node"].mode().iloc[0]
    assert sealed and {s.node_id for s in sealed} == {gate}
    drops = {d.building_id for s in sealed for d in s.drops if d.kind == "food"}
    assert drops == set(demo_layers["buildings"].query("compound_id == 'C01-3'")["building_id"])


def test_geojson_and_dict(morning):
    plan = morning["plan"]
    gj = plan.to_geojson()
    legs = [f for f in gj["features"] if f["properties"]["kind"] == "leg"]
    points = [f for f in gj["features"] if f["properties"]["kind"] == "stop"]
    assert len(legs) == sum(len(r.visits) + 1 for r in plan.routes)
    assert len(points) == len(morning["stops"])
    assert all(f["geometry"]["type"] == "LineString" for f in legs)
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["feasible"] and not data["unserved"]
    assert sum(len(r["stops"]) for r in data["routes"]) == len(morning["stops"])


def test_ortools_plan_is_feasible_too(morning):
    fleet = morning["fleet"]
    plan = solve(morning["stops"], fleet, morning["graph"], time_limit_s=1.0, solver="ortools")
    assert plan.is_feasible() and plan.solver == "ortools"


def test_replan_from_current_positions(morning):
    plan, graph = morning["plan"], morning["graph"]
    first = max(plan.routes, key=lambda r: len(r.visits))
    done = first.visits[:2]
    now = done[-1].depart_s
    positions = {first.route_id: done[-1].stop.node_id}
    again = replan(
        plan,
        graph,
        delivered=[v.stop.stop_id for v in done],
        positions=positions,
        now_s=now,
        time_limit_s=0.5,
    )
    assert again.is_feasible(), again.violations()
    left = {s.stop_id for s in morning["stops"]} - {v.stop.stop_id for v in done}
    assert {v.stop.stop_id for r in again.routes for v in r.visits} == left
    moved = again.route(first.route_id)
    if moved is not None:
        assert moved.path_nodes[0] == positions[first.route_id] and moved.start_s >= now
    assert all(r.start_s >= now for r in again.routes)
    kept = replan(
        plan,
        graph,
        delivered=[v.stop.stop_id for v in done],
        positions=positions,
        now_s=now,
        time_limit_s=0.2,
        keep_assignment=True,
    )
    for r in kept.routes:
        before = {v.stop.stop_id for v in plan.route(r.route_id).visits}
        assert {v.stop.stop_id for v in r.visits} <= before


def test_replan_refuses_unknown_ids(morning):
    with pytest.raises(ValueError, match="nope"):
        replan(morning["plan"], morning["graph"], delivered=["nope"], positions={}, now_s=0)
    with pytest.raises(ValueError, match="truck-9"):
        replan(
            morning["plan"], morning["graph"], delivered=[], positions={"truck-9": DEPOT}, now_s=0
        )


def test_schedule_leaves_late_to_save_waiting():
    v = Vehicle("v-1", "van", 10, 3.6, "d", "d", 0, 10_000, 10_000)
    legs = [
        Leg(("d", "x"), ("e",), 100.0, 100, ((0, 0), (0, 0))),
        Leg(("x", "d"), ("e",), 100.0, 100, ((0, 0), (0, 0))),
    ]
    s = stop("x", "x", 1, window=(1000, 1200), service_s=50)
    route = schedule(v, [s], legs)
    assert route.start_s == 900 and route.visits[0].arrival_s == 1000
    assert route.end_s == 1150 and route.duration_s == 250


def test_fixed_cost_is_counted(lattice):
    graph = build_graph(lattice["nodes"], lattice["edges"])
    fleet = [VehicleType("van", 30, 2, 3.6, (0, 100_000), None, "n0_0", fixed_cost=5000)]
    plan = solve(CVRP_STOPS, fleet, graph, time_limit_s=0.3)
    assert len(plan.routes) == 1  # a second van costs more than it saves
    assert plan.cost == 5000 + round(plan.distance_m)
