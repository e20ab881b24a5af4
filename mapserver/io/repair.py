"""Repair of imperfect boundaries: sibling overlaps resolved by a stated rule, gaps reported."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from mapserver import crs
from mapserver.model import STORAGE_CRS

# Pieces smaller than this (m²) are neither cut nor reported.
MIN_PIECE_M2 = 1.0
OVERLAP_RULE = "the larger of two overlapping sibling grids keeps the overlap"


@dataclass(frozen=True)
class BoundaryChange:
    """One change (or finding) of a repair, in square metres.

    ``kind`` is ``"overlap"`` (``area_m2`` cut from ``grid_id``, kept by
    ``other_id``) or ``"gap"`` (an area inside ``other_id``, the parent, or
    between top-level grids, that no grid covers; nothing is changed).
    """

    kind: str
    grid_id: str | None
    other_id: str | None
    area_m2: float
    lon: float
    lat: float

    def describe(self, file: str) -> str:
        """One line for the import report."""
        where = f"near ({self.lon:.6f}, {self.lat:.6f})"
        if self.kind == "overlap":
            return (
                f"{file}: '{self.grid_id}' loses {self.area_m2:,.0f} m² it shared with "
                f"'{self.other_id}' {where} ({OVERLAP_RULE})"
            )
        inside = f"inside '{self.other_id}'" if self.other_id else "between top-level grids"
        return f"{file}: gap of {self.area_m2:,.0f} m² {inside} covered by no grid {where}"


def _metric_area(geoms: np.ndarray, metric) -> np.ndarray:
    """Areas in m² of EPSG:4326 geometries."""
    series = gpd.GeoSeries(list(geoms), crs=STORAGE_CRS).to_crs(metric)
    return series.area.to_numpy()


def _where(geom) -> tuple[float, float]:
    """A point inside a geometry as (lon, lat)."""
    point = shapely.point_on_surface(geom)
    return float(point.x), float(point.y)


def resolve_overlaps(
    ids: list, parents: list, geoms: np.ndarray, good: np.ndarray
) -> tuple[np.ndarray, list[BoundaryChange]]:
    """Cut each overlap between siblings (same parent) from the smaller of the two.

    Geometries are EPSG:4326 (Multi)Polygons; areas are compared in a metric
    CRS. Returns the new geometries (a copy) and one change per overlap cut.
    """
    geoms = np.asarray(geoms, dtype=object).copy()
    rows = np.flatnonzero(good)
    if len(rows) < 2:
        return geoms, []
    metric = crs.metric_crs(gpd.GeoSeries(list(geoms[rows]), crs=STORAGE_CRS))
    area = dict(zip(rows, _metric_area(geoms[rows], metric), strict=True))
    tree = shapely.STRtree(geoms[rows])
    left, right = tree.query(geoms[rows], predicate="intersects")
    changes: list[BoundaryChange] = []
    for a, b in zip(left, right, strict=True):
        i, j = int(rows[a]), int(rows[b])
        if i >= j or parents[i] != parents[j]:
            continue
        inter = shapely.intersection(geoms[i], geoms[j])
        if inter.is_empty:
            continue
        polygons = _polygonal_part(inter)
        if polygons is None:
            continue
        cut = float(_metric_area(np.array([polygons], dtype=object), metric)[0])
        if cut <= MIN_PIECE_M2:
            continue
        keep, lose = (i, j) if area[i] >= area[j] else (j, i)
        geoms[lose] = _polygonal_part(shapely.difference(geoms[lose], geoms[keep]))
        lon, lat = _where(polygons)
        changes.append(BoundaryChange("overlap", ids[lose], ids[keep], cut, lon, lat))
    return geoms, changes


def _polygonal_part(geom):
    """The polygons of a geometry (lines and points of a touching boundary dropped)."""
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else None


def find_gaps(
    ids: list, parents: list, geoms: np.ndarray, good: np.ndarray, parent_geoms: dict
) -> list[BoundaryChange]:
    """Areas no sibling covers: inside each parent (given in ``parent_geoms``), or holes
    between top-level grids. Geometries in EPSG:4326; pieces under MIN_PIECE_M2 skipped."""
    rows = np.flatnonzero(good)
    if not len(rows):
        return []
    metric = crs.metric_crs(gpd.GeoSeries(list(geoms[rows]), crs=STORAGE_CRS))
    groups: dict[object, list[int]] = {}
    for i in rows:
        groups.setdefault(parents[i], []).append(int(i))
    found: list[BoundaryChange] = []
    for parent, members in groups.items():
        union = shapely.union_all(geoms[members])
        if parent is not None and parent in parent_geoms:
            holes = shapely.difference(parent_geoms[parent], union)
        elif parent is None:
            rings = [
                shapely.Polygon(ring)
                for poly in getattr(union, "geoms", [union])
                for ring in getattr(poly, "interiors", [])
            ]
            holes = shapely.union_all(rings) if rings else None
        else:
            continue
        holes = _polygonal_part(holes)
        if holes is None:
            continue
        pieces = np.asarray(list(getattr(holes, "geoms", [holes])), dtype=object)
        areas = _metric_area(pieces, metric)
        for piece, piece_area in zip(pieces, areas, strict=True):
            if piece_area > MIN_PIECE_M2:
                lon, lat = _where(piece)
                found.append(BoundaryChange("gap", None, parent, float(piece_area), lon, lat))
    return found
