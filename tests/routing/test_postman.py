"""Tests for mapserver.routing.postman: coverage, closed walks and brute-force optimal deadhead."""

from __future__ import annotations

import itertools
import random

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, box

from mapserver.demo import generate_demo
from mapserver.routing.postman import postman_route

# About 100 m per 0.001 degree near Shanghai; positions only matter for areas and maps.
_DEG = 0.001


def _layers(xy: dict[str, tuple[float, float]], edges: list[tuple]) -> tuple:
    """Road layers from node positions and ``(edge_id, u, v, length_m[, oneway])`` rows."""
    nodes = gpd.GeoDataFrame(
        {"node_id": list(xy), "kind": "junction"},
        geometry=[Point(121.2 + x * _DEG, 31.1 + y * _DEG) for x, y in xy.values()],
        crs="EPSG:4326",
    )
    rows = []
    for edge in edges:
        eid, u, v, length = edge[:4]
        oneway = edge[4] if len(edge) > 4 else False
        (x0, y0), (x1, y1) = xy[u], xy[v]
        rows.append(
            {
                "edge_id": eid,
                "u": u,
                "v": v,
                "name": eid,
                "road_class": "lane",
                "oneway": oneway,
                "mode": "drive",
                "length_m": float(length),
                "closed": False,
                "geometry": LineString(
                    [(121.2 + x0 * _DEG, 31.1 + y0 * _DEG), (121.2 + x1 * _DEG, 31.1 + y1 * _DEG)]
                ),
            }
        )
    return nodes, gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs="EPSG:4326")


def _lattice(n: int, *, seed: int = 0) -> tuple:
    """An n x n street lattice with integer lengths 80-120 m."""
    rng = random.Random(seed)
    xy = {f"n{i}_{j}": (i, j) for i in range(n) for j in range(n)}
    edges = []
    for i, j in itertools.product(range(n), range(n)):
        if i + 1 < n:
            edges.append((f"h{i}_{j}", f"n{i}_{j}", f"n{i + 1}_{j}", rng.randint(80, 120)))
        if j + 1 < n:
            edges.append((f"v{i}_{j}", f"n{i}_{j}", f"n{i}_{j + 1}", rng.randint(80, 120)))
    return _layers(xy, edges)


def _random_graph(seed: int, n_nodes: int, n_edges: int) -> tuple:
    """A seeded connected multigraph: a random tree plus extra (possibly parallel) edges."""
    rng = random.Random(seed)
    names = [f"n{i}" for i in range(n_nodes)]
    xy = {name: (rng.uniform(0, 5), rng.uniform(0, 5)) for name in names}
    pairs = [(names[i], names[rng.randrange(i)]) for i in range(1, n_nodes)]
    while len(pairs) < n_edges:
        a, b = rng.sample(names, 2)
        pairs.append((a, b))
    edges = [(f"e{k}", a, b, rng.randint(10, 99)) for k, (a, b) in enumerate(pairs)]
    return _layers(xy, edges)


def assert_valid_walk(route, edges: gpd.GeoDataFrame, required) -> None:
    """Closed at the base, each step an edge between its own ends, every required edge walked."""
    ends = {
        str(r.edge_id): (str(r.u), str(r.v), bool(r.oneway)) for r in edges.itertuples(index=False)
    }
    assert route.is_closed()
    at = route.base_node
    for eid, a, b in route.walk:
        u, v, oneway = ends[eid]
        assert a == at
        if oneway and route.respect_oneway:
            assert (a, b) == (u, v), f"one-way {eid} walked against its direction"
        else:
            assert {a, b} == {u, v}
        at = b
    assert at == route.base_node
    assert route.covers(required)
    assert route.length_m == pytest.approx(sum(route.step_m))
    assert route.deadhead_m == pytest.approx(route.length_m - route.street_m)


