"""Cell polygons after an edit, drawn from the current ones: only the boundaries next to
moved buildings change, and they follow roads where a road separates what moved.

The parent is cut into blocks by its current cells and by the roads inside the cells
that change. A block whose buildings all go to one cell goes to it whole (its edges are
the roads and the old boundaries); a block whose buildings go different ways is shared
by the buildings' own regions (:func:`~mapserver.districting.regions.metric_regions`);
a block without buildings goes with its nearest building. Cells that lose or gain no
building keep their polygon. The result tiles the parent, as
:func:`~mapserver.districting.boundaries.cell_polygons` does.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import shapely

from mapserver.districting._common import building_ids, metric_crs_of, polygonal
from mapserver.districting.regions import GRID_M, metric_regions
from mapserver.model import STORAGE_CRS

_SLIVER_M2 = 0.01  # pieces of the overlays smaller than this carry nothing
_FREE = "\x00free"  # the part of the parent no current cell covers


def redraw_cells(
    buildings: gpd.GeoDataFrame,
    assignment: Mapping[str, str],
    parent,
    current: gpd.GeoDataFrame,
    *,
    roads=None,
) -> gpd.GeoDataFrame:
    """Polygons of the cells of ``assignment``, changed from ``current`` only where
    buildings moved.

    Parameters
    ----------
    buildings
        GeoDataFrame with ``building_id`` and geometry (footprints or points), EPSG:4326.
    assignment
        building_id -> cell id; buildings not in it are ignored.
    parent
        shapely (Multi)Polygon in EPSG:4326.
    current
        The cells as they are: ``cell_id`` and geometry, EPSG:4326. Overlaps are given to
        the first row, and any part of the parent they leave uncovered is shared out
        like a cell that lost all its buildings.
    roads
        Lines in EPSG:4326 (GeoDataFrame, GeoSeries or a list of shapely lines) along which new
        boundaries are drawn where they separate what moved; None for none.

    Returns
    -------
    geopandas.GeoDataFrame
        ``cell_id`` and geometry, EPSG:4326, one row per cell id of the assignment,
        sorted by cell id.
    """
    ids = building_ids(buildings)
    keep = np.array([i in assignment for i in ids], dtype=bool)
    names = sorted({str(assignment[i]) for i in ids[keep]})
    if not names:
        return gpd.GeoDataFrame({"cell_id": []}, geometry=[], crs=STORAGE_CRS)
    crs = metric_crs_of(parent, buildings)
    area = polygonal(shapely.make_valid(_metric([parent], crs)[0]))
    feet = _metric(buildings.geometry[keep], crs)
    points = shapely.point_on_surface(feet)
    goes_to = np.array([str(assignment[i]) for i in ids[keep]], dtype=object)

    owners, polygons = _disjoint_cells(current, area, crs)
    owner = _owner_of(points, polygons)
    inside = owner >= 0  # buildings outside the parent own no area, as cell_polygons does
    changed = {
        k
        for k, name in enumerate(owners)
        if name not in names or np.any(goes_to[owner == k] != name)
    }
    pieces: dict[str, list] = {name: [] for name in names}
    for k, name in enumerate(owners):
        if k not in changed:
            pieces[name].append(polygons[k])
            continue
        members = np.flatnonzero(inside & (owner == k))
        for block in _blocks(polygons[k], roads, crs):
            _share_block(block, members, feet, points, goes_to, pieces)
    merged = [
        shapely.union_all([polygonal(p) for p in pieces[name]], grid_size=GRID_M)
        if pieces[name]
        else shapely.Polygon()
        for name in names
    ]
    back = gpd.GeoSeries(merged, crs=crs).to_crs(STORAGE_CRS)
    return gpd.GeoDataFrame(
        {"cell_id": names}, geometry=[polygonal(g) for g in back], crs=STORAGE_CRS
    )


def _metric(geoms, crs) -> np.ndarray:
    """Geometries (a list, GeoSeries or GeoDataFrame in EPSG:4326) in ``crs``."""
    if isinstance(geoms, gpd.GeoDataFrame):
        geoms = geoms.geometry
    series = gpd.GeoSeries(list(geoms), crs=STORAGE_CRS)
    return np.asarray(series.to_crs(crs).values, dtype=object)


def _disjoint_cells(current: gpd.GeoDataFrame, area, crs) -> tuple[list[str], np.ndarray]:
    """The current cells in metres, clipped to the parent and made disjoint (earlier rows
    keep overlaps), plus the uncovered rest of the parent as its own owner."""
    owners: list[str] = []
    polygons: list = []
    taken = shapely.Polygon()
    metric = _metric(current.geometry, crs) if len(current) else []
    for name, geom in zip(current["cell_id"].astype(str), metric, strict=True):
        clipped = shapely.intersection(polygonal(shapely.make_valid(geom)), area, grid_size=GRID_M)
        mine = polygonal(shapely.difference(polygonal(clipped), taken, grid_size=GRID_M))
        if shapely.area(mine) <= _SLIVER_M2:
            continue
        owners.append(name)
        polygons.append(mine)
        taken = polygonal(shapely.union(taken, mine, grid_size=GRID_M))
    rest = polygonal(shapely.difference(area, taken, grid_size=GRID_M))
    if shapely.area(rest) > _SLIVER_M2:
        owners.append(_FREE)
        polygons.append(rest)
    return owners, np.asarray(polygons, dtype=object)


def _owner_of(points: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Per point, the index of the polygon covering it (the first one), or -1."""
    owner = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(polygons) == 0:
        return owner
    hits, polys = shapely.STRtree(polygons).query(points, predicate="covered_by")
    order = np.lexsort((polys, hits))
    hits, polys = hits[order], polys[order]
    first = np.unique(hits, return_index=True)[1]
    owner[hits[first]] = polys[first]
    return owner


