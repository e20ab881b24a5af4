"""Tests for mapserver.routing.checkpoint_tour: checkpoint loops, revisit intervals and GPX."""

from __future__ import annotations

import itertools
import random
import xml.etree.ElementTree as ET

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from shapely.geometry import Point

from mapserver.demo import generate_demo
from mapserver.routing.checkpoint_tour import checkpoint_tour, patrol_gpx
from mapserver.routing.patrol import split_patrol
from mapserver.routing.postman import postman_route
from tests.routing.conftest import assert_track_follows, curved_lattice, track_length_m
from tests.routing.streets import street_lattice

_GPX = "{http://www.topografix.com/GPX/1/1}"


def _checkpoints(node_ids: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"checkpoint_id": [f"CP{i}" for i in range(len(node_ids))], "node_id": node_ids},
        geometry=[Point(0, 0)] * len(node_ids),
        crs="EPSG:4326",
    )


def _distances(edges: gpd.GeoDataFrame) -> dict:
    graph = nx.Graph()
    graph.add_weighted_edges_from((r.u, r.v, r.length_m) for r in edges.itertuples(index=False))
    return dict(nx.all_pairs_dijkstra_path_length(graph))


@pytest.fixture(scope="module")
def lattice():
    return street_lattice(5, seed=2)


@pytest.mark.parametrize("seed", range(3))
def test_single_loop_equals_brute_force(lattice, seed):
    nodes, edges = lattice
    rng = random.Random(seed)
    at = rng.sample(list(nodes["node_id"]), 6)
    base = "n0_0"
    tour = checkpoint_tour(_checkpoints(at), nodes, edges, base_node=base)
    dist = _distances(edges)
    best = min(
        sum(dist[a][b] for a, b in itertools.pairwise([base, *order, base]))
        for order in itertools.permutations(at)
    )
    (team,) = tour.teams
    assert team.length_m == pytest.approx(best)
    assert sorted(team.checkpoint_ids) == sorted(f"CP{i}" for i in range(6))


def test_team_path_follows_streets_and_passes_its_checkpoints(lattice):
    nodes, edges = lattice
    at = ["n1_1", "n3_4", "n4_0", "n2_2", "n0_3"]
    tour = checkpoint_tour(_checkpoints(at), nodes, edges, base_node="n0_0", k=2)
    pairs = {frozenset((r.u, r.v)): r.length_m for r in edges.itertuples(index=False)}
    seen = []
    for team in tour.teams:
        path = team.node_path
        assert path[0] == path[-1] == "n0_0"
        assert team.length_m == pytest.approx(
            sum(pairs[frozenset(p)] for p in itertools.pairwise(path))
        )
        where = {cp: at[int(cp[2:])] for cp in team.checkpoint_ids}
        assert all(where[cp] in path for cp in team.checkpoint_ids)
        seen += team.checkpoint_ids
    assert sorted(seen) == sorted(f"CP{i}" for i in range(5))  # each exactly once


def test_k_teams_share_checkpoints_and_intervals(lattice):
    nodes, edges = lattice
    at = ["n1_1", "n3_4", "n4_0", "n2_2", "n0_3", "n4_4", "n1_3"]
    one = checkpoint_tour(_checkpoints(at), nodes, edges, base_node="n2_0", k=1)
    two = checkpoint_tour(_checkpoints(at), nodes, edges, base_node="n2_0", k=2, speed_kmh=3.6)
    assert len(two.teams) == 2
    assert two.longest_m <= one.longest_m + 1e-9
    for team in two.teams:
        for cp in team.checkpoint_ids:
            assert two.revisit_interval_s[cp] == pytest.approx(team.length_m)  # 1 m/s
    assert set(two.revisit_interval_s) == {f"CP{i}" for i in range(7)}


def test_unknown_checkpoint_node_is_named(lattice):
    nodes, edges = lattice
    with pytest.raises(ValueError, match="CP1"):
        checkpoint_tour(_checkpoints(["n0_0", "nowhere"]), nodes, edges)


