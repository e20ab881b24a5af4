"""Chinese postman routes: a closed walk from a base over every street of an area."""

# The extra (deadhead) distance of an undirected postman walk is a minimum-weight T-join on the
# odd-degree junctions; PyMatching's sparse blossom solves it exactly on the road graph itself
# (no all-pairs distances), which networkx cannot do at district scale. One-way streets turn
# the balance step into a minimum-cost flow (OR-Tools SimpleMinCostFlow).

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import networkx as nx
import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components, dijkstra, minimum_spanning_tree

from mapserver.model import STORAGE_CRS
from mapserver.network.graph import arc_matrix, build_graph

# Integer weights keep the matching and the flow exact: lengths go in as decimetres.
_DM_PER_M = 10
# A step: (edge index, from node index, to node index).
_Step = tuple[int, int, int]


@dataclass(frozen=True, eq=False)
class WalkNetwork:
    """The streets a patrol may walk, as edge arrays over node indices; lengths in metres.

    ``oneway[e]`` is True when edge ``e`` may only be walked from ``u[e]`` to
    ``v[e]``. ``matrix`` holds the shortest arc per ordered node pair (a
    two-way edge gives both arcs); ``arc_edge`` maps such a pair to its edge.
    """

    mode: str
    node_ids: np.ndarray
    index: dict[str, int]
    lon: np.ndarray
    lat: np.ndarray
    edge_ids: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    oneway: np.ndarray
    matrix: sp.csr_matrix
    arc_edge: dict[tuple[int, int], int] = field(repr=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_ids)

    @property
    def directed(self) -> bool:
        """Whether any street is one-way (then walks must respect direction)."""
        return bool(self.oneway.any())

    def node(self, node_id: object, what: str) -> int:
        """Index of a node id; an unknown id is an error naming it."""
        i = self.index.get(str(node_id))
        if i is None:
            msg = f"{what} node '{node_id}' is not in the {self.mode} road graph"
            raise ValueError(msg)
        return i

    def search(
        self, sources: int | Sequence[int], *, reverse: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Dijkstra from ``sources`` (or towards them with ``reverse``): metres and predecessors."""
        graph = self.matrix.T.tocsr() if reverse else self.matrix
        return dijkstra(graph, directed=True, indices=sources, return_predecessors=True)

    def _walk(self, pred: np.ndarray, start: int, stop: int, source: int, target: int) -> list:
        """Nodes from ``start`` following ``pred`` until ``stop`` (ValueError if cut off)."""
        nodes = [start]
        while nodes[-1] != stop:
            p = int(pred[nodes[-1]])
            if p < 0:
                msg = (
                    f"no {self.mode} route from node '{self.node_ids[source]}' "
                    f"to node '{self.node_ids[target]}'"
                )
                raise ValueError(msg)
            nodes.append(p)
        return nodes

    def _steps(self, nodes: list) -> list[_Step]:
        return [(self.arc_edge[(a, b)], a, b) for a, b in itertools.pairwise(nodes)]

    def path_from(self, pred: np.ndarray, source: int, target: int) -> list[_Step]:
        """Steps of the shortest path ``source -> target`` from a predecessor row of ``source``."""
        return self._steps(self._walk(pred, target, source, source, target)[::-1])

    def path_to(self, pred_to: np.ndarray, source: int, target: int) -> list[_Step]:
        """Steps ``source -> target`` from a predecessor row of a reverse search of ``target``."""
        return self._steps(self._walk(pred_to, source, target, source, target))

    def steps_out(self, steps: Iterable[_Step]) -> tuple[tuple[str, str, str], ...]:
        """Steps as ``(edge_id, from_node_id, to_node_id)`` strings."""
        ids, eids = self.node_ids, self.edge_ids
        return tuple((str(eids[e]), str(ids[a]), str(ids[b])) for e, a, b in steps)


def walk_network(
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    *,
    mode: str = "walk",
    respect_oneway: bool = False,
) -> WalkNetwork:
    """The streets usable in a travel mode (closed ones and self-loops left out).

    Parameters
    ----------
    nodes, edges
        Road layers with the ``model`` columns, EPSG:4326; ``length_m`` in metres.
    mode
        Travel mode as in :func:`mapserver.network.build_graph`.
    respect_oneway
        Walk one-way edges only from ``u`` to ``v``; otherwise every edge both ways.

    Returns
    -------
    WalkNetwork
    """
    graph = build_graph(nodes, edges, mode=mode)
    usable = set(graph.arc_edge.tolist())
    eid = edges["edge_id"].astype(str)
    kept = edges[eid.isin(usable).to_numpy()]
    u = kept["u"].astype(str).map(graph.index).to_numpy(dtype=np.int64)
    v = kept["v"].astype(str).map(graph.index).to_numpy(dtype=np.int64)
    length = np.maximum(kept["length_m"].astype(float).to_numpy(), 0.0)
    if respect_oneway:
        oneway = kept["oneway"].fillna(False).astype(bool).to_numpy()
    else:
        oneway = np.zeros(len(kept), dtype=bool)
    best: dict[tuple[int, int], int] = {}
    for e, (a, b) in enumerate(zip(u.tolist(), v.tolist(), strict=True)):
        arcs = [(a, b)] if oneway[e] else [(a, b), (b, a)]
        for arc in arcs:
            old = best.get(arc)
            if old is None or length[e] < length[old]:
                best[arc] = e
    n = graph.n_nodes
    both = ~oneway  # the road graph's arc matrix: the shortest arc of each pair
    matrix = arc_matrix(
        np.concatenate([u, v[both]]),
        np.concatenate([v, u[both]]),
        np.concatenate([length, length[both]]),
        n,
    )
    return WalkNetwork(
        mode=mode,
        node_ids=graph.node_ids,
        index=graph.index,
        lon=graph.lon,
        lat=graph.lat,
        edge_ids=kept["edge_id"].astype(str).to_numpy(dtype=object),
        u=u,
        v=v,
        length=length,
        oneway=oneway,
        matrix=matrix,
        arc_edge=best,
    )


@dataclass(frozen=True)
class PostmanRoute:
    """A closed walk from ``base_node`` over every required street; lengths in metres.

    ``walk`` lists the steps in order as ``(edge_id, from_node, to_node)``;
    ``step_m`` their lengths. The first pass over each edge of ``street_edges``
    is street work, every other step is deadhead.

    ``optimal`` is True when ``length_m`` is proven the shortest closed walk
    (then ``lower_bound_m == length_m``); otherwise ``lower_bound_m`` is a
    proven lower bound on it. ``method`` names how the walk was found:
    ``"t-join"`` (all streets two-way), ``"min-cost-flow"`` (every required
    street one-way), ``"ilp"`` (mixed, integer program) or ``"heuristic"``
    (mixed, integer program out of time). ``unreachable_edges`` are required
    streets left out because the base cannot reach them (and, with one-way
    streets, get back), ``unreachable_m`` their metres.
    """

    base_node: str
    walk: tuple[tuple[str, str, str], ...]
    step_m: tuple[float, ...]
    street_edges: frozenset[str]
    length_m: float
    street_m: float
    deadhead_m: float
    mode: str = "walk"
    respect_oneway: bool = False
    optimal: bool = True
    lower_bound_m: float = 0.0
    method: str = "t-join"
    unreachable_edges: tuple[str, ...] = ()
    unreachable_m: float = 0.0

    @property
    def node_sequence(self) -> tuple[str, ...]:
        """Node ids in walking order, starting and ending at the base."""
        return (self.base_node, *(to for _, _, to in self.walk))

    @property
    def gap(self) -> float:
        """Proven bound on the excess over the shortest walk: length / lower bound - 1."""
        return self.length_m / self.lower_bound_m - 1.0 if self.lower_bound_m > 0 else 0.0

    def is_closed(self) -> bool:
        """Whether the walk is a chain of steps starting and ending at the base."""
        return _is_closed(self.walk, self.base_node)

    def covers(self, edge_ids: Iterable[str]) -> bool:
        """Whether every edge id is walked at least once."""
        walked = {e for e, _, _ in self.walk}
        return all(str(e) in walked for e in edge_ids)

    def deadhead_flags(self) -> list[bool]:
        """Per step, True when it is a deadhead (repeat or connecting) pass."""
        return _deadhead_flags(self.walk, self.street_edges)

    def to_geojson(self, edges: gpd.GeoDataFrame) -> dict:
        """The walk as a GeoJSON FeatureCollection (EPSG:4326), one LineString per step.

        Properties: ``seq``, ``edge_id``, ``from_node``, ``to_node``, ``length_m``,
        ``deadhead``; each line runs in the walking direction.
        """
        return steps_geojson(edges, [(None, self.walk, self.step_m, self.deadhead_flags())])


def postman_route(
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    *,
    area: shapely.Geometry | None = None,
    base_node: str | None = None,
    mode: str = "walk",
    respect_oneway: bool = False,
    skip_unreachable: bool = False,
    time_limit_s: float = 30.0,
) -> PostmanRoute:
    """A shortest closed walk from a base that passes every street of an area.

    Undirected (the default, or no one-way street in the mode): the streets
    whose degree is odd are paired by a minimum-weight T-join on the whole
    road graph (PyMatching, integer decimetres), which is the exact Chinese
    postman optimum when the area's streets are connected. With
    ``respect_oneway`` and every required street one-way: in/out degrees are
    balanced by a minimum-cost flow over the road graph (exact when the
    required streets are connected). Mixed (some required streets two-way,
    some one-way streets in the network): an integer program
    (:func:`mapserver.routing.postman_ilp.mixed_postman`, exact, pieces
    joined by cuts) started from the flow heuristic below; past
    ``time_limit_s`` the better of the heuristic and the best integer
    solution found is kept and ``optimal`` is False. The heuristic: a
    minimum-cost flow in which each two-way street may be walked either way
    (a two-way street that the flow only half turns is walked both ways).
    When the area's streets (and the base) fall into several pieces, the
    T-join and flow paths first link them by the shortest paths of a minimum
    spanning tree over the road distances between pieces (Frederickson's
    rural-postman heuristic; then ``optimal`` is False).

    Parameters
    ----------
    nodes, edges
        Road layers with the ``model`` columns, EPSG:4326; ``length_m`` in metres.
    area
        Polygon in EPSG:4326: the streets whose midpoint lies inside it are
        required (all usable streets when None); any street may be walked.
    base_node
        Node id where the walk starts and ends (default: the start of the
        first required street of the piece of the road graph that holds the
        most required metres).
    mode
        Travel mode (``"walk"``, ``"drive"``, ``"water"``).
    respect_oneway
        Walk one-way streets only from ``u`` to ``v``.
    skip_unreachable
        Leave out (and list in ``unreachable_edges``) the required streets
        that cannot be reached from the base and left again, instead of
        refusing.
    time_limit_s
        Budget of the integer program for mixed networks (seconds).

    Returns
    -------
    PostmanRoute

    Raises
    ------
    ValueError
        When the area has no street, the base is unknown, or (without
        ``skip_unreachable``) some street cannot be reached and left again
        from the base (named in the message).
    """
    net = walk_network(nodes, edges, mode=mode, respect_oneway=respect_oneway)
    required = _required(net, edges, area)
    if not len(required):
        msg = "no usable street has its midpoint inside the area"
        raise ValueError(msg)
    base = net.node(base_node, "base") if base_node is not None else None
    required, base, lost = _reachable(net, required, base, skip=skip_unreachable)
    req_steps = [(int(e), int(net.u[e]), int(net.v[e])) for e in required]
    links = _connectors(net, required, base)
    steps = req_steps + links
    mixed = net.directed and not net.oneway[required].all()
    method = "min-cost-flow" if net.directed else "t-join"
    extra = _balance(net, steps) if net.directed else _t_join(net, steps)
    circuit = _euler(net, steps + extra, base)
    length = float(net.length[[e for e, _, _ in circuit]].sum())
    street = float(net.length[required].sum())
    optimal, lower = not links, length
    if mixed:
        from mapserver.routing.postman_ilp import mixed_postman

        sol = mixed_postman(
            net, required, base, upper_m=length, hint=circuit, time_limit_s=time_limit_s
        )
        # Walks ignoring directions are no longer: the undirected T-join bounds them too.
        undirected = street + float(sum(net.length[e] for e, _, _ in _t_join(net, req_steps)))
        optimal, lower, method = sol.optimal, max(sol.lower_bound_m, undirected), "ilp"
        if sol.steps is not None and sol.length_m <= length:
            circuit, length = _euler(net, sol.steps, base), sol.length_m
        else:
            method = "heuristic"
        lower = min(lower, length)
        optimal = optimal or length <= lower + 1e-6
    elif links:
        # Without the links the balance step is a relaxation: a proven lower bound.
        free = _balance(net, list(req_steps)) if net.directed else _t_join(net, req_steps)
        lower = street + float(sum(net.length[e] for e, _, _ in free))
    step_m = tuple(float(net.length[e]) for e, _, _ in circuit)
    length = float(sum(step_m))
    return PostmanRoute(
        base_node=str(net.node_ids[base]),
        walk=net.steps_out(circuit),
        step_m=step_m,
        street_edges=frozenset(str(x) for x in net.edge_ids[required]),
        length_m=length,
        street_m=street,
        deadhead_m=length - street,
        mode=mode,
        respect_oneway=respect_oneway,
        optimal=optimal,
        lower_bound_m=length if optimal else min(lower, length),
        method=method,
        unreachable_edges=tuple(str(x) for x in net.edge_ids[lost]),
        unreachable_m=float(net.length[lost].sum()),
    )


def _required(
    net: WalkNetwork, edges: gpd.GeoDataFrame, area: shapely.Geometry | None
) -> np.ndarray:
    """Indices of the usable edges whose midpoint lies in ``area`` (all when None)."""
    nonloop = np.flatnonzero(net.u != net.v)
    if area is None:
        return nonloop
    geom = edges.set_index(edges["edge_id"].astype(str)).geometry
    src = geom.crs
    lines = gpd.GeoSeries(geom.loc[list(net.edge_ids[nonloop])].values, crs=src or STORAGE_CRS)
    lines = lines.to_crs(STORAGE_CRS)
    mid = shapely.line_interpolate_point(lines.values, 0.5, normalized=True)
    shapely.prepare(area)
    return nonloop[shapely.covers(area, mid)]


def _reachable(
    net: WalkNetwork, required: np.ndarray, base: int | None, *, skip: bool
) -> tuple[np.ndarray, int, np.ndarray]:
    """Required streets in the base's (strongly) connected piece, the base, and the others.

    Without a base, the piece holding the most required metres gives it.
    Raises ValueError naming the others unless ``skip``.
    """
    kind = "strong" if net.directed else "weak"
    _, label = connected_components(net.matrix, directed=True, connection=kind)
    lu, lv = label[net.u[required]], label[net.v[required]]
    if base is None:
        inside = lu == lv
        first = 0
        if inside.any():
            metres = np.bincount(lu[inside], weights=net.length[required[inside]])
            first = int(np.flatnonzero(inside & (lu == int(np.argmax(metres))))[0])
        base = int(net.u[required[first]])
    bad = (lu != label[base]) | (lv != label[base])
    if bad.any() and (not skip or bad.all()):
        names = [str(x) for x in net.edge_ids[required[bad]]]
        how = "reached and left again" if net.directed else "reached"
        msg = (
            f"{len(names)} street(s) cannot be {how} from base node "
            f"'{net.node_ids[base]}', e.g. {names[:5]}"
        )
        raise ValueError(msg)
    return required[~bad], base, required[bad]


def _connectors(net: WalkNetwork, required: np.ndarray, base: int) -> list[_Step]:
    """Shortest paths of a minimum spanning tree linking the pieces of the required streets."""
    n = net.n_nodes
    touched = np.unique(np.concatenate([net.u[required], net.v[required], [base]]))
    sub = sp.csr_matrix((np.ones(len(required)), (net.u[required], net.v[required])), shape=(n, n))
    _, label = connected_components(sub, directed=False)
    pieces = np.unique(label[touched])
    if len(pieces) < 2:
        return []
    members = [touched[label[touched] == p] for p in pieces]
    dist = np.full((len(pieces), len(pieces)), np.inf)
    searches = []
    for i, src in enumerate(members):
        d, pred, origin = dijkstra(
            net.matrix, directed=True, indices=src, min_only=True, return_predecessors=True
        )
        searches.append((d, pred, origin))
        for j, dst in enumerate(members):
            if i != j:
                dist[i, j] = d[dst].min()
    sym = np.minimum(dist, dist.T)
    tree = minimum_spanning_tree(sp.csr_matrix(np.where(np.isfinite(sym), sym + 1e-9, 0.0)))
    out: list[_Step] = []
    for i, j in zip(*tree.nonzero(), strict=True):
        a, b = (i, j) if dist[i, j] <= dist[j, i] else (j, i)
        d, pred, origin = searches[a]
        target = int(members[b][np.argmin(d[members[b]])])
        out += net.path_from(pred, int(origin[target]), target)
    return out


def _t_join(net: WalkNetwork, steps: list[_Step]) -> list[_Step]:
    """Edges to walk again so that every node has even degree: a minimum T-join (PyMatching)."""
    import pymatching

    deg = np.bincount(
        np.array([x for _, a, b in steps for x in (a, b)], dtype=np.int64), minlength=net.n_nodes
    )
    odd = (deg % 2).astype(np.uint8)
    if not odd.any():
        return []
    # Incidence matrix: one column per edge (its fault id), one row per node; parallel
    # edges keep the shortest.
    edge = np.flatnonzero(net.u != net.v)
    cols = np.repeat(np.arange(len(edge)), 2)
    rows = np.column_stack([net.u[edge], net.v[edge]]).ravel()
    incidence = sp.csc_matrix(
        (np.ones(len(rows), dtype=np.uint8), (rows, cols)), shape=(net.n_nodes, len(edge))
    )
    weight = np.rint(net.length[edge] * _DM_PER_M)
    matching = pymatching.Matching()
    matching.load_from_check_matrix(incidence, weights=weight, merge_strategy="smallest-weight")
    chosen = edge[np.flatnonzero(matching.decode(odd))]
    return [(int(e), int(net.u[e]), int(net.v[e])) for e in chosen]


def _balance(net: WalkNetwork, steps: list[_Step]) -> list[_Step]:
    """Deadhead steps (and turned two-way streets) balancing in and out degree: min-cost flow.

    Two-way required steps in ``steps`` may be turned round in place.
    """
    from ortools.graph.python import min_cost_flow

    n = net.n_nodes
    net_in = np.zeros(n, dtype=np.int64)
    two_way: list[int] = []
    for k, (e, a, b) in enumerate(steps):
        net_in[b] += 1
        net_in[a] -= 1
        if not net.oneway[e]:
            two_way.append(k)
    arcs = list(net.arc_edge.items())
    tails = [a for (a, _), _ in arcs] + [steps[k][2] for k in two_way]
    heads = [b for (_, b), _ in arcs] + [steps[k][1] for k in two_way]
    big = 2 * len(steps) + 2
    caps = [big] * len(arcs) + [2] * len(two_way)
    costs = [round(net.length[e] * _DM_PER_M) for _, e in arcs] + [0] * len(two_way)
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        np.array(tails, dtype=np.int32),
        np.array(heads, dtype=np.int32),
        np.array(caps, dtype=np.int64),
        np.array(costs, dtype=np.int64),
    )
    flow.set_nodes_supplies(np.arange(n, dtype=np.int32), net_in)
    status = flow.solve()
    if status != flow.OPTIMAL:
        msg = f"the one-way streets cannot be balanced (min-cost flow status {status})"
        raise ValueError(msg)
    f = flow.flows(np.arange(len(tails), dtype=np.int32))
    extra: list[_Step] = []
    for (arc, e), units in zip(arcs, f[: len(arcs)].tolist(), strict=True):
        extra += [(e, arc[0], arc[1])] * int(units)
    for k, units in zip(two_way, f[len(arcs) :].tolist(), strict=True):
        e, a, b = steps[k]
        if units == 2:
            steps[k] = (e, b, a)
        elif units == 1:
            extra.append((e, b, a))
    return extra


def _euler(net: WalkNetwork, steps: list[_Step], base: int) -> list[_Step]:
    """An Euler circuit from ``base`` through every step (each step used once)."""
    graph = nx.MultiDiGraph() if net.directed else nx.MultiGraph()
    graph.add_edges_from((a, b, k) for k, (_, a, b) in enumerate(steps))
    out: list[_Step] = []
    for a, b, k in nx.eulerian_circuit(graph, source=base, keys=True):
        out.append((steps[k][0], a, b))
    return out


def _is_closed(walk: Sequence[tuple[str, str, str]], base: str) -> bool:
    """Whether the steps chain from ``base`` back to ``base``."""
    if not walk:
        return True
    at = base
    for _, a, b in walk:
        if a != at:
            return False
        at = b
    return at == base


def _deadhead_flags(walk: Sequence[tuple[str, str, str]], street: frozenset[str]) -> list[bool]:
    """True for every step that is not the first pass over a required street."""
    seen: set[str] = set()
    out = []
    for e, _, _ in walk:
        first = e in street and e not in seen
        seen.add(e)
        out.append(not first)
    return out


def steps_geojson(
    edges: gpd.GeoDataFrame,
    parts: Sequence[tuple[int | None, Sequence[tuple[str, str, str]], Sequence[float], list[bool]]],
) -> dict:
    """GeoJSON FeatureCollection (EPSG:4326) of walks: one LineString per step.

    ``parts`` holds ``(team, walk, step lengths in metres, deadhead flags)``;
    each line is drawn in the walking direction (reversed where a step runs
    ``v -> u``).
    """
    frame = edges.set_index(edges["edge_id"].astype(str))
    geom = gpd.GeoSeries(frame.geometry.values, index=frame.index, crs=frame.crs or STORAGE_CRS)
    geom = geom.to_crs(STORAGE_CRS)
    starts = frame["u"].astype(str)
    features = []
    for team, walk, step_m, flags in parts:
        for seq, ((e, a, _b), m, dead) in enumerate(zip(walk, step_m, flags, strict=True)):
            coords = list(geom.loc[e].coords)
            if starts.loc[e] != a:
                coords.reverse()
            props = {
                "seq": seq,
                "edge_id": e,
                "from_node": a,
                "to_node": _b,
                "length_m": round(float(m), 2),
                "deadhead": bool(dead),
            }
            if team is not None:
                props["team"] = team
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "LineString", "coordinates": [list(c) for c in coords]},
                    "properties": props,
                }
            )
    return {"type": "FeatureCollection", "features": features}
