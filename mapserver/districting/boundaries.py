"""Micro-grid polygons from assignments: the buildings' regions dissolved by cell."""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import shapely

from mapserver.districting._common import building_ids, metric_crs_of, polygonal
from mapserver.districting.regions import GRID_M, building_regions
from mapserver.model import STORAGE_CRS


def cell_polygons(
    buildings: gpd.GeoDataFrame, assignment: Mapping[str, str], parent
) -> gpd.GeoDataFrame:
    """Polygons of the cells of an assignment, tiling the parent exactly.

    Each building owns a region of the parent (:func:`~mapserver.districting.
    regions.building_regions`, in the local metric CRS): single pieces that
    hold their whole footprint, so no cell boundary cuts a footprint. The
    regions are dissolved by cell id and brought back to EPSG:4326, so the
    union of the result is the parent (to the millimetre) and cells share
    their edges (no gaps, no overlaps). Cells contiguous by
    :func:`~mapserver.districting.adjacency.building_adjacency` (which reads
    the same regions) come out as single polygons.

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
    regions = building_regions(buildings[keep], parent, crs)
    merged = []
    for name in names:
        mine = regions[cells == name]
        merged.append(shapely.union_all(mine[~shapely.is_empty(mine)], grid_size=GRID_M))
    back = gpd.GeoSeries(merged, crs=crs).to_crs(STORAGE_CRS)
    return gpd.GeoDataFrame(
        {"cell_id": names}, geometry=[polygonal(g) for g in back], crs=STORAGE_CRS
    )


def pts_4326(buildings: gpd.GeoDataFrame) -> np.ndarray:
    """Representative points of building geometries in EPSG:4326 as an array of Points."""
    geoms = buildings.geometry
    if geoms.crs is None:
        geoms = geoms.set_crs(STORAGE_CRS)
    return shapely.point_on_surface(np.asarray(geoms.to_crs(STORAGE_CRS).values))