def _brute_deadhead(edges: gpd.GeoDataFrame) -> float:
    """Minimum extra metres over every set of edges walked twice that evens all degrees."""
    rows = list(edges.itertuples(index=False))
    deg: dict[str, int] = {}
    for r in rows:
        deg[r.u] = deg.get(r.u, 0) + 1
        deg[r.v] = deg.get(r.v, 0) + 1
    best = np.inf
    for picks in itertools.product((0, 1), repeat=len(rows)):
        d = dict(deg)
        cost = 0.0
        for pick, r in zip(picks, rows, strict=True):
            if pick:
                d[r.u] += 1
                d[r.v] += 1
                cost += r.length_m
        if cost < best and all(x % 2 == 0 for x in d.values()):
            best = cost
    return best


def _brute_directed_deadhead(edges: gpd.GeoDataFrame, *, max_copies: int = 2) -> float:
    """Minimum extra metres of arc copies (0..max_copies each) balancing in and out degree."""
    rows = list(edges.itertuples(index=False))
    base: dict[str, int] = {}
    for r in rows:
        base[r.u] = base.get(r.u, 0) - 1
        base[r.v] = base.get(r.v, 0) + 1
    best = np.inf
    for picks in itertools.product(range(max_copies + 1), repeat=len(rows)):
        d = dict(base)
        cost = 0.0
        for pick, r in zip(picks, rows, strict=True):
            d[r.u] -= pick
            d[r.v] += pick
            cost += pick * r.length_m
        if cost < best and not any(d.values()):
            best = cost
    return best


@pytest.mark.parametrize("seed", range(8))
def test_random_small_graphs_match_brute_force(seed):
    rng = random.Random(100 + seed)
    n_nodes = rng.randint(3, 6)
    nodes, edges = _random_graph(seed, n_nodes, rng.randint(n_nodes, 10))
    route = postman_route(nodes, edges)
    assert_valid_walk(route, edges, edges["edge_id"])
    assert route.deadhead_m == pytest.approx(_brute_deadhead(edges))


def test_lattice_3x3_matches_brute_force_from_any_base():
    nodes, edges = _lattice(3)
    best = _brute_deadhead(edges)
    assert best > 0  # four odd junctions on the sides
    for base in ("n0_0", "n1_1", "n2_1"):
        route = postman_route(nodes, edges, base_node=base)
        assert route.base_node == base
        assert_valid_walk(route, edges, edges["edge_id"])
        assert route.deadhead_m == pytest.approx(best)
        assert route.node_sequence[0] == route.node_sequence[-1] == base


def test_even_graph_has_no_deadhead():
    nodes, edges = _layers(
        {"a": (0, 0), "b": (1, 0), "c": (1, 1), "d": (0, 1)},
        [("ab", "a", "b", 10), ("bc", "b", "c", 20), ("cd", "c", "d", 30), ("da", "d", "a", 40)],
    )
    route = postman_route(nodes, edges, base_node="c")
    assert route.deadhead_m == 0
    assert len(route.walk) == 4
    assert route.length_m == 100


def test_t_join_equals_networkx_matching_over_shortest_paths():
    nodes, edges = _lattice(6, seed=3)
    route = postman_route(nodes, edges)
    graph = nx.MultiGraph()
    graph.add_weighted_edges_from((r.u, r.v, r.length_m) for r in edges.itertuples(index=False))
    odd = [n for n, d in graph.degree() if d % 2]
    dist = dict(nx.all_pairs_dijkstra_path_length(graph))
    pairs = nx.Graph()
    pairs.add_weighted_edges_from((a, b, dist[a][b]) for a, b in itertools.combinations(odd, 2))
    matching = nx.min_weight_matching(pairs)
    assert route.deadhead_m == pytest.approx(sum(dist[a][b] for a, b in matching))


def test_area_takes_streets_with_midpoint_inside():
    nodes, edges = _lattice(4)
    area = box(121.2 - 0.0001, 31.1 - 0.0001, 121.2 + 0.0021, 31.1 + 0.0011)  # 3 x 2 nodes
    mid = shapely.line_interpolate_point(edges.geometry.values, 0.5, normalized=True)
    inside = edges.loc[shapely.covers(area, mid), "edge_id"].tolist()
    route = postman_route(nodes, edges, area=area, base_node="n0_0")
    assert set(route.street_edges) == set(inside)
    assert route.street_m == pytest.approx(edges.set_index("edge_id").loc[inside, "length_m"].sum())
    assert_valid_walk(route, edges, inside)
    sub = edges[edges["edge_id"].isin(inside)]
    assert route.deadhead_m == pytest.approx(_brute_deadhead(sub))


