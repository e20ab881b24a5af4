"""Shared helpers of the districting modules: metric points, measures, parent geometry."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from mapserver import crs as crs_mod
from mapserver.model import STORAGE_CRS


def metric_crs_of(parent, buildings: gpd.GeoDataFrame | None = None) -> pyproj.CRS:
    """The local metric CRS for a parent polygon (EPSG:4326), or the buildings when no parent."""
    if parent is not None and not shapely.is_empty(parent):
        return crs_mod.metric_crs(tuple(parent.bounds))
    return crs_mod.metric_crs(buildings)


def to_metric_geom(geom, crs: pyproj.CRS):
    """Project one shapely geometry from EPSG:4326 to ``crs`` (metres)."""
    return gpd.GeoSeries([geom], crs=STORAGE_CRS).to_crs(crs).iloc[0]


def building_points(buildings: gpd.GeoDataFrame, crs: pyproj.CRS) -> np.ndarray:
    """Representative points (inside each footprint) as an (N, 2) array in ``crs`` metres."""
    geoms = buildings.geometry
    if geoms.crs is None:
        geoms = geoms.set_crs(STORAGE_CRS)
    pts = shapely.point_on_surface(np.asarray(geoms.to_crs(crs).values))
    return shapely.get_coordinates(pts).reshape(-1, 2)


def measure_of(buildings: gpd.GeoDataFrame, measure: str) -> np.ndarray:
    """The ``measure`` column as non-negative integers (missing counts as 0)."""
    if measure not in buildings.columns:
        msg = f"buildings have no '{measure}' column (columns: {', '.join(buildings.columns)})"
        raise ValueError(msg)
    values = np.asarray(buildings[measure].fillna(0), dtype=float)
    if (values < 0).any():
        bad = buildings["building_id"].to_numpy()[values < 0][0]
        msg = f"building {bad}: negative {measure}"
        raise ValueError(msg)
    return np.round(values).astype(np.int64)


def building_ids(buildings: gpd.GeoDataFrame) -> np.ndarray:
    """Building ids as strings; duplicates are an error naming the id."""
    ids = buildings["building_id"].astype(str).to_numpy()
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        msg = f"building_id '{uniq[counts > 1][0]}' appears more than once"
        raise ValueError(msg)
    return ids


def polygonal(geom):
    """Only the polygonal parts of a geometry (an overlay or a clip may leave lines or
    points beside them); an empty Polygon when there are none."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()
