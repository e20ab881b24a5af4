"""Tests for mapserver.coverage.cordon: optimal against brute force, sealing, outward moves."""

from __future__ import annotations

import itertools
from collections import deque

import networkx as nx
import numpy as np
import pytest

from mapserver.coverage.area import area_polygon
from mapserver.coverage.cordon import (
    DEFAULT_COSTS,
    CordonCosts,
    plan_cordon,
    tradeoff_curve,
    verify_seal,
)


def _random_costs(seed: int) -> CordonCosts:
    rng = np.random.default_rng(seed)
    main, street, lane, path = rng.uniform(0.5, 4.0, size=4).round(2)
    return CordonCosts(main=main, street=street, lane=lane, path=path, barrier=0.7)


def _reach(inside, adj, blocked) -> set[str]:
    seen, todo = set(inside), deque(inside)
    while todo:
        a = todo.popleft()
        for b, e in adj.get(a, ()):
            if e not in blocked and b not in seen:
                seen.add(b)
                todo.append(b)
    return seen


def _brute_force(lat, inside, allowed, costs, price) -> float:
    """Cheapest feasible subset of edges (BFS check), over edges touching the allowed nodes."""
    edges = lat["edges"]
    hh = dict(zip(lat["buildings"]["gate_node"], lat["buildings"]["households"], strict=True))
    adj: dict[str, list] = {}
    for e, a, b in zip(edges["edge_id"], edges["u"], edges["v"], strict=True):
        adj.setdefault(a, []).append((b, e))
        adj.setdefault(b, []).append((a, e))
    cost = {
        e: costs.placement(c)[1] for e, c in zip(edges["edge_id"], edges["road_class"], strict=True)
    }
    relevant = [e for e, a, b in zip(edges["edge_id"], edges["u"], edges["v"], strict=True)
                if a in allowed or b in allowed]  # fmt: skip
    best = np.inf
    for r in range(len(relevant) + 1):
        for subset in itertools.combinations(relevant, r):
            value = sum(cost[e] for e in subset)
            if value >= best:
                continue
            reached = _reach(inside, adj, set(subset))
            if reached <= allowed:
                value += price * sum(hh[n] for n in reached - inside)
                best = min(best, value)
    return best


def _networkx_value(lat, inside, allowed, costs, price) -> float:
    graph = nx.Graph()
    hh = dict(zip(lat["buildings"]["gate_node"], lat["buildings"]["households"], strict=True))
    edges = lat["edges"]
    for a, b, c in zip(edges["u"], edges["v"], edges["road_class"], strict=True):
        graph.add_edge(a, b, capacity=costs.placement(c)[1])
    for n in list(graph.nodes):
        if n in inside:
            graph.add_edge("s", n)  # no capacity: infinite
        elif n not in allowed:
            graph.add_edge(n, "t")
        elif price > 0:
            graph.add_edge(n, "t", capacity=price * hh[n])
    return nx.minimum_cut_value(graph, "s", "t")


CASES = [  # (k, inside cells, max_outward_m, price, seed)
    (3, [(1, 1)], 100.0, 0.0, 1),
    (3, [(1, 1)], 100.0, 0.05, 2),
    (3, [(0, 0)], 150.0, 0.0, 3),
    (3, [(1, 1)], 0.0, 0.0, 4),
    (4, [(1, 1)], 100.0, 0.02, 5),
    (4, [(1, 1), (1, 2)], 100.0, 0.0, 6),
]


@pytest.mark.parametrize(("k", "cells", "outward", "price", "seed"), CASES)
def test_cut_is_optimal(lattice, k, cells, outward, price, seed):
    lat = lattice(k, seed=seed)
    costs = _random_costs(seed)
    plan = plan_cordon(
        lat["square"](cells), lat["nodes"], lat["edges"], costs=costs,
        max_outward_m=outward, buildings=lat["buildings"], household_cost=price,
    )  # fmt: skip
    inside = {f"n{i}_{j}" for i, j in cells}
    assert plan.inside_nodes == inside
    allowed = set(plan.allowed_nodes)
    brute = _brute_force(lat, inside, allowed, costs, price)
    assert plan.objective == pytest.approx(brute)
    assert plan.objective == pytest.approx(_networkx_value(lat, inside, allowed, costs, price))
    assert (
        verify_seal(inside, lat["nodes"], lat["edges"], plan.cut_edge_ids(), allowed=allowed) == []
    )
    assert plan.is_sealing(lat["nodes"], lat["edges"])