def test_gpx_is_a_track_per_team(lattice):
    nodes, edges = lattice
    at = ["n1_1", "n3_4", "n4_0"]
    tour = checkpoint_tour(_checkpoints(at), nodes, edges, base_node="n0_0", k=2)
    root = ET.fromstring(patrol_gpx(tour, nodes))
    assert root.get("version") == "1.1"
    tracks = root.findall(f"{_GPX}trk")
    assert len(tracks) == 2
    points = tracks[0].findall(f"{_GPX}trkseg/{_GPX}trkpt")
    assert len(points) == len(tour.teams[0].node_path)
    assert float(points[0].get("lon")) == pytest.approx(121.2)
    assert len(root.findall(f"{_GPX}wpt")) == 3
    route = postman_route(nodes, edges, base_node="n0_0")
    one = ET.fromstring(patrol_gpx(route, nodes))
    assert len(one.findall(f"{_GPX}trk/{_GPX}trkseg/{_GPX}trkpt")) == len(route.walk) + 1
    plan = split_patrol(route, 3, nodes=nodes, edges=edges)
    assert len(ET.fromstring(patrol_gpx(plan, nodes)).findall(f"{_GPX}trk")) == 3


def test_demo_village_checkpoints_two_teams():
    demo = generate_demo()
    nodes, edges, cps = demo["road_nodes"], demo["road_edges"], demo["checkpoints"]
    assert len(cps) == 16
    tour = checkpoint_tour(cps, nodes, edges, k=2, time_limit_s=0.5)
    ids = [cp for t in tour.teams for cp in t.checkpoint_ids]
    assert sorted(ids) == sorted(cps["checkpoint_id"])
    assert all(t.checkpoint_ids for t in tour.teams)
    assert all(t.node_path[0] == t.node_path[-1] == tour.base_node for t in tour.teams)
    assert max(tour.revisit_interval_s.values()) == pytest.approx(tour.longest_m / (4.5 / 3.6))
    fc = tour.to_geojson(nodes)
    assert sum(f["geometry"]["type"] == "Point" for f in fc["features"]) == 16


def _tracks(text: str) -> list[np.ndarray]:
    """Each track of a GPX text as an (N, 2) array of (lon, lat)."""
    root = ET.fromstring(text.encode("utf-8"))
    return [
        np.array([(float(p.get("lon")), float(p.get("lat"))) for p in trk.iter(f"{_GPX}trkpt")])
        for trk in root.findall(f"{_GPX}trk")
    ]


def test_patrol_and_tour_gpx_follow_curved_streets():
    lattice = curved_lattice(4)
    nodes, edges = lattice["nodes"], lattice["edges"]
    route = postman_route(nodes, edges, base_node="n0_0")
    plan = split_patrol(route, 2, nodes=nodes, edges=edges)
    tracks = _tracks(patrol_gpx(plan, nodes, edges=edges))
    assert len(tracks) == 2
    for team, track in zip(plan.teams, tracks, strict=True):
        assert len(track) == 3 * len(team.walk) + 1
        assert_track_follows(track, list(team.walk), edges, nodes)
        assert track_length_m(track) == pytest.approx(team.length_m, rel=2e-3)
    at = ["n1_1", "n3_2", "n2_3"]
    tour = checkpoint_tour(_checkpoints(at), nodes, edges, base_node="n0_0", k=2)
    tracks = _tracks(patrol_gpx(tour, nodes, edges=edges))
    for team, track in zip(tour.teams, tracks, strict=True):
        assert [b for _, _, b in team.walk] == list(team.node_path[1:])
        assert_track_follows(track, list(team.walk), edges, nodes)
        assert track_length_m(track) == pytest.approx(team.length_m, rel=2e-3)
    lines = [
        np.array(f["geometry"]["coordinates"])
        for f in tour.to_geojson(nodes, edges=edges)["features"]
        if f["geometry"]["type"] == "LineString"
    ]
    assert [len(x) for x in lines] == [len(x) for x in tracks]
    assert all(np.allclose(a, b, atol=1e-7) for a, b in zip(lines, tracks, strict=True))