def _blocks(polygon, roads, crs) -> list:
    """The polygon cut by the roads that cross it (the polygon alone without roads)."""
    if roads is None or len(roads) == 0:
        return list(shapely.get_parts(polygon))
    lines = _metric(roads, crs)
    lines = lines[shapely.intersects(lines, polygon)]
    if len(lines) == 0:
        return list(shapely.get_parts(polygon))
    # cut a little beyond the edge, so each road crosses the boundary and is noded there
    cuts = shapely.get_parts(
        shapely.intersection(lines, shapely.buffer(polygon, 1.0, join_style="mitre"))
    )
    cuts = cuts[shapely.get_dimensions(cuts) == 1]  # the lines (a touch leaves a point)
    noded = shapely.union_all([shapely.boundary(polygon), *cuts])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    faces = faces[shapely.area(faces) > _SLIVER_M2]
    # polygonize also fills the polygon's holes: keep the faces inside it
    inside = shapely.covers(shapely.buffer(polygon, 10 * GRID_M), shapely.point_on_surface(faces))
    faces = [shapely.intersection(f, polygon, grid_size=GRID_M) for f in faces[inside]]
    faces = [polygonal(f) for f in faces if shapely.area(f) > _SLIVER_M2]
    covered = shapely.union_all(faces, grid_size=GRID_M) if faces else shapely.Polygon()
    rest = polygonal(shapely.difference(polygon, covered, grid_size=GRID_M))
    if shapely.area(rest) > _SLIVER_M2:  # what the faces missed (rounding), as its own blocks
        faces.extend(shapely.get_parts(rest))
    return faces


def _share_block(
    block,
    members: np.ndarray,
    feet: np.ndarray,
    points: np.ndarray,
    goes_to: np.ndarray,
    pieces: dict[str, list],
) -> None:
    """Give one block to the cell of its buildings, or share it by their regions when
    they go different ways, or give it to its nearest building's cell when it has none."""
    here = members[shapely.covered_by(points[members], block)] if len(members) else members
    ways = set(goes_to[here].tolist())
    if len(ways) == 1:
        pieces[next(iter(ways))].append(block)
        return
    if not len(here):
        pool = members if len(members) else np.arange(len(points))
        if not len(pool):
            return
        nearest = pool[np.argmin(shapely.distance(points[pool], block))]
        pieces[goes_to[nearest]].append(block)
        return
    regions = metric_regions(feet[here], block)
    for i, region in zip(here, regions, strict=True):
        if not shapely.is_empty(region):
            pieces[goes_to[i]].append(region)
