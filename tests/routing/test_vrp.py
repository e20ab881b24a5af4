"""Tests for the vehicle-routing solve: brute-force optima on tiny cases, clear infeasibility."""

from __future__ import annotations

import itertools
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from mapserver.network import build_graph, distance_matrix
from mapserver.routing.fleet import VehicleType
from mapserver.routing.stops import Drop, Stop
from mapserver.routing.vrp import solve
from tests.routing.conftest import to_lonlat

SPEED_KMH = 3.6  # 1 m/s: seconds equal metres


def stop(stop_id: str, node: str, demand: int, window=None, service_s: int = 0) -> Stop:
    drop = Drop(None, demand, "food", f"order-{stop_id}", stop_id)
    return Stop(stop_id, node, demand, (drop,), False, service_s, window, stop_id)


def brute_force(graph, stops, vehicles) -> float:
    """Least total integer metres over every split of the stops and every visiting order."""
    depot = vehicles[0].depot_node
    nodes = [depot] + [s.node_id for s in stops]
    dist = np.rint(distance_matrix(graph, nodes, nodes)).astype(int)
    fleet = [v for v in vehicles for _ in range(v.count)]

    def route_cost(vt, members):
        best = math.inf
        for perm in itertools.permutations(members):
            if sum(stops[i].demand for i in perm) > vt.capacity:
                return math.inf
            t, at, cost, ok = vt.shift[0], 0, 0, True
            for i in perm:
                leg = dist[at, i + 1]
                cost += leg
                t += math.ceil(leg / (vt.speed_kmh / 3.6))
                w = stops[i].window
                if w is not None:
                    t = max(t, w[0])
                    ok = ok and t <= w[1]
                t += stops[i].service_s
                at = i + 1
            cost += dist[at, 0]
            t += math.ceil(dist[at, 0] / (vt.speed_kmh / 3.6))
            if ok and t <= vt.shift[1]:
                best = min(best, cost)
        return best

    best = math.inf
    for split in itertools.product(range(len(fleet)), repeat=len(stops)):
        total = 0
        for k, vt in enumerate(fleet):
            members = [i for i, v in enumerate(split) if v == k]
            total += route_cost(vt, members) if members else 0
        best = min(best, total)
    return best


def served_once(plan, stops) -> bool:
    got = sorted(o for r in plan.routes for v in r.visits for o in v.stop.order_ids)
    return got == sorted(o for s in stops for o in s.order_ids)


CVRP_STOPS = [
    stop("a", "n4_4", 4),
    stop("b", "n4_0", 3),
    stop("c", "n0_4", 5),
    stop("d", "n2_3", 2),
    stop("e", "n3_1", 6),
    stop("f", "n1_2", 3),
]


@pytest.mark.parametrize("solver", ["pyvrp", "ortools"])
def test_capacitated_matches_brute_force(lattice, solver):
    graph = build_graph(lattice["nodes"], lattice["edges"])
    fleet = [VehicleType("van", 12, 2, SPEED_KMH, (0, 100_000), None, "n0_0")]
    plan = solve(CVRP_STOPS, fleet, graph, time_limit_s=0.5, solver=solver)
    assert plan.is_feasible() and served_once(plan, CVRP_STOPS)
    assert all(r.load <= 12 for r in plan.routes)
    assert plan.cost == brute_force(graph, CVRP_STOPS, fleet)
    assert plan.cost == pytest.approx(plan.distance_m, abs=len(CVRP_STOPS) + 2)


@pytest.mark.parametrize("seed", [3, 4, 5])  # windows bind in 3 and 4; 5 is infeasible
@pytest.mark.parametrize("solver", ["pyvrp", "ortools"])
def test_time_windows_match_brute_force(lattice, seed, solver):
    graph = build_graph(lattice["nodes"], lattice["edges"])
    rng = np.random.default_rng(seed)
    nodes = rng.choice([f"n{i}_{j}" for i in range(5) for j in range(5)][1:], 5, replace=False)
    stops = []
    for k, n in enumerate(nodes):
        start = int(rng.integers(0, 1500))
        stops.append(stop(f"s{k}", str(n), 1, (start, start + 300), service_s=60))
    fleet = [VehicleType("bike", 3, 2, SPEED_KMH, (0, 4000), None, "n0_0")]
    best = brute_force(graph, stops, fleet)
    if math.isinf(best):
        with pytest.raises(ValueError):
            solve(stops, fleet, graph, time_limit_s=0.3, solver=solver)
        return
    plan = solve(stops, fleet, graph, time_limit_s=0.5, solver=solver)
    assert plan.cost == best
    assert plan.is_feasible() and served_once(plan, stops)
    for r in plan.routes:
        assert r.start_s >= 0 and r.end_s <= 4000
        for v in r.visits:
            assert v.stop.window[0] <= v.start_s <= v.stop.window[1]
            assert v.start_s >= v.arrival_s


