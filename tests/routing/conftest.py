"""Tiny deterministic road lattices for the routing tests (EPSG:4326 near Qingpu)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer

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