def test_verify_seal_finds_the_leak(lattice):
    lat = lattice(3, seed=7)
    area = lat["square"]([(1, 1)])
    plan = plan_cordon(area, lat["nodes"], lat["edges"])
    assert len(plan.cuts) == 4
    dropped = plan.cuts[0]
    leaks = verify_seal(area, lat["nodes"], lat["edges"], plan.cut_edge_ids()[1:])
    assert leaks == [[dropped.inside_node, dropped.outside_node]]


@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15])
def test_moving_outward_never_needs_more_staff(lattice, seed):
    lat = lattice(5, seed=seed, classes=("main", "street"))
    uniform = CordonCosts(main=2.0, street=2.0)
    area = lat["square"]([(2, 2), (2, 3)])
    fixed = plan_cordon(area, lat["nodes"], lat["edges"], costs=uniform)
    for outward in (100.0, 200.0, 300.0):
        moved = plan_cordon(area, lat["nodes"], lat["edges"], costs=uniform, max_outward_m=outward)
        assert moved.staffed <= fixed.staffed
        assert moved.total_cost <= fixed.total_cost + 1e-9
        assert moved.inside_nodes <= moved.enclosed_nodes <= moved.allowed_nodes
        assert moved.is_sealing(lat["nodes"], lat["edges"])


def test_keep_existing_uses_staffed_checkpoints_for_free(lattice, place_checkpoints):
    lat = lattice(3, seed=21, classes=("main",))
    area = lat["square"]([(1, 1)])
    cps = place_checkpoints(["n1_0"], lat["nodes"])
    kept = plan_cordon(area, lat["nodes"], lat["edges"], checkpoints=cps)
    assert kept.existing == ("CP0",)
    assert kept.new_staffed == 3
    assert kept.staffed == 4
    assert kept.total_cost == pytest.approx(3 * DEFAULT_COSTS.main)
    fresh = plan_cordon(area, lat["nodes"], lat["edges"], checkpoints=cps, keep_existing=False)
    assert fresh.existing == ()
    assert fresh.total_cost == pytest.approx(4 * DEFAULT_COSTS.main)
    unstaffed = place_checkpoints(["n1_0"], lat["nodes"], staffed=False)
    assert plan_cordon(area, lat["nodes"], lat["edges"], checkpoints=unstaffed).existing == ()


def test_closed_edges_need_nothing(lattice):
    lat = lattice(3, seed=22, classes=("street",))
    edges = lat["edges"].copy()
    touching = edges["u"].eq("n1_1") | edges["v"].eq("n1_1")
    edges.loc[edges.index[touching][:2], "closed"] = True
    plan = plan_cordon(lat["square"]([(1, 1)]), lat["nodes"], edges)
    assert len(plan.cuts) == 2
    assert plan.is_sealing(lat["nodes"], edges)


def _box_on_edge(lat, a: str, b: str, half_m: float = 10.0):
    """A small square round the middle of the road between nodes a and b, holding no node."""
    import shapely

    pts = lat["nodes"].set_index("node_id").geometry
    mid = shapely.line_interpolate_point(shapely.LineString([pts[a], pts[b]]), 0.5, normalized=True)
    d = half_m / 100_000.0
    return shapely.box(mid.x - d, mid.y - d, mid.x + d, mid.y + d)


def test_bad_areas_are_refused_and_odd_ones_answered(lattice):
    import shapely

    lat = lattice(3)
    off = plan_cordon(shapely.box(100.0, 10.0, 100.01, 10.01), lat["nodes"], lat["edges"])
    assert off.cuts == () and off.inside_nodes == frozenset()  # no road enters: nothing to close
    whole = lat["square"]([(i, j) for i in range(3) for j in range(3)]).envelope
    everything = plan_cordon(whole, lat["nodes"], lat["edges"])
    assert everything.cuts == () and len(everything.inside_nodes) == 9
    with pytest.raises(ValueError, match="empty"):
        plan_cordon(shapely.Polygon(), lat["nodes"], lat["edges"])
    with pytest.raises(ValueError, match="max_outward_m"):
        plan_cordon(lat["square"]([(1, 1)]), lat["nodes"], lat["edges"], max_outward_m=-1)


def test_road_through_an_area_without_junction_is_closed_at_both_crossings(lattice):
    lat = lattice(3, classes=("street",))
    area = _box_on_edge(lat, "n1_0", "n1_1")
    edge = lat["edges"]
    through = edge.loc[(edge["u"] == "n1_0") & (edge["v"] == "n1_1"), "edge_id"].iat[0]
    plan = plan_cordon(area, lat["nodes"], lat["edges"])
    assert [c.edge_id for c in plan.cuts] == [through, through]
    assert {c.outside_node for c in plan.cuts} == {"n1_0", "n1_1"}
    assert plan.is_sealing(lat["nodes"], lat["edges"])
    assert plan.total_cost == 2 * DEFAULT_COSTS.street


