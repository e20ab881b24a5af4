"""Tests for route plans as plain JSON data: exact round trip, re-planning from it."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from mapserver.network import build_graph
from mapserver.routing.fleet import VehicleType
from mapserver.routing.plan import RoutePlan
from mapserver.routing.plandata import plan_from_data, plan_to_data
from mapserver.routing.stops import Drop, Stop
from mapserver.routing.vrp import replan, solve
from tests.routing.test_vrp import CVRP_STOPS, SPEED_KMH, brute_force, stop


def _through_json(data: dict) -> dict:
    return json.loads(json.dumps(data, ensure_ascii=False))


def replan_after_first_stop(plan: RoutePlan, graph) -> RoutePlan:
    """Re-plan once the longest route's first stop is delivered; check what is left."""
    route = max(plan.routes, key=lambda r: len(r.visits))
    done = route.visits[0]
    moved = replan(
        plan,
        graph,
        delivered=[done.stop.stop_id],
        positions={route.route_id: done.stop.node_id},
        now_s=done.depart_s,
        time_limit_s=0.3,
    )
    left = {s.stop_id for s in plan.stops} - {done.stop.stop_id}
    assert moved.is_feasible(), moved.violations()
    assert {v.stop.stop_id for r in moved.routes for v in r.visits} == left
    assert all(r.start_s >= done.depart_s for r in moved.routes)
    return moved


@pytest.fixture
def graph(lattice):
    return build_graph(lattice["nodes"], lattice["edges"])


def test_plan_with_trips_windows_and_drops_round_trips_exactly(graph):
    sealed = Stop(
        "gate-1",
        "n2_2",
        4,
        (Drop("B-1", 3, "food", "o-1", "一号楼", 1, 2), Drop(None, 1, "medicine", "o-2", "药")),
        True,
        90,
        (0, 50_000),
        "小区大门",
        1,
        2,
    )
    stops = [*CVRP_STOPS, sealed, stop("w", "n3_3", 1, window=(100, 4000), service_s=30)]
    fleet = [VehicleType("van", 12, 1, SPEED_KMH, (0, 100_000), None, "n0_0", max_trips=3)]
    plan = solve(stops, fleet, graph, time_limit_s=0.3)
    assert plan.is_feasible() and len(plan.routes[0].trip_loads) >= 2
    back = plan_from_data(_through_json(plan_to_data(plan)))
    assert back == plan
    assert back.to_dict() == plan.to_dict() and back.to_geojson() == plan.to_geojson()


def test_replan_from_data_reaches_the_brute_force_optimum(graph):
    fleet = [VehicleType("van", 12, 2, SPEED_KMH, (0, 100_000), None, "n0_0")]
    plan = solve(CVRP_STOPS, fleet, graph, time_limit_s=0.3)
    loaded = plan_from_data(_through_json(plan_to_data(plan)))
    again = replan(loaded, graph, delivered=[], positions={}, now_s=0, time_limit_s=0.3)
    assert again.is_feasible() and again.cost == brute_force(graph, CVRP_STOPS, fleet)
    moved = replan_after_first_stop(loaded, graph)
    # A re-planned plan (vehicles moved, stops dropped) is plain data too.
    assert plan_from_data(_through_json(plan_to_data(moved))) == moved


def test_visit_of_a_stop_the_plan_does_not_list_is_kept_whole(graph):
    fleet = [VehicleType("van", 12, 2, SPEED_KMH, (0, 100_000), None, "n0_0")]
    plan = solve(CVRP_STOPS[:2], fleet, graph, time_limit_s=0.2)
    odd = replace(plan, stops=plan.stops[:1])
    data = _through_json(plan_to_data(odd))
    kept = [v["stop"] for r in data["routes"] for v in r["visits"] if isinstance(v["stop"], dict)]
    assert [s["stop_id"] for s in kept] == [plan.stops[1].stop_id]
    assert plan_from_data(data) == odd


def test_bad_data_is_refused_with_its_reason(graph):
    with pytest.raises(ValueError, match="format None; this server reads format 1"):
        plan_from_data({"routes": []})
    with pytest.raises(ValueError, match="format 'list'"):
        plan_from_data([])
    fleet = [VehicleType("van", 12, 2, SPEED_KMH, (0, 100_000), None, "n0_0")]
    data = plan_to_data(solve(CVRP_STOPS[:2], fleet, graph, time_limit_s=0.2))
    data["stops"] = data["stops"][:1]
    missing = next(v["stop"] for r in data["routes"] for v in r["visits"] if v["stop"] != "a")
    with pytest.raises(ValueError, match=f"names stop '{missing}', which the plan lacks"):
        plan_from_data(data)