def test_mixed_speeds_keep_each_vehicles_times(lattice):
    graph = build_graph(lattice["nodes"], lattice["edges"])
    fleet = [
        VehicleType("van", 12, 1, 36.0, (0, 10_000), None, "n0_0"),
        VehicleType("tricycle", 12, 1, 18.0, (0, 10_000), None, "n0_0"),
    ]
    plan = solve(CVRP_STOPS, fleet, graph, time_limit_s=0.3)
    assert served_once(plan, CVRP_STOPS) and plan.is_feasible()
    for r in plan.routes:
        speed = {"van": 10.0, "tricycle": 5.0}[r.vehicle_type]
        for leg in r.legs:
            assert leg.travel_s == math.ceil(round(leg.distance_m) / speed)


def test_order_larger_than_any_vehicle_is_named(lattice):
    graph = build_graph(lattice["nodes"], lattice["edges"])
    fleet = [VehicleType("van", 12, 2, SPEED_KMH, (0, 100_000), None, "n0_0")]
    big = Stop("big-stop", "n2_2", 20, (Drop("B1", 20, "food", "order-77", "B1"),), False)
    with pytest.raises(ValueError, match="order 'order-77' \\(20 boxes\\) is larger than any"):
        solve([*CVRP_STOPS[:2], big], fleet, graph, time_limit_s=0.2)


def test_too_many_boxes_for_the_fleet_is_an_error(lattice):
    graph = build_graph(lattice["nodes"], lattice["edges"])
    fleet = [VehicleType("van", 12, 1, SPEED_KMH, (0, 100_000), None, "n0_0")]
    with pytest.raises(ValueError, match="need 23 boxes but the 1 vehicle"):
        solve(CVRP_STOPS, fleet, graph, time_limit_s=0.2)


def test_unreachable_stop_is_named(lattice):
    island = gpd.GeoDataFrame(
        {"node_id": ["x1", "x2"], "kind": "junction"},
        geometry=shapely.points(to_lonlat([[900, 900], [1000, 900]])),
        crs="EPSG:4326",
    )
    bridge = lattice["edges"].iloc[:1].copy()
    bridge[["edge_id", "u", "v"]] = ["ex", "x1", "x2"]
    nodes = pd.concat([lattice["nodes"], island], ignore_index=True)
    edges = pd.concat([lattice["edges"], bridge], ignore_index=True)
    graph = build_graph(nodes, edges)
    fleet = [VehicleType("van", 12, 2, SPEED_KMH, (0, 100_000), None, "n0_0")]
    with pytest.raises(ValueError, match=r"stop 'far-away'.*cannot be reached"):
        solve([CVRP_STOPS[0], stop("far-away", "x1", 1)], fleet, graph, time_limit_s=0.2)


def test_window_that_cannot_be_met_is_named(lattice):
    graph = build_graph(lattice["nodes"], lattice["edges"])
    fleet = [VehicleType("van", 12, 2, SPEED_KMH, (0, 100_000), None, "n0_0")]
    late = stop("corner", "n4_4", 1, window=(0, 300))  # 800 m away at 1 m/s
    with pytest.raises(ValueError, match=r"stop 'corner'.*00:00-00:05.*earliest arrival is 00:13"):
        solve([CVRP_STOPS[1], late], fleet, graph, time_limit_s=0.2)


def test_route_longer_than_the_duration_limit_is_named(lattice):
    graph = build_graph(lattice["nodes"], lattice["edges"])
    fleet = [VehicleType("van", 12, 2, SPEED_KMH, (0, 100_000), 1000, "n0_0")]
    with pytest.raises(ValueError, match=r"stop 'a'.*26 min"):
        solve(CVRP_STOPS[:1], fleet, graph, time_limit_s=0.2)


def test_unknown_solver_is_refused(lattice):
    graph = build_graph(lattice["nodes"], lattice["edges"])
    fleet = [VehicleType("van", 12, 2, SPEED_KMH, (0, 100_000), None, "n0_0")]
    with pytest.raises(ValueError, match="unknown solver 'gurobi'"):
        solve(CVRP_STOPS, fleet, graph, solver="gurobi")


def test_one_vehicle_reloading_matches_two_vehicles_brute_force(lattice):
    graph = build_graph(lattice["nodes"], lattice["edges"])
    one = [VehicleType("van", 12, 1, SPEED_KMH, (0, 100_000), None, "n0_0", max_trips=2)]
    two = [VehicleType("van", 12, 2, SPEED_KMH, (0, 100_000), None, "n0_0")]
    with pytest.raises(ValueError, match="allow more trips"):
        solve(CVRP_STOPS, [VehicleType("van", 12, 1, SPEED_KMH, (0, 100_000), None, "n0_0")], graph)
    plan = solve(CVRP_STOPS, one, graph, time_limit_s=0.5)
    assert plan.is_feasible() and served_once(plan, CVRP_STOPS)
    (route,) = plan.routes
    assert len(route.trip_loads) == 2 and max(route.trip_loads) <= 12 and route.boxes == 23
    assert plan.cost == brute_force(graph, CVRP_STOPS, two)
    assert plan.cost == pytest.approx(plan.distance_m, abs=len(CVRP_STOPS) + 4)
    second = next(v for v in route.visits if v.trip == 2)
    assert "n0_0" in second.leg.nodes[1:-1]  # back to the depot to reload
    assert second.load == route.trip_loads[1]
    with pytest.raises(ValueError, match="pyvrp"):
        solve(CVRP_STOPS, one, graph, time_limit_s=0.2, solver="ortools")