def test_disconnected_area_streets_are_linked_through_other_streets():
    # a-b and c-d are required; they are joined only through the unrequired b-x-c.
    xy = {"a": (0, 0), "b": (1, 0), "x": (2, 3), "c": (3, 0), "d": (4, 0)}
    nodes, edges = _layers(
        xy,
        [("ab", "a", "b", 100), ("bx", "b", "x", 50), ("xc", "x", "c", 50), ("cd", "c", "d", 100)],
    )
    area = box(121.2 - 0.0001, 31.1 - 0.0001, 121.2 + 0.0041, 31.1 + 0.0005)
    route = postman_route(nodes, edges, area=area, base_node="a")
    assert route.street_edges == frozenset({"ab", "cd"})
    assert_valid_walk(route, edges, ["ab", "cd"])
    assert route.deadhead_m == pytest.approx(400.0)  # ab, bxc twice, cd back


def test_base_off_the_area_is_joined():
    nodes, edges = _layers(
        {"h": (0, 0), "a": (1, 0), "b": (2, 0), "c": (2, 1)},
        [("ha", "h", "a", 30), ("ab", "a", "b", 10), ("bc", "b", "c", 10), ("ca", "c", "a", 10)],
    )
    area = box(121.2 + 0.0009, 31.1 - 0.0001, 121.2 + 0.0021, 31.1 + 0.0011)
    route = postman_route(nodes, edges, area=area, base_node="h")
    assert_valid_walk(route, edges, ["ab", "bc", "ca"])
    assert route.deadhead_m == pytest.approx(60.0)


def test_directed_matches_brute_force_min_cost_flow():
    # All required streets one-way: the balance step is the whole problem.
    nodes, edges = _layers(
        {"a": (0, 0), "b": (1, 0), "c": (1, 1), "d": (0, 1)},
        [
            ("ab", "a", "b", 10, True),
            ("bc", "b", "c", 20, True),
            ("ca", "c", "a", 15, True),
            ("ad", "a", "d", 12, True),
            ("dc", "d", "c", 11, True),
            ("cb", "c", "b", 25, True),
        ],
    )
    route = postman_route(nodes, edges, respect_oneway=True, base_node="a")
    assert_valid_walk(route, edges, edges["edge_id"])
    assert route.deadhead_m == pytest.approx(_brute_directed_deadhead(edges))
    assert route.deadhead_m > 0


def test_mixed_one_way_walk_respects_direction():
    nodes, edges = _lattice(3, seed=5)
    edges.loc[edges["edge_id"].isin(["h0_0", "h1_0", "v2_0", "v2_1"]), "oneway"] = True
    route = postman_route(nodes, edges, respect_oneway=True, base_node="n1_1")
    assert_valid_walk(route, edges, edges["edge_id"])
    free = postman_route(nodes, edges, base_node="n1_1")
    assert route.length_m >= free.length_m - 1e-9


def test_unreachable_one_way_street_is_named():
    nodes, edges = _layers(
        {"a": (0, 0), "b": (1, 0), "c": (2, 0)},
        [("ab", "a", "b", 10), ("bc", "b", "c", 10, True)],
    )
    with pytest.raises(ValueError, match="bc"):
        postman_route(nodes, edges, respect_oneway=True, base_node="a")


def test_empty_area_and_unknown_base_are_errors():
    nodes, edges = _lattice(2)
    with pytest.raises(ValueError, match="no usable street"):
        postman_route(nodes, edges, area=box(0, 0, 1, 1))
    with pytest.raises(ValueError, match="'nowhere'"):
        postman_route(nodes, edges, base_node="nowhere")


