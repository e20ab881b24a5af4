"""Tests for mapserver.routing.patrol: splitting a postman walk among k teams."""

from __future__ import annotations

import itertools
import random

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point

from mapserver.cli import main as cli_main
from mapserver.routing.patrol import split_patrol
from mapserver.routing.postman import postman_route
from mapserver.services.patrol import PatrolService
from mapserver.store import open_store
from mapserver.web.i18n import translate
from tests.routing.streets import street_lattice


@pytest.fixture(scope="module")
def lattice():
    nodes, edges = street_lattice(6, seed=1)
    return nodes, edges, postman_route(nodes, edges, base_node="n2_2")


def _check_plan(plan, route, edges, k):
    ends = {r.edge_id: {r.u, r.v} for r in edges.itertuples(index=False)}
    assert len(plan.teams) == k
    assert plan.covers(edges["edge_id"])
    for team in plan.teams:
        assert team.is_closed()
        assert not team.walk or team.node_sequence[0] == team.node_sequence[-1] == route.base_node
        for eid, a, b in team.walk:
            assert {a, b} == ends[eid]
        assert team.length_m == pytest.approx(sum(team.step_m))
    assert plan.longest_m == pytest.approx(max(t.length_m for t in plan.teams))
    assert plan.longest_m >= route.length_m / k - 1e-6
    assert plan.deadhead_m == pytest.approx(plan.total_m - route.street_m)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_split_covers_every_street_with_closed_team_walks(lattice, k):
    nodes, edges, route = lattice
    plan = split_patrol(route, k, nodes=nodes, edges=edges)
    _check_plan(plan, route, edges, k)


def test_one_team_walks_the_postman_route(lattice):
    nodes, edges, route = lattice
    plan = split_patrol(route, 1, nodes=nodes, edges=edges)
    assert plan.teams[0].walk == route.walk
    assert plan.deadhead_m == pytest.approx(route.deadhead_m)


def test_more_teams_shorten_the_longest_walk_and_stay_balanced(lattice):
    nodes, edges, route = lattice
    longest = [split_patrol(route, k, nodes=nodes, edges=edges).longest_m for k in (1, 2, 4)]
    assert longest[0] > longest[1] > longest[2]
    plan = split_patrol(route, 4, nodes=nodes, edges=edges)
    assert plan.balance < 1.25


def test_shift_limits_flag_teams_over_it(lattice):
    nodes, edges, route = lattice
    plan = split_patrol(route, 2, nodes=nodes, edges=edges, shift_s=3600, speed_kmh=4.5)
    speed = 4.5 / 3.6
    for team in plan.teams:
        assert team.duration_s == pytest.approx(team.length_m / speed)
    assert plan.within_shift() == all(t.length_m / speed <= 3600 for t in plan.teams)
    tight = split_patrol(route, 2, nodes=nodes, edges=edges, shift_m=plan.longest_m / 2)
    assert not tight.within_shift()
    assert tight.over_shift()
    loose = split_patrol(route, 2, nodes=nodes, edges=edges, shift_m=plan.longest_m + 1)
    assert loose.within_shift()
    assert split_patrol(route, 2, nodes=nodes, edges=edges).within_shift()


def test_geojson_tags_teams(lattice):
    nodes, edges, route = lattice
    plan = split_patrol(route, 3, nodes=nodes, edges=edges)
    fc = plan.to_geojson(edges)
    assert len(fc["features"]) == sum(len(t.walk) for t in plan.teams)
    assert {f["properties"]["team"] for f in fc["features"]} == {1, 2, 3}
    street = sum(
        f["properties"]["length_m"] for f in fc["features"] if not f["properties"]["deadhead"]
    )
    assert street == pytest.approx(route.street_m, abs=0.5)


def test_bad_team_count_is_an_error(lattice):
    nodes, edges, route = lattice
    with pytest.raises(ValueError, match="at least 1"):
        split_patrol(route, 0, nodes=nodes, edges=edges)


