"""Shortest-path distances, paths and nearest nodes on a road graph (metres)."""

# A search limited to a distance bound, widened only for the pairs it misses, is exact and
# touches just the area around the stops; no contraction-hierarchy library on PyPI installs
# here from a wheel (pandana is not indexed, fast-paths needs a Rust build).

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence

import numpy as np
import pyproj
from scipy.sparse.csgraph import dijkstra

from mapserver.model import STORAGE_CRS
from mapserver.network.graph import RoadGraph

# Road distance over straight-line distance rarely exceeds this in a street network.
DETOUR_FACTOR = 1.5
MIN_BOUND_M = 1000.0
# Rows of a dense dijkstra answer kept in memory at once (float64 cells).
_CELLS_PER_CHUNK = 8_000_000
_GROUP = 64  # sources searched together under one bound
_HIERARCHIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # graph -> its CH


def _indices(graph: RoadGraph, ids: Sequence[str], what: str) -> np.ndarray:
    """Node indices of node ids; an unknown id is an error naming it."""
    out = np.empty(len(ids), dtype=np.int64)
    for k, nid in enumerate(ids):
        i = graph.index.get(str(nid))
        if i is None:
            msg = f"{what} node '{nid}' is not in the {graph.mode} road graph"
            raise ValueError(msg)
        out[k] = i
    return out


def _search(graph: RoadGraph, sources: np.ndarray, targets: np.ndarray, limit: float) -> np.ndarray:
    """Dijkstra from each distinct source, limited to ``limit`` metres; rows per source."""
    out = np.full((len(sources), len(targets)), np.inf)
    unique, inverse = np.unique(sources, return_inverse=True)
    chunk = max(1, _CELLS_PER_CHUNK // max(graph.n_nodes, 1))
    for start in range(0, len(unique), chunk):
        block = unique[start : start + chunk]
        dist = dijkstra(graph.matrix, directed=True, indices=block, limit=limit)
        rows = np.flatnonzero((inverse >= start) & (inverse < start + len(block)))
        out[rows] = dist[inverse[rows] - start][:, targets]
    return out


def distance_matrix(
    graph: RoadGraph,
    sources: Sequence[str],
    targets: Sequence[str],
    *,
    limit_m: float | None = None,
    method: str = "bounded",
) -> np.ndarray:
    """Shortest road distances from every source to every target.

    Exact. Without ``limit_m`` the search from each source is first bounded by
    ``DETOUR_FACTOR`` times the straight-line distance (metric CRS) to its
    farthest target (at least ``MIN_BOUND_M``), so it only sweeps the area
    around the stops; a source that misses a target of its own connected
    piece is searched again with the bound doubled, until the bound covers the
    whole graph.

    Parameters
    ----------
    graph
        From :func:`mapserver.network.build_graph`.
    sources, targets
        Node ids.
    limit_m
        Give up beyond this many metres (those cells are ``inf``).
    method
        ``"bounded"`` (above) or ``"ch"``: bucket queries on a contraction
        hierarchy (:mod:`mapserver.network.ch`, needs numba), built on the first
        call for a graph and kept while the graph lives; also exact.

    Returns
    -------
    numpy.ndarray
        ``(len(sources), len(targets))`` float metres; ``inf`` where unreachable.
    """
    if method not in ("bounded", "ch"):
        msg = f"unknown distance matrix method {method!r}: use 'bounded' or 'ch'"
        raise ValueError(msg)
    src = _indices(graph, sources, "source")
    tgt = _indices(graph, targets, "target")
    if not len(src) or not len(tgt):
        return np.zeros((len(src), len(tgt)))
    if method == "ch":
        from mapserver.network.ch import build_ch, ch_matrix

        if graph not in _HIERARCHIES:
            _HIERARCHIES[graph] = build_ch(graph)
        out = ch_matrix(_HIERARCHIES[graph], src, tgt)
        if limit_m is not None:
            out[out > limit_m] = np.inf
        return out
    if limit_m is not None:
        return _search(graph, src, tgt, float(limit_m))
    whole = math.hypot(np.ptp(graph.x), np.ptp(graph.y))
    straight = np.hypot(
        graph.x[src][:, None] - graph.x[tgt][None, :], graph.y[src][:, None] - graph.y[tgt][None, :]
    )
    bound = np.maximum(DETOUR_FACTOR * straight.max(axis=1), MIN_BOUND_M)
    out = np.full((len(src), len(tgt)), np.inf)
    order = np.argsort(bound, kind="stable")
    for start in range(0, len(order), _GROUP):
        rows = order[start : start + _GROUP]
        limit = float(bound[rows].max())
        out[rows] = _search(graph, src[rows], tgt, limit if limit < whole else np.inf)
    same = graph.component[src][:, None] == graph.component[tgt][None, :]
    missed = np.flatnonzero((np.isinf(out) & same).any(axis=1))
    while len(missed):
        bound[missed] *= 2.0
        limit = float(bound[missed].max())
        limit = limit if limit < whole else np.inf
        out[missed] = _search(graph, src[missed], tgt, limit)
        if np.isinf(limit):
            break
        missed = missed[(np.isinf(out[missed]) & same[missed]).any(axis=1)]
    return out


def shortest_path(
    graph: RoadGraph, source_id: str, target_id: str
) -> tuple[list[str], list[str], float]:
    """The shortest path between two nodes.

    Returns
    -------
    (node ids, edge ids, metres)
        Nodes from source to target, the edge of each step (the shortest edge
        where parallel ones join two nodes), and the length in metres.

    Raises
    ------
    ValueError
        When a node is unknown or the target cannot be reached.
    """
    s, t = _indices(graph, [source_id, target_id], "path end")
    if s == t:
        return [str(source_id)], [], 0.0
    dist, pred = dijkstra(graph.matrix, directed=True, indices=int(s), return_predecessors=True)
    if not np.isfinite(dist[t]):
        msg = f"no {graph.mode} route from node '{source_id}' to node '{target_id}'"
        raise ValueError(msg)
    path = [int(t)]
    while path[-1] != s:
        path.append(int(pred[path[-1]]))
    path = np.asarray(path[::-1])
    arcs = graph.arcs_between(path[:-1], path[1:])
    return (
        [str(graph.node_ids[i]) for i in path],
        [str(e) for e in graph.arc_edge[arcs]],
        float(dist[t]),
    )


def nearest_node(graph: RoadGraph, lon: float, lat: float) -> str:
    """Id of the node nearest to a point (lon/lat degrees, EPSG:4326), in metres.

    Only nodes on at least one road of the graph's mode are candidates.
    """
    if not len(graph.active):
        msg = f"the {graph.mode} road graph has no roads"
        raise ValueError(msg)
    transformer = pyproj.Transformer.from_crs(STORAGE_CRS, graph.metric_crs, always_xy=True)
    x, y = transformer.transform(float(lon), float(lat))
    _, i = graph.tree.query([x, y])
    return str(graph.node_ids[graph.active[int(i)]])