def test_to_geojson_draws_each_step_in_walking_order():
    nodes, edges = _lattice(3)
    route = postman_route(nodes, edges, base_node="n0_0")
    fc = route.to_geojson(edges)
    assert len(fc["features"]) == len(route.walk)
    where = {r.node_id: (r.geometry.x, r.geometry.y) for r in nodes.itertuples()}
    for feature, (eid, a, b) in zip(fc["features"], route.walk, strict=True):
        coords = feature["geometry"]["coordinates"]
        assert feature["properties"]["edge_id"] == eid
        assert coords[0] == pytest.approx(where[a])
        assert coords[-1] == pytest.approx(where[b])
    dead = sum(f["properties"]["length_m"] for f in fc["features"] if f["properties"]["deadhead"])
    assert dead == pytest.approx(route.deadhead_m, abs=0.1)


@pytest.fixture(scope="module")
def demo():
    return generate_demo()


def test_demo_small_grid_streets(demo):
    grids = demo["grids"]
    nodes, edges = demo["road_nodes"], demo["road_edges"]
    grid = grids[grids["level"] == "small"].iloc[0]
    route = postman_route(nodes, edges, area=grid.geometry)
    assert len(route.street_edges) > 3
    assert_valid_walk(route, edges, route.street_edges)


def test_demo_whole_walk_network(demo):
    nodes, edges = demo["road_nodes"], demo["road_edges"]
    route = postman_route(nodes, edges)
    walkable = edges[(edges["mode"] != "water") & ~edges["closed"].astype(bool)]
    walkable = walkable[walkable["u"] != walkable["v"]]
    assert route.street_edges == frozenset(walkable["edge_id"])
    assert_valid_walk(route, edges, walkable["edge_id"])


def test_parallel_streets_repeat_the_shortest_one():
    nodes, edges = _layers(
        {"a": (0, 0), "b": (1, 0)},
        [("long", "a", "b", 50), ("short", "a", "b", 10), ("mid", "a", "b", 40)],
    )
    route = postman_route(nodes, edges, base_node="a")
    assert_valid_walk(route, edges, ["long", "short", "mid"])
    assert route.deadhead_m == pytest.approx(10.0)
    assert [e for e, _, _ in route.walk].count("short") == 2


def _brute_closed_walk(edges: gpd.GeoDataFrame, base: str, required) -> float:
    """Shortest closed walk from ``base`` over every required edge, by search over states.

    A state is (node, set of required edges walked); each edge is a move (one-way
    edges only from ``u`` to ``v``). Independent of any postman theory: the
    definition itself, solved by networkx Dijkstra on the state graph.
    """
    rows = list(edges.itertuples(index=False))
    bit = {str(e): 1 << i for i, e in enumerate(required)}
    full = (1 << len(bit)) - 1
    moves = []
    for r in rows:
        moves.append((r.u, r.v, r.length_m, bit.get(r.edge_id, 0)))
        if not r.oneway:
            moves.append((r.v, r.u, r.length_m, bit.get(r.edge_id, 0)))
    states = nx.DiGraph()
    for mask in range(full + 1):
        for a, b, length, flag in moves:
            old = states.get_edge_data((a, mask), (b, mask | flag), {"weight": np.inf})
            states.add_edge((a, mask), (b, mask | flag), weight=min(length, old["weight"]))
    try:
        return nx.dijkstra_path_length(states, (base, 0), (base, full))
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return np.inf


def _random_mixed(seed: int) -> tuple:
    """A seeded strongly connected small road graph, some streets one-way, some two-way."""
    rng = random.Random(seed)
    while True:
        n_nodes = rng.randint(3, 6)
        names = [f"n{i}" for i in range(n_nodes)]
        xy = {name: (rng.uniform(0, 5), rng.uniform(0, 5)) for name in names}
        pairs = [(names[i], names[rng.randrange(i)]) for i in range(1, n_nodes)]
        while len(pairs) < rng.randint(n_nodes, 8):
            pairs.append(tuple(rng.sample(names, 2)))
        oneway = [rng.random() < 0.4 for _ in pairs]
        if all(oneway) or not any(oneway):
            continue
        graph = nx.DiGraph()
        for (a, b), one in zip(pairs, oneway, strict=True):
            graph.add_edges_from([(a, b)] if one else [(a, b), (b, a)])
        if nx.is_strongly_connected(graph):
            rows = [
                (f"e{k}", a, b, rng.randint(5, 60), one)
                for k, ((a, b), one) in enumerate(zip(pairs, oneway, strict=True))
            ]
            return _layers(xy, rows)


