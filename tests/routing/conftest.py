"""Tiny deterministic road lattices for the routing tests (EPSG:4326 near Qingpu)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from mapserver.crs import metric_crs

METRIC = "EPSG:4549"
ORIGIN = (121.2, 31.1)
SPACING_M = 100.0


_BACK = Transformer.from_crs(METRIC, "EPSG:4326", always_xy=True)
_OX, _OY = Transformer.from_crs("EPSG:4326", METRIC, always_xy=True).transform(*ORIGIN)


def to_lonlat(xy: np.ndarray) -> np.ndarray:
    """Lattice metres (N, 2) from the origin to lon/lat (N, 2), EPSG:4326."""
    xy = np.atleast_2d(np.asarray(xy, dtype=float))
    return np.column_stack(_BACK.transform(xy[:, 0] + _OX, xy[:, 1] + _OY))


def make_lattice(k: int = 5) -> dict:
    """A k x k two-way drive lattice: node ``n{i}_{j}`` at (100 i, 100 j) m, edges 100 m.

    Returns ``nodes`` and ``edges`` GeoDataFrames with the model columns, EPSG:4326;
    edge ``e{i}_{j}_h`` joins ``n{i}_{j}`` to ``n{i+1}_{j}``, ``e{i}_{j}_v`` to ``n{i}_{j+1}``.
    """
    ij = [(i, j) for i in range(k) for j in range(k)]
    xy = np.array(ij, dtype=float) * SPACING_M
    nodes = gpd.GeoDataFrame(
        {"node_id": [f"n{i}_{j}" for i, j in ij], "kind": "junction"},
        geometry=shapely.points(to_lonlat(xy)),
        crs="EPSG:4326",
    )
    rows = []
    for i, j in ij:
        for di, dj, tag in ((1, 0, "h"), (0, 1, "v")):
            a, b = (i, j), (i + di, j + dj)
            if b[0] < k and b[1] < k:
                line = shapely.LineString(to_lonlat(np.array([a, b], dtype=float) * SPACING_M))
                rows.append(
                    {
                        "edge_id": f"e{i}_{j}_{tag}",
                        "u": f"n{i}_{j}",
                        "v": f"n{b[0]}_{b[1]}",
                        "name": f"路{i}{j}{tag}",
                        "road_class": "street",
                        "oneway": False,
                        "mode": "drive",
                        "length_m": SPACING_M,
                        "closed": False,
                        "geometry": line,
                    }
                )
    edges = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    return {"nodes": nodes, "edges": edges}


def box_lonlat(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    """A lattice-metre box as a polygon in EPSG:4326."""
    return shapely.Polygon(to_lonlat(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])))


@pytest.fixture
def lattice() -> dict:
    """A 5 x 5 drive lattice (nodes, edges), 100 m spacing."""
    return make_lattice(5)


def curved_lattice(k: int = 5) -> dict:
    """The k x k lattice with every edge bent: two interior vertices 12 m off the straight line.

    Edges whose ``(i + j)`` is odd are drawn from ``v`` to ``u`` (against their
    labels, as real data sometimes is); ``length_m`` is each line's length in metres.
    """
    out = make_lattice(k)
    edges = out["edges"].copy()
    nodes = out["nodes"].set_index("node_id").to_crs(METRIC).geometry
    lines, lengths = [], []
    for row in edges.itertuples(index=False):
        a = np.array(nodes[row.u].coords[0])
        b = np.array(nodes[row.v].coords[0])
        side = np.array([-(b - a)[1], (b - a)[0]]) / np.linalg.norm(b - a) * 12.0
        xy = np.array([a, a + (b - a) / 3 + side, a + 2 * (b - a) / 3 - side, b])
        i, j = (int(t) for t in row.u[1:].split("_"))
        if (i + j) % 2:
            xy = xy[::-1]
        lengths.append(float(shapely.LineString(xy).length))
        lines.append(shapely.LineString(np.column_stack(_BACK.transform(xy[:, 0], xy[:, 1]))))
    edges["geometry"] = lines
    edges["length_m"] = lengths
    return {"nodes": out["nodes"], "edges": gpd.GeoDataFrame(edges, geometry="geometry")}


def assert_track_follows(
    track: np.ndarray, steps: list[tuple[str, str, str]], edges: gpd.GeoDataFrame, nodes
) -> None:
    """Every interior vertex of every step's edge is on ``track`` (lon, lat), in travel order.

    ``steps`` are ``(edge_id, from_node, to_node)``; each edge's vertices are put
    in travel order by which end lies nearer the node the step leaves from.
    """
    where = nodes.set_index("node_id").geometry
    geom = edges.set_index("edge_id").geometry
    pos = 0
    for e, a, _b in steps:
        xy = shapely.get_coordinates(geom[e])
        start = np.array(where[a].coords[0])
        if np.linalg.norm(xy[0] - start) > np.linalg.norm(xy[-1] - start):
            xy = xy[::-1]
        for vertex in xy[1:-1]:
            hits = np.flatnonzero(np.abs(track[pos:] - vertex).max(axis=1) < 1e-7)
            assert len(hits), f"vertex {vertex} of edge {e} ({a} ->) not on the track after {pos}"
            pos += int(hits[0])


def track_length_m(track: np.ndarray) -> float:
    """Length in metres of a (lon, lat) track, measured in its local metric CRS."""
    bounds = (*track.min(axis=0), *track.max(axis=0))
    to_m = Transformer.from_crs("EPSG:4326", metric_crs(bounds), always_xy=True)
    x, y = to_m.transform(track[:, 0], track[:, 1])
    return float(np.hypot(np.diff(x), np.diff(y)).sum())
