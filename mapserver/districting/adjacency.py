"""Which buildings neighbour each other: regions sharing an edge, barriers cut."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from mapserver.districting._common import building_points, metric_crs_of
from mapserver.districting.regions import building_regions, region_edges
from mapserver.model import STORAGE_CRS

BARRIER_CLASSES: tuple[str, ...] = ("main", "water")
ORDINARY = 1  # matrix value of an ordinary neighbour pair
FLAGGED = 2  # matrix value of a pair kept across a barrier


def barrier_lines(road_edges: gpd.GeoDataFrame, *, classes=BARRIER_CLASSES) -> gpd.GeoSeries:
    """The road edges that cut neighbourhoods: main roads and water by default (EPSG:4326)."""
    keep = road_edges["road_class"].astype(str).isin(classes)
    return road_edges.geometry[keep]


def building_adjacency(
    buildings: gpd.GeoDataFrame,
    parent,
    *,
    barriers=None,
    weights: np.ndarray | None = None,
    min_component: float | None = None,
) -> sp.csr_matrix:
    """Neighbouring buildings as a symmetric sparse matrix.

    Two buildings neighbour when their regions (``regions.building_regions``:
    footprint-aware Voronoi cells clipped to ``parent``, in the local metric
    CRS) share an edge. Pairs whose connecting segment crosses a barrier line (main roads,
    water) are removed, unless removing them would leave a group of buildings
    cut off: such a group (a single building, or a group whose ``weights``
    sum under ``min_component``) is joined again by its shortest removed
    pairs, which are flagged. Buildings whose Voronoi cells do not touch
    inside the parent (a parent in several pieces) are not joined.

    Parameters
    ----------
    buildings
        GeoDataFrame with ``building_id`` and geometry (footprints or points),
        EPSG:4326; row order gives the matrix order.
    parent
        shapely (Multi)Polygon in EPSG:4326, or None for no clipping.
    barriers
        Lines in EPSG:4326 (GeoSeries/GeoDataFrame or a list of shapely lines),
        e.g. :func:`barrier_lines` of the road edges; None for none.
    weights
        Per-building size (e.g. households) used with ``min_component``.
    min_component
        Groups cut off with weight under this are rejoined; None: only single
        buildings are rejoined.

    Returns
    -------
    scipy.sparse.csr_matrix
        N x N, symmetric, int8: ``1`` for ordinary neighbours, ``2`` for a
        pair kept across a barrier (flagged).
    """
    n = len(buildings)
    if n == 0:
        return sp.csr_matrix((0, 0), dtype=np.int8)
    crs = metric_crs_of(parent, buildings)
    xy = building_points(buildings, crs)
    edges = region_edges(building_regions(buildings, parent, crs))
    if len(edges) == 0:
        return sp.csr_matrix((n, n), dtype=np.int8)
    segments = shapely.linestrings(np.stack([xy[edges[:, 0]], xy[edges[:, 1]]], axis=1))
    bad = np.zeros(len(edges), dtype=bool)
    lines = _barrier_array(barriers, crs)
    if len(lines):
        tree = shapely.STRtree(lines)
        hit = tree.query(segments, predicate="intersects")[0]
        bad[np.unique(hit)] = True
    kept = edges[~bad]
    restored = _rejoin(n, kept, edges[bad], segments[bad], weights, min_component)
    rows = np.concatenate([kept[:, 0], restored[:, 0]])
    cols = np.concatenate([kept[:, 1], restored[:, 1]])
    vals = np.concatenate(
        [np.full(len(kept), ORDINARY, np.int8), np.full(len(restored), FLAGGED, np.int8)]
    )
    mat = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()
    return (mat + mat.T).tocsr()


def _barrier_array(barriers, crs) -> np.ndarray:
    """Barrier geometries in metres as an array (empty when none)."""
    if barriers is None:
        return np.empty(0, dtype=object)
    if isinstance(barriers, gpd.GeoDataFrame):
        barriers = barriers.geometry
    if not isinstance(barriers, gpd.GeoSeries):
        barriers = gpd.GeoSeries(list(barriers), crs=STORAGE_CRS)
    if barriers.crs is None:
        barriers = barriers.set_crs(STORAGE_CRS)
    values = np.asarray(barriers.to_crs(crs).values)
    return values[~shapely.is_empty(values)]


def _rejoin(n, kept, removed, segments, weights, min_component) -> np.ndarray:
    """Removed edges (shortest first) that rejoin cut-off groups, Kruskal style."""
    if len(removed) == 0:
        return np.empty((0, 2), dtype=np.int64)
    graph = sp.coo_matrix((np.ones(len(kept)), (kept[:, 0], kept[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    size = np.bincount(labels).astype(float)
    w = np.bincount(labels, weights=weights).astype(float) if weights is not None else size
    parent = np.arange(len(size))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def small(a: int) -> bool:
        if min_component is None:
            return size[a] <= 1
        return w[a] < min_component or size[a] <= 1

    out = []
    for k in np.argsort(shapely.length(segments), kind="stable"):
        a, b = find(labels[removed[k, 0]]), find(labels[removed[k, 1]])
        if a == b or not (small(a) or small(b)):
            continue
        parent[b] = a
        size[a] += size[b]
        w[a] += w[b]
        out.append(removed[k])
    return np.array(out, dtype=np.int64).reshape(-1, 2)