def test_mixed_smallest_case_from_issue_is_exact():
    # 4 streets, one one-way (n1 -> n0); the flow heuristic turns a two-way street
    # "halfway" (priced 0, walked both ways) and walks 32 m; the optimum is 20 m.
    nodes, edges = _layers(
        {"n0": (2.74, 1.08), "n1": (1.08, 1.26), "n2": (2.37, 2.22)},
        [
            ("e0", "n1", "n0", 2),
            ("e1", "n2", "n1", 4),
            ("e2", "n1", "n0", 2, True),
            ("e3", "n2", "n0", 10),
        ],
    )
    assert _brute_closed_walk(edges, "n1", edges["edge_id"]) == pytest.approx(20.0)
    route = postman_route(nodes, edges, respect_oneway=True, base_node="n1")
    assert_valid_walk(route, edges, edges["edge_id"])
    assert route.length_m == pytest.approx(20.0)
    assert route.optimal and route.method == "ilp"
    assert route.lower_bound_m == pytest.approx(20.0)
    old = postman_route(nodes, edges, respect_oneway=True, base_node="n1", time_limit_s=0)
    assert_valid_walk(old, edges, edges["edge_id"])
    assert old.length_m > 20.0  # the heuristic alone misses it
    assert old.lower_bound_m <= 20.0


@pytest.mark.parametrize("seed", range(20))
def test_mixed_random_graphs_equal_brute_force(seed):
    nodes, edges = _random_mixed(seed)
    route = postman_route(nodes, edges, respect_oneway=True, base_node="n0")
    assert_valid_walk(route, edges, edges["edge_id"])
    assert route.method == "ilp"
    assert route.optimal
    assert route.length_m == pytest.approx(_brute_closed_walk(edges, "n0", edges["edge_id"]))
    assert route.lower_bound_m == pytest.approx(route.length_m)
    heuristic = postman_route(nodes, edges, respect_oneway=True, base_node="n0", time_limit_s=0)
    assert_valid_walk(heuristic, edges, edges["edge_id"])
    assert heuristic.method == "heuristic"
    assert heuristic.optimal == (heuristic.length_m <= heuristic.lower_bound_m + 1e-9)
    assert heuristic.length_m >= route.length_m - 1e-9
    assert heuristic.lower_bound_m <= route.length_m + 1e-9


@pytest.mark.parametrize("seed", range(10))
def test_mixed_rural_subsets_equal_brute_force(seed):
    # Only some streets required (possibly in pieces, away from the base): cuts join them.
    nodes, edges = _random_mixed(1000 + seed)
    rng = random.Random(seed)
    ids = edges["edge_id"].tolist()
    required = sorted(rng.sample(ids, rng.randint(1, len(ids) - 1)))
    sub = edges[edges["edge_id"].isin(required)]
    mid = shapely.line_interpolate_point(sub.geometry.values, 0.5, normalized=True)
    area = shapely.union_all(shapely.buffer(mid, 1e-6))
    base = str(rng.choice(nodes["node_id"].tolist()))
    route = postman_route(nodes, edges, area=area, respect_oneway=True, base_node=base)
    assert route.street_edges >= frozenset(required)  # parallel streets share midpoints
    required = sorted(route.street_edges)
    assert_valid_walk(route, edges, required)
    best = _brute_closed_walk(edges, base, required)
    if route.method == "ilp":
        assert route.optimal
        assert route.length_m == pytest.approx(best)
    else:  # every required street one-way: min-cost flow, exact unless linked in pieces
        assert route.lower_bound_m <= best + 1e-9 <= route.length_m + 2e-9
        if route.optimal:
            assert route.length_m == pytest.approx(best)