def _brute_split(route, edges, k):
    """(least longest, greatest shortest at that longest) over every cut of the walk.

    Team lengths from networkx shortest paths to and from the base, independent
    of the code under test.
    """
    graph = nx.DiGraph()
    for r in edges.itertuples(index=False):
        for a, b in ((r.u, r.v), (r.v, r.u)):
            old = graph.get_edge_data(a, b, {"weight": np.inf})["weight"]
            graph.add_edge(a, b, weight=min(old, r.length_m))
    out = nx.single_source_dijkstra_path_length(graph, route.base_node)
    back = nx.single_source_dijkstra_path_length(graph.reverse(), route.base_node)
    at = route.node_sequence
    cum = np.concatenate([[0.0], np.cumsum(route.step_m)])
    m = len(route.walk)
    best = []
    for inner in itertools.combinations_with_replacement(range(m + 1), k - 1):
        cuts = (0, *inner, m)
        lengths = [
            out[at[i]] + cum[j] - cum[i] + back[at[j]] if j > i else 0.0
            for i, j in itertools.pairwise(cuts)
        ]
        best.append((max(lengths), min(lengths)))
    longest = min(x for x, _ in best)
    shortest = max(y for x, y in best if x <= longest + 1e-9)
    return longest, shortest


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [2, 3, 4])
def test_split_matches_brute_force_longest_then_shortest(seed, k):
    nodes, edges = street_lattice(4, seed=seed)
    rng = random.Random(seed)
    base = f"n{rng.randrange(4)}_{rng.randrange(4)}"
    route = postman_route(nodes, edges, base_node=base)
    plan = split_patrol(route, k, nodes=nodes, edges=edges)
    _check_plan(plan, route, edges, k)
    longest, shortest = _brute_split(route, edges, k)
    assert plan.longest_m == pytest.approx(longest)
    assert min(t.length_m for t in plan.teams) == pytest.approx(shortest)


def test_split_leaves_no_team_far_short():
    # Issue 11: the longest was optimal but one team was left far under the others
    # (here 1,240 m against 1,816-2,007 m before; the others can all be over 1,800 m).
    nodes, edges = street_lattice(5, seed=0)
    route = postman_route(nodes, edges, base_node="n0_0")
    plan = split_patrol(route, 4, nodes=nodes, edges=edges)
    _check_plan(plan, route, edges, 4)
    longest, shortest = _brute_split(route, edges, 4)
    assert plan.longest_m == pytest.approx(longest)
    assert min(t.length_m for t in plan.teams) == pytest.approx(shortest)
    assert shortest > 0.85 * longest


def test_more_teams_than_steps_give_one_step_each():
    nodes, edges = street_lattice(2, seed=0)
    route = postman_route(nodes, edges, base_node="n0_0")
    plan = split_patrol(route, len(route.walk) + 2, nodes=nodes, edges=edges)
    _check_plan(plan, route, edges, len(route.walk) + 2)
    assert sum(1 for t in plan.teams if t.walk) == len(route.walk)


def test_patrol_plans_the_rest_and_lists_a_cut_off_street(demo_db_url, capsys):
    # A real store holding the demo district plus one street inside a big grid that no
    # road joins: the plan covers the rest and names the cut-off street (service, CLI).
    store = open_store(demo_db_url)
    nodes = store.read_layer("road_nodes")
    edges = store.read_layer("road_edges")
    grids = store.read_grids()
    big = grids[grids["level"] == "big"].iloc[0]
    spot = big.geometry.representative_point()
    ends = [Point(spot.x - 0.0002, spot.y), Point(spot.x + 0.0002, spot.y)]
    island = gpd.GeoDataFrame(
        {"node_id": ["island-a", "island-b"], "kind": "junction"}, geometry=ends, crs=nodes.crs
    )
    street = edges.iloc[[0]].copy()
    street["edge_id"], street["u"], street["v"] = "island-1", "island-a", "island-b"
    street["name"], street["length_m"], street["oneway"] = "孤岛路", 38.0, False
    street["closed"], street["mode"] = False, "walk"
    street = street.set_geometry([LineString(ends)], crs=edges.crs)
    store.import_layers(
        {
            "road_nodes": pd.concat([nodes, island], ignore_index=True),
            "road_edges": pd.concat([edges, street], ignore_index=True),
        }
    )
    service = PatrolService(store)
    plan_id = service.streets([str(big["grid_id"])], teams=2, user="test")
    summary = service.get(plan_id)["summary"]
    assert summary["unreachable"] == [{"edge_id": "island-1", "name": "孤岛路", "length_m": 38.0}]
    assert summary["unreachable_km"] == pytest.approx(0.038)
    assert summary["street_km"] > 0
    walked = {f["properties"]["edge_id"] for f in service.get(plan_id)["geojson"]["features"]}
    assert "island-1" not in walked and walked
    store.dispose()
    argv = ["--database", demo_db_url, "patrol", "--grid", str(big["grid_id"]), "--teams", "2"]
    assert cli_main(argv) == 0
    printed = capsys.readouterr().out
    assert translate("patrol_unreachable", "zh") in printed
    assert translate("patrol_unreachable", "en") in printed
    assert "island-1" in printed and "孤岛路" in printed