def test_outward_grids_holding_every_node_or_none(lattice):
    import shapely

    lat = lattice(3, seed=5, classes=("street",))
    area = lat["square"]([(1, 1)])
    base = plan_cordon(area, lat["nodes"], lat["edges"])
    whole = lat["square"]([(i, j) for i in range(3) for j in range(3)]).envelope
    kw = {"buildings": lat["buildings"]}
    wide = plan_cordon(area, lat["nodes"], lat["edges"], outward_grids=whole, **kw)
    assert (
        wide.cuts == () and len(wide.enclosed_nodes) == 9
    )  # free to enclose all: nothing to staff
    assert wide.extra_households == lat["buildings"]["households"].sum() - sum(
        lat["buildings"].loc[lat["buildings"]["gate_node"] == "n1_1", "households"]
    )
    priced = plan_cordon(
        area, lat["nodes"], lat["edges"], outward_grids=whole, household_cost=1e6, **kw
    )
    assert priced.cut_edge_ids() == base.cut_edge_ids()  # households too dear: hold the line
    nowhere = shapely.box(100.0, 10.0, 100.01, 10.01)
    same = plan_cordon(area, lat["nodes"], lat["edges"], outward_grids=nowhere)
    assert same.cut_edge_ids() == base.cut_edge_ids()


def test_tradeoff_curve_is_the_parametric_cut(lattice):
    lat = lattice(5, seed=31)
    area = lat["square"]([(2, 2)])
    kw = {"max_outward_m": 200.0, "buildings": lat["buildings"]}
    curve = tradeoff_curve(area, lat["nodes"], lat["edges"], **kw)
    assert curve[0].extra_households == 0
    extras = [p.extra_households for p in curve]
    assert extras == sorted(extras) and len(set(extras)) == len(extras)
    costs = [p.total_cost for p in curve]
    assert costs == sorted(costs, reverse=True)  # enclosing more is only worth it if cheaper
    for point in curve:
        plan = plan_cordon(
            area, lat["nodes"], lat["edges"], household_cost=point.household_cost, **kw
        )
        assert (plan.extra_households, plan.total_cost) == (
            point.extra_households,
            pytest.approx(point.total_cost),
        )
    # every price on a fine sweep picks a plan on the curve
    found = {(p.extra_households, round(p.total_cost, 6)) for p in curve}
    sweep = tradeoff_curve(
        area, lat["nodes"], lat["edges"], household_costs=np.linspace(0, 0.3, 31), **kw
    )
    assert {(p.extra_households, round(p.total_cost, 6)) for p in sweep} <= found


@pytest.fixture(scope="module")
def village(demo):
    grids = demo["grids"]
    row = grids[(grids["level"] == "community") & grids["name"].str.contains("村")].iloc[0]
    return area_polygon(grids, row["grid_id"])


def test_village_needs_no_more_staffed_checkpoints_than_now(demo, village):
    cps = demo["checkpoints"]
    plan = plan_cordon(village, demo["road_nodes"], demo["road_edges"], checkpoints=cps,
                       keep_existing=False)  # fmt: skip
    assert plan.staffed <= int(cps["staffed"].sum())
    assert plan.is_sealing(demo["road_nodes"], demo["road_edges"])
    geo = plan.to_geojson()
    assert len([f for f in geo["features"] if f["properties"]["feature"] == "cut"]) == len(
        plan.cuts
    )
    moved = plan_cordon(
        village, demo["road_nodes"], demo["road_edges"], checkpoints=cps, keep_existing=False,
        max_outward_m=300.0, buildings=demo["buildings"],
    )  # fmt: skip
    assert moved.staffed <= plan.staffed
    assert moved.is_sealing(demo["road_nodes"], demo["road_edges"])


def test_neighbourhood_cordon_moves_outward_for_less_staff(demo):
    grids = demo["grids"]
    area = area_polygon(grids, "SD01-C01")
    nodes, edges = demo["road_nodes"], demo["road_edges"]
    fixed = plan_cordon(area, nodes, edges)
    moved = plan_cordon(area, nodes, edges, max_outward_m=300.0, buildings=demo["buildings"])
    assert moved.staffed <= fixed.staffed
    assert moved.total_cost <= fixed.total_cost
    assert moved.is_sealing(nodes, edges)
    curve = tradeoff_curve(area, nodes, edges, max_outward_m=300.0, buildings=demo["buildings"])
    assert curve[0].total_cost == pytest.approx(fixed.total_cost)
    assert curve[-1].total_cost == pytest.approx(moved.total_cost)