def test_unreachable_streets_are_listed_and_the_rest_planned():
    # Required a-b-c plus a piece x-y that no street joins; and a one-way dead end c->d.
    nodes, edges = _layers(
        {"a": (0, 0), "b": (1, 0), "c": (2, 0), "d": (3, 0), "x": (0, 3), "y": (1, 3)},
        [
            ("ab", "a", "b", 10),
            ("bc", "b", "c", 10),
            ("cd", "c", "d", 7, True),
            ("xy", "x", "y", 5),
        ],
    )
    with pytest.raises(ValueError, match="cannot be reached"):
        postman_route(nodes, edges, respect_oneway=True, base_node="a")
    route = postman_route(nodes, edges, respect_oneway=True, base_node="a", skip_unreachable=True)
    assert set(route.unreachable_edges) == {"cd", "xy"}
    assert route.unreachable_m == pytest.approx(12.0)
    assert route.street_edges == frozenset({"ab", "bc"})
    assert_valid_walk(route, edges, ["ab", "bc"])
    assert route.length_m == pytest.approx(40.0)
    # Without a base, the piece with the most street metres is planned.
    route = postman_route(nodes, edges, skip_unreachable=True)
    assert set(route.unreachable_edges) == {"xy"}
    assert route.base_node in {"a", "b", "c", "d"}


def test_real_extract_pieces_not_joined_are_listed(realdata):
    from mapserver.network.osm import read_osm_roads

    nodes, edges = read_osm_roads(realdata / "beijing-wangjing.osm")
    route = postman_route(nodes, edges, skip_unreachable=True)
    usable = route.street_edges | set(route.unreachable_edges)
    graph = nx.MultiGraph()
    for r in edges[edges["edge_id"].isin(usable)].itertuples(index=False):
        graph.add_edge(r.u, r.v, key=r.edge_id)
    piece = nx.node_connected_component(graph, route.base_node)
    joined = {k for a, _, k in graph.edges(keys=True) if a in piece}
    assert route.unreachable_edges  # the extract holds streets cut off from the rest
    assert route.street_edges == joined
    assert set(route.unreachable_edges) == usable - joined
    lengths = edges.set_index("edge_id")["length_m"]
    assert route.unreachable_m == pytest.approx(lengths[list(route.unreachable_edges)].sum())
    assert_valid_walk(route, edges, joined)
    assert route.optimal


def test_time_out_join_links_loose_pieces_into_one_closed_walk():
    # Two balanced loops a-b-a and c-d-c, joined only through one-way x: the repair used
    # when the integer program runs out of time must give one closed walk from a.
    from mapserver.routing.postman import walk_network
    from mapserver.routing.postman_ilp import _join, _pieces

    nodes, edges = _layers(
        {"a": (0, 0), "b": (1, 0), "x": (2, 1), "c": (3, 0), "d": (4, 0)},
        [
            ("ab", "a", "b", 10),
            ("bx", "b", "x", 5, True),
            ("xc", "x", "c", 5, True),
            ("cb", "c", "b", 12, True),
            ("cd", "c", "d", 10),
        ],
    )
    net = walk_network(nodes, edges, respect_oneway=True)
    i = net.index
    e = {str(k): n for n, k in enumerate(net.edge_ids)}
    steps = [
        (e["ab"], i["a"], i["b"]),
        (e["ab"], i["b"], i["a"]),
        (e["cd"], i["c"], i["d"]),
        (e["cd"], i["d"], i["c"]),
    ]
    a = np.array([s[1] for s in steps])
    b = np.array([s[2] for s in steps])
    loose = [p for p in _pieces(net.n_nodes, a, b, i["a"]) if i["a"] not in p]
    assert len(loose) == 1
    joined = steps + _join(net, steps, i["a"], loose)
    graph = nx.MultiDiGraph()
    graph.add_edges_from((s[1], s[2]) for s in joined)
    assert nx.is_eulerian(graph)
    extra = sum(net.length[s[0]] for s in joined[len(steps) :])
    assert extra == pytest.approx(5 + 5 + 12)  # b -> x -> c and back c -> b
