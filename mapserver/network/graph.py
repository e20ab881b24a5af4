"""The road graph of one travel mode: a sparse matrix of metric lengths over node indices."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from mapserver import crs
from mapserver.model import STORAGE_CRS
from mapserver.network.schema import CLASS_MODE, MODES

# A zero-length arc still has to be an arc of the sparse matrix (scipy drops zeros).
MIN_ARC_M = 1e-6


def arc_weights(lengths) -> np.ndarray:
    """Road lengths as the weights of a sparse graph: every graph of roads (routing, the
    postman, the cordon's distances) lifts a zero length to :data:`MIN_ARC_M`, so the
    arc stays an arc."""
    return np.maximum(np.asarray(lengths, dtype=float), MIN_ARC_M)


@dataclass(frozen=True, eq=False)
class RoadGraph:
    """Directed road graph of one mode; lengths in metres.

    ``matrix[i, j]`` is the length (m) of the shortest arc from node ``i`` to
    node ``j`` (a two-way edge gives both arcs). ``arc_*`` arrays list every
    directed arc, parallel ones included; ``arc_edge`` maps an arc back to its
    edge id. Coordinates are EPSG:4326 (``lon``, ``lat``) and metres in
    ``metric_crs`` (``x``, ``y``).
    """

    mode: str
    node_ids: np.ndarray
    index: dict[str, int]
    lon: np.ndarray
    lat: np.ndarray
    x: np.ndarray
    y: np.ndarray
    metric_crs: pyproj.CRS
    matrix: sp.csr_matrix
    arc_u: np.ndarray
    arc_v: np.ndarray
    arc_length: np.ndarray
    arc_edge: np.ndarray
    arc_class: np.ndarray
    component: np.ndarray  # weakly connected component label per node

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_ids)

    @cached_property
    def active(self) -> np.ndarray:
        """Indices of the nodes with at least one arc in this mode."""
        return np.flatnonzero(
            np.bincount(np.concatenate([self.arc_u, self.arc_v]), minlength=self.n_nodes)
        )

    @cached_property
    def tree(self) -> cKDTree:
        """KD-tree over the metric coordinates of the ``active`` nodes (built on first use)."""
        return cKDTree(np.column_stack([self.x[self.active], self.y[self.active]]))

    @cached_property
    def _shortest_arc(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted keys ``u * n + v`` and the index of the shortest arc for each."""
        key = self.arc_u.astype(np.int64) * self.n_nodes + self.arc_v
        order = np.lexsort((self.arc_length, key))
        key = key[order]
        first = np.ones(len(key), dtype=bool)
        first[1:] = key[1:] != key[:-1]
        return key[first], order[first]

    def arcs_between(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Index of the shortest arc from each node index in ``a`` to the one in ``b``."""
        keys, arcs = self._shortest_arc
        want = np.asarray(a, dtype=np.int64) * self.n_nodes + np.asarray(b, dtype=np.int64)
        pos = np.searchsorted(keys, want)
        if np.any(pos >= len(keys)) or np.any(keys[np.minimum(pos, len(keys) - 1)] != want):
            msg = "no arc joins some consecutive nodes of the path"
            raise ValueError(msg)
        return arcs[pos]

    def to_networkx(self):
        """A ``networkx.MultiDiGraph``: nodes keyed by id (``x`` lon, ``y`` lat), arcs with
        ``length`` (m), ``edge_id`` and ``road_class``."""
        import networkx as nx

        graph = nx.MultiDiGraph(mode=self.mode, crs=STORAGE_CRS)
        graph.add_nodes_from(
            (nid, {"x": float(x), "y": float(y)})
            for nid, x, y in zip(self.node_ids, self.lon, self.lat, strict=True)
        )
        ids = self.node_ids
        graph.add_edges_from(
            (ids[u], ids[v], {"length": float(w), "edge_id": e, "road_class": c})
            for u, v, w, e, c in zip(
                self.arc_u, self.arc_v, self.arc_length, self.arc_edge, self.arc_class, strict=True
            )
        )
        return graph

    def to_igraph(self):
        """A directed ``igraph.Graph``: vertex ``name`` is the node id; arcs carry
        ``length`` (m), ``edge_id`` and ``road_class``."""
        import igraph as ig

        graph = ig.Graph(
            n=self.n_nodes,
            edges=np.column_stack([self.arc_u, self.arc_v]).tolist(),
            directed=True,
        )
        graph.vs["name"] = list(self.node_ids)
        graph.es["length"] = self.arc_length.tolist()
        graph.es["edge_id"] = list(self.arc_edge)
        graph.es["road_class"] = list(self.arc_class)
        return graph


def build_graph(
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    *,
    mode: str = "drive",
    include_closed: bool = False,
) -> RoadGraph:
    """Build the directed graph of one travel mode.

    Parameters
    ----------
    nodes, edges
        Road layers with the ``model`` columns, EPSG:4326; ``length_m`` in metres.
    mode
        ``"drive"``: edges whose mode is drive (a blank mode is taken from the
        road class, so gate edges without a mode count); one-way edges one way.
        ``"walk"``: every edge but water ones, both ways whatever ``oneway`` says.
        ``"water"``: the drive edges plus water (ferry) edges.
    include_closed
        Keep edges flagged ``closed`` (they are left out by default).

    Returns
    -------
    RoadGraph
        Every node of ``nodes`` (isolated or not); self-loops are left out.

    Raises
    ------
    ValueError
        For an unknown mode or edges whose ``u``/``v`` are not in ``nodes``.
    """
    if mode not in MODES:
        msg = f"unknown mode {mode!r}: use one of {list(MODES)}"
        raise ValueError(msg)
    node_ids = np.asarray(nodes["node_id"].astype(str).to_numpy(), dtype=object)
    index = {nid: i for i, nid in enumerate(node_ids)}
    if len(index) != len(node_ids):
        dup = pd.Series(node_ids)[pd.Series(node_ids).duplicated()].iloc[0]
        msg = f"road node '{dup}' appears twice"
        raise ValueError(msg)
    kept = edges[_mode_mask(edges, mode) & (include_closed | ~_flag(edges["closed"]))]
    u = kept["u"].astype(str).map(index)
    v = kept["v"].astype(str).map(index)
    unknown = u.isna() | v.isna()
    if unknown.any():
        bad = kept.loc[unknown, "edge_id"].astype(str).tolist()
        msg = f"{len(bad)} road edge(s) reference unknown nodes, e.g. {bad[:5]}"
        raise ValueError(msg)
    u, v = u.to_numpy(dtype=np.int64), v.to_numpy(dtype=np.int64)
    length = arc_weights(pd.to_numeric(kept["length_m"]).to_numpy(dtype=float))
    both = ~_flag(kept["oneway"]) if mode != "walk" else np.ones(len(kept), dtype=bool)
    arc_u = np.concatenate([u, v[both]])
    arc_v = np.concatenate([v, u[both]])
    arc_length = np.concatenate([length, length[both]])
    edge_ids = kept["edge_id"].astype(str).to_numpy(dtype=object)
    classes = kept["road_class"].astype(str).to_numpy(dtype=object)
    loops = arc_u == arc_v
    arc_u, arc_v, arc_length = arc_u[~loops], arc_v[~loops], arc_length[~loops]
    arc_edge = np.concatenate([edge_ids, edge_ids[both]])[~loops]
    arc_class = np.concatenate([classes, classes[both]])[~loops]

    n = len(node_ids)
    matrix = arc_matrix(arc_u, arc_v, arc_length, n)
    _, component = connected_components(matrix, directed=True, connection="weak")
    points = gpd.GeoSeries(nodes.geometry.values, crs=nodes.crs or STORAGE_CRS).to_crs(STORAGE_CRS)
    lon, lat = points.x.to_numpy(), points.y.to_numpy()
    metric = crs.metric_crs(points) if n else pyproj.CRS(STORAGE_CRS)
    x, y = pyproj.Transformer.from_crs(STORAGE_CRS, metric, always_xy=True).transform(lon, lat)
    return RoadGraph(
        mode=mode,
        node_ids=node_ids,
        index=index,
        lon=lon,
        lat=lat,
        x=np.asarray(x),
        y=np.asarray(y),
        metric_crs=metric,
        matrix=matrix,
        arc_u=arc_u,
        arc_v=arc_v,
        arc_length=arc_length,
        arc_edge=arc_edge,
        arc_class=arc_class,
        component=component,
    )


def arc_matrix(u: np.ndarray, v: np.ndarray, w: np.ndarray, n: int) -> sp.csr_matrix:
    """The sparse graph of every road computation: the shortest arc per (u, v) pair
    (parallel arcs keep the least weight), weights as :func:`arc_weights` lifts them."""
    u, v = np.asarray(u, dtype=np.int64), np.asarray(v, dtype=np.int64)
    w = arc_weights(w)
    key = u * n + v
    order = np.lexsort((w, key))
    key, w = key[order], w[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    key, w = key[first], w[first]
    rows, cols = key // n, key % n
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return sp.csr_matrix((w, cols.astype(np.int32), indptr), shape=(n, n))


def _flag(values: pd.Series) -> np.ndarray:
    """A yes/no column as a bool array (missing is False)."""
    return values.fillna(False).astype(bool).to_numpy()


def _effective_mode(edges: pd.DataFrame) -> pd.Series:
    """Each edge's mode; a blank one is taken from its road class."""
    by_class = edges["road_class"].map(CLASS_MODE)
    given = edges["mode"].where(edges["mode"].notna() & (edges["mode"].astype(str) != ""))
    return given.fillna(by_class).fillna("drive")


def _mode_mask(edges: pd.DataFrame, mode: str) -> np.ndarray:
    """Edges usable in a travel mode."""
    eff = _effective_mode(edges).to_numpy()
    if mode == "drive":
        return eff == "drive"
    if mode == "walk":
        return eff != "water"
    return np.isin(eff, ["drive", "water"])


def apply_closures(
    edges: gpd.GeoDataFrame, closures: gpd.GeoDataFrame, *, buffer_m: float = 5.0
) -> gpd.GeoDataFrame:
    """Mark edges touched by closure geometries as closed.

    Parameters
    ----------
    edges
        Road edges (model columns), EPSG:4326 or any CRS with one set.
    closures
        Points, lines or polygons (a roadblock, a closed street, a sealed area);
        no CRS means EPSG:4326.
    buffer_m
        Distance in metres (measured in the metric CRS of the edges) within
        which a closure touches an edge.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``edges`` with ``closed`` True on every touched edge (edges
        already closed stay closed).
    """
    out = edges.copy()
    out["closed"] = _flag(out["closed"]) if "closed" in out.columns else False
    if not len(out) or not len(closures):
        return out
    metric = crs.metric_crs(crs.to_storage(out.geometry))
    lines = crs.to_storage(out.geometry).to_crs(metric)
    zones = crs.to_storage(gpd.GeoSeries(closures.geometry.values, crs=closures.crs))
    zones = zones[zones.notna() & ~zones.is_empty].to_crs(metric).buffer(buffer_m)
    hit, _ = zones.sindex.query(lines.values, predicate="intersects")
    touched = np.zeros(len(out), dtype=bool)
    touched[np.unique(hit)] = True
    out["closed"] = out["closed"].to_numpy(dtype=bool) | touched
    return out
