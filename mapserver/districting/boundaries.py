"""Micro-grid polygons from assignments: Voronoi cells of buildings, clipped and dissolved."""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import shapely

from mapserver.districting._common import building_ids, building_points, metric_crs_of
from mapserver.model import STORAGE_CRS


def cell_polygons(
    buildings: gpd.GeoDataFrame, assignment: Mapping[str, str], parent
) -> gpd.GeoDataFrame:
    """Polygons of the cells of an assignment, tiling the parent exactly.

    Each building's representative point gets its Voronoi cell (computed in
    the local metric CRS over the parent's envelope); the cells are brought
    back to EPSG:4326, clipped to the parent there and dissolved by cell id, so
    the union of the result is the parent and cells share their edges (no
    gaps, no overlaps). Pieces of a cell that hold no building (slivers left by
    clipping a concave parent) go to the neighbouring cell they share most
    boundary with, so a contiguous assignment gives single polygons.

    Parameters
    ----------
    buildings
        GeoDataFrame with ``building_id`` and geometry, EPSG:4326.
    assignment
        building_id -> cell id; buildings not in it are ignored.
    parent
        shapely (Multi)Polygon in EPSG:4326.

    Returns
    -------
    geopandas.GeoDataFrame
        ``cell_id`` and geometry (Polygon or MultiPolygon), EPSG:4326, one row
        per cell id in the assignment, sorted by cell id.
    """
    ids = building_ids(buildings)
    keep = np.array([i in assignment for i in ids], dtype=bool)
    ids = ids[keep]
    cells = np.array([str(assignment[i]) for i in ids], dtype=object)
    names = sorted(set(cells.tolist()))
    if len(names) == 0:
        return gpd.GeoDataFrame({"cell_id": []}, geometry=[], crs=STORAGE_CRS)
    if len(names) == 1:
        return gpd.GeoDataFrame({"cell_id": names}, geometry=[parent], crs=STORAGE_CRS)
    crs = metric_crs_of(parent, buildings)
    xy = building_points(buildings[keep], crs)
    xy, first = np.unique(np.round(xy, 3), axis=0, return_index=True)
    owner = cells[first]
    envelope = gpd.GeoSeries([parent], crs=STORAGE_CRS).to_crs(crs).iloc[0].envelope
    extent = envelope.buffer(max(envelope.length, 1.0), join_style="mitre")
    pts = shapely.points(xy)
    if len(xy) == 1:
        pieces = np.array([extent])
    else:
        pieces = np.asarray(
            shapely.get_parts(
                shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=extent, ordered=True)
            )
        )
    pieces = gpd.GeoSeries(pieces, crs=crs).to_crs(STORAGE_CRS).values
    pieces = shapely.intersection(shapely.make_valid(np.asarray(pieces)), parent)
    frame = gpd.GeoDataFrame({"cell_id": owner}, geometry=pieces, crs=STORAGE_CRS)
    merged = {
        cid: shapely.union_all(np.asarray(group.geometry.values))
        for cid, group in frame.groupby("cell_id", sort=True)
    }
    merged = _give_away_slivers(merged, pts_4326(buildings[keep]), cells)
    out = gpd.GeoDataFrame(
        {"cell_id": names},
        geometry=[_polygonal(merged.get(c, shapely.Polygon())) for c in names],
        crs=STORAGE_CRS,
    )
    return out


def pts_4326(buildings: gpd.GeoDataFrame) -> np.ndarray:
    """Representative points of building geometries in EPSG:4326 as an array of Points."""
    geoms = buildings.geometry
    if geoms.crs is None:
        geoms = geoms.set_crs(STORAGE_CRS)
    return shapely.point_on_surface(np.asarray(geoms.to_crs(STORAGE_CRS).values))


def _polygonal(geom):
    """Keep only the polygonal parts of a geometry (clipping may leave lines or points)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _give_away_slivers(merged: dict, points: np.ndarray, cells: np.ndarray) -> dict:
    """Hand each building-free piece of a multi-part cell to the neighbour it touches most."""
    merged = {c: _polygonal(g) for c, g in merged.items()}
    tree_ids = list(merged)
    for cid in tree_ids:
        geom = merged[cid]
        if geom.geom_type != "MultiPolygon":
            continue
        own = points[cells == cid]
        parts = list(shapely.get_parts(geom))
        keep, give = [], []
        for part in parts:
            (keep if shapely.intersects(part, own).any() else give).append(part)
        if not keep:
            keep, give = (
                [max(parts, key=lambda p: p.area)],
                [p for p in parts if p is not max(parts, key=lambda p: p.area)],
            )
        for part in give:
            best, shared = None, 0.0
            for other in tree_ids:
                if other == cid:
                    continue
                edge = shapely.intersection(part.boundary, merged[other].boundary).length
                if edge > shared:
                    best, shared = other, edge
            if best is None:
                keep.append(part)
                continue
            merged[best] = _polygonal(shapely.union(merged[best], part))
        merged[cid] = shapely.union_all(keep)
    return merged
