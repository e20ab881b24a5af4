"""The area each building owns in its parent: footprint-aware Voronoi regions, one piece each.

Our own code (no library cuts a polygon into single-piece cells around
footprints): Voronoi cells of points along every footprint, minus other
footprints, plus the building's own, clipped to the parent; pieces cut off by
a notch go to the neighbour they share most boundary with, and buildings at the
very same point share that point's region by sectors.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from mapserver.districting._common import polygonal
from mapserver.model import STORAGE_CRS

GRID_M = 1e-3  # precision grid of the overlays (metres): keeps shared edges exact
MIN_SHARED_M = 0.05  # regions sharing less boundary than this are not neighbours
_SITES = 8  # points sampled along a footprint's boundary (besides its corners)
_SPECK_M2 = 1.0  # loose pieces smaller than this (m²) touching nothing are dropped
_SECTOR_M = 0.5  # radius of the sectors given to buildings at the same point

_cache: dict = {}


def building_regions(buildings: gpd.GeoDataFrame, parent, crs: pyproj.CRS) -> np.ndarray:
    """One region per building (metric polygons, row order), tiling the parent.

    Every region is a single Polygon or empty (a building outside the parent,
    or a footprint wholly under another's), regions do not overlap, their union
    is the parent (in ``crs``, to the millimetre), and each holds its
    building's whole footprint inside the parent except where footprints
    overlap (the earlier row keeps the overlap). A point building lies inside
    its region, or on its edge when several buildings stand at the same point.

    Parameters
    ----------
    buildings
        Footprints or points, EPSG:4326.
    parent
        shapely (Multi)Polygon in EPSG:4326, or None (the envelope of the
        buildings grown by 50 m).
    crs
        The local metric CRS to work in.
    """
    key = _key(buildings, parent, crs)
    if key in _cache:
        return _cache[key].copy()
    geoms = buildings.geometry
    if geoms.crs is None:
        geoms = geoms.set_crs(STORAGE_CRS)
    feet = np.asarray(geoms.to_crs(crs).values)
    area = _parent(parent, feet, crs)
    regions = _regions(feet, area)
    _cache.clear()
    _cache[key] = regions
    return regions.copy()


def metric_regions(feet: np.ndarray, area) -> np.ndarray:
    """:func:`building_regions` of footprints already in metres, tiling the metric polygon
    ``area`` (no projection and no cache: for many small areas in one CRS)."""
    return _regions(np.asarray(feet, dtype=object), polygonal(shapely.make_valid(area)))


def region_edges(regions: np.ndarray) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, of regions sharing at least ``MIN_SHARED_M`` of boundary.

    Edges within 5 mm of each other count as shared (the overlays snap to 1 mm).
    """
    if len(regions) < 2:
        return np.empty((0, 2), dtype=np.int64)
    grown = shapely.buffer(regions, 5 * GRID_M, quad_segs=1)
    tree = shapely.STRtree(grown)
    left, right = tree.query(grown, predicate="intersects")
    pick = left < right
    left, right = left[pick], right[pick]
    shared = shapely.length(shapely.intersection(shapely.boundary(regions[left]), grown[right]))
    good = shared > MIN_SHARED_M
    return np.column_stack([left[good], right[good]]).astype(np.int64).reshape(-1, 2)


def _key(buildings, parent, crs) -> tuple:
    wkb = shapely.to_wkb(np.asarray(buildings.geometry.values))
    return (hash(tuple(wkb)), None if parent is None else parent.wkb, str(crs))


def _parent(parent, feet: np.ndarray, crs):
    """The parent in metres, polygonal and valid."""
    if parent is None:
        return shapely.box(*shapely.total_bounds(feet)).buffer(50.0, join_style="mitre")
    metric = gpd.GeoSeries([parent], crs=STORAGE_CRS).to_crs(crs).iloc[0]
    return polygonal(shapely.make_valid(metric))


def _regions(feet: np.ndarray, area) -> np.ndarray:
    n = len(feet)
    empty = shapely.Polygon()
    if n == 0 or area.is_empty:
        return np.full(n, empty, dtype=object)
    owned = _own_footprints(feet, area)
    sites, owner = _sites(feet, owned)
    raw = _voronoi(sites, owner, n, area)
    tree = shapely.STRtree(owned)
    left, right = tree.query(raw, predicate="intersects")
    pick = left != right
    left, right = left[pick], right[pick]
    regions = raw.copy()
    for i in np.unique(left):  # raw regions reaching over other footprints
        taken = shapely.union_all(owned[right[left == i]])
        regions[i] = shapely.difference(raw[i], taken, grid_size=GRID_M)
    odd = np.flatnonzero(~np.isin(shapely.get_type_id(regions), (3, 6)))
    regions[odd] = [polygonal(g) for g in regions[odd]]
    has = ~shapely.is_empty(owned)
    add = has & ~shapely.contains(regions, owned)
    regions[add] = shapely.union(regions[add], owned[add], grid_size=GRID_M)
    odd = np.flatnonzero(~np.isin(shapely.get_type_id(regions), (3, 6)))
    regions[odd] = [polygonal(g) for g in regions[odd]]
    # snap to the overlay grid first, so later unions cannot pinch a region in two
    regions = shapely.set_precision(regions, GRID_M)
    return _one_piece(regions, owned, feet, area)


def _own_footprints(feet: np.ndarray, area) -> np.ndarray:
    """Polygon footprints clipped to the area, earlier rows keeping overlaps; others empty."""
    poly = np.isin(shapely.get_type_id(feet), (3, 6))
    owned = np.full(len(feet), shapely.Polygon(), dtype=object)
    if not poly.any():
        return owned
    shapely.prepare(area)
    owned[poly] = shapely.make_valid(feet[poly])
    clip = poly & ~shapely.contains_properly(area, owned)
    owned[clip] = shapely.intersection(owned[clip], area, grid_size=GRID_M)
    odd = np.flatnonzero(poly & ~np.isin(shapely.get_type_id(owned), (3, 6)))
    owned[odd] = [polygonal(g) for g in owned[odd]]
    tree = shapely.STRtree(owned)
    a, b = tree.query(owned, predicate="intersects")
    for j in np.unique(b[a < b]):
        before = a[(b == j) & (a < j)]
        owned[j] = polygonal(
            shapely.difference(owned[j], shapely.union_all(owned[before]), grid_size=GRID_M)
        )
    return owned


def _sites(feet: np.ndarray, owned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Voronoi sites (N, 2) and their building: a point inside, corners, points along the edge."""
    n = len(feet)
    has = ~shapely.is_empty(owned)
    inner = shapely.point_on_surface(np.where(has, owned, feet))
    parts = [shapely.get_coordinates(inner)]
    owner = [np.arange(n)]
    corners, which = shapely.get_coordinates(owned[has], return_index=True)
    parts.append(corners)
    owner.append(np.flatnonzero(has)[which])
    rings = shapely.boundary(owned[has])
    length = shapely.length(rings)
    step = np.maximum(length / _SITES, 1.0)
    count = np.ceil(length / step).astype(int)
    ring_of = np.repeat(np.arange(len(rings)), count)
    offset = np.arange(len(ring_of)) - np.repeat(np.cumsum(count) - count, count)
    along = shapely.line_interpolate_point(rings[ring_of], offset * step[ring_of])
    parts.append(shapely.get_coordinates(along))
    owner.append(np.flatnonzero(has)[ring_of])
    xy = np.vstack(parts)
    who = np.concatenate(owner)
    _, first = np.unique(np.round(xy, 2), axis=0, return_index=True)
    first = np.sort(first)
    return xy[first], who[first]


def _voronoi(sites: np.ndarray, owner: np.ndarray, n: int, area) -> np.ndarray:
    """Union of the Voronoi cells of each building's sites, clipped to the area."""
    shapely.prepare(area)
    env = area.envelope
    extent = env.buffer(max(env.length, 1.0), join_style="mitre")
    if len(sites) == 1:
        out = np.full(n, shapely.Polygon(), dtype=object)
        out[owner[0]] = area
        return out
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(sites), extend_to=extent, ordered=True)
    )
    odd = np.flatnonzero((shapely.get_type_id(cells) != 3) | ~shapely.is_valid(cells))
    cells[odd] = [polygonal(shapely.make_valid(c)) for c in cells[odd]]
    # GEOS can return a cell that is not its site's (near-degenerate sites): drop it,
    # the hole it leaves is handed to the neighbours with the other loose pieces
    wrong = ~shapely.intersects_xy(cells, sites[:, 0], sites[:, 1])
    cells[wrong] = shapely.Polygon()
    cells[shapely.is_empty(cells)] = None
    order = np.argsort(owner, kind="stable")
    counts = np.bincount(owner, minlength=n)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    table = np.full((n, max(int(counts.max()), 1)), None, dtype=object)
    table[owner[order], np.arange(len(order)) - start[owner[order]]] = cells[order]
    total = np.bincount(owner, weights=shapely.area(cells).astype(float), minlength=n)
    merged = _cover_rows(table)
    bad = ~shapely.is_valid(merged) | (np.abs(shapely.area(merged) - total) > 1e-9 * total + 1e-9)
    merged[bad] = [_merge(row) for row in table[bad]]
    clip = ~shapely.contains_properly(area, merged)
    merged[clip] = shapely.intersection(merged[clip], area, grid_size=GRID_M)
    odd = np.flatnonzero(~np.isin(shapely.get_type_id(merged), (3, 6)))
    merged[odd] = [polygonal(g) for g in merged[odd]]
    return merged


def _cover_rows(table: np.ndarray) -> np.ndarray:
    """Coverage union of each row; rows GEOS refuses (found by halving) get a general union."""
    try:
        return shapely.coverage_union_all(table, axis=1)
    except shapely.errors.GEOSException:
        if len(table) == 1:
            return np.array([_merge(table[0])], dtype=object)
    half = len(table) // 2
    return np.concatenate([_cover_rows(table[:half]), _cover_rows(table[half:])])


def _merge(cells: np.ndarray):
    """Union of one building's Voronoi cells, when the coverage union fails.

    GEOS can return overlapping cells for near-degenerate sites; its coverage
    union then loses area, and a general union is used.
    """
    cells = cells[cells != None]  # noqa: E711 (elementwise test of an object array)
    try:
        return shapely.union_all(cells)
    except shapely.errors.GEOSException:
        return shapely.union_all(cells, grid_size=GRID_M)


def _one_piece(regions: np.ndarray, owned: np.ndarray, feet: np.ndarray, area) -> np.ndarray:
    """Keep each region's piece(s) holding its building; hand the rest to neighbours."""
    anchors = np.where(shapely.is_empty(owned), shapely.point_on_surface(feet), owned)
    orphans = []
    if abs(float(shapely.area(regions).sum()) - area.area) > 1e-6 * area.area:
        covered = shapely.union_all(regions, grid_size=GRID_M)
        hole = shapely.difference(area, covered, grid_size=GRID_M)
        orphans = [p for p in shapely.get_parts(polygonal(hole)) if p.area > GRID_M**2]
    for i in np.flatnonzero(shapely.get_num_geometries(regions) > 1):
        parts = shapely.get_parts(regions[i])
        if shapely.get_type_id(anchors[i]) == 0:  # a point building
            mine = shapely.intersects(parts, anchors[i])
        else:  # the parts under its footprint (touching it is not enough)
            mine = shapely.area(shapely.intersection(parts, anchors[i])) > 1e-6
        if not mine.any():
            mine = shapely.area(parts) == shapely.area(parts).max()
        regions[i] = shapely.union_all(parts[mine], grid_size=GRID_M)
        orphans.extend(parts[~mine])
    while orphans:
        left = []
        tree = shapely.STRtree(regions)
        for piece in orphans:
            near = tree.query(piece, predicate="dwithin", distance=5 * GRID_M)
            grown = shapely.buffer(piece, 5 * GRID_M, quad_segs=1)
            shared = shapely.length(shapely.intersection(shapely.boundary(regions[near]), grown))
            if not len(near) or shared.max() <= MIN_SHARED_M:
                left.append(piece)
                continue
            j = near[int(np.argmax(shared))]
            regions[j] = _join(regions[j], piece)
        if len(left) == len(orphans):
            for piece in left:  # an island: the nearest region takes it, unless a speck
                if piece.area >= _SPECK_M2:
                    j = int(np.argmin(shapely.distance(regions, piece)))
                    regions[j] = _join(regions[j], piece)
            break
        orphans = left
    return _share_points(regions, anchors)


def _join(region, piece):
    """Union of a region and a loose piece next to it (snapped to close sub-cm gaps).

    Specks under ``_SPECK_M2`` that still stand apart are dropped.
    """
    snapped = shapely.snap(piece, region, 5 * GRID_M)
    joined = polygonal(shapely.union(region, snapped, grid_size=GRID_M))
    parts = shapely.get_parts(joined)
    if len(parts) > 1:
        joined = shapely.union_all(parts[shapely.area(parts) >= _SPECK_M2])
    return joined


def _share_points(regions: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Give each building left without a region a sector of the region holding its point."""
    lost = np.flatnonzero(shapely.is_empty(regions))
    if len(lost) == 0:
        return regions
    pts = shapely.point_on_surface(anchors[lost])
    tree = shapely.STRtree(regions)
    hosts: dict[int, list[int]] = {}
    for i, pt in zip(lost, pts, strict=True):
        found = tree.query(pt, predicate="intersects")
        found = [j for j in found if j not in lost]
        if found:
            hosts.setdefault(int(found[0]), []).append(int(i))
    for host, guests in hosts.items():
        centre = shapely.point_on_surface(anchors[guests[0]])
        room = shapely.distance(centre, regions[host].boundary)
        radius = min(_SECTOR_M, 0.9 * room) if room > 0 else _SECTOR_M
        k = len(guests) + 1
        for m, g in enumerate(guests):
            sector = _sector(centre, radius, 2 * np.pi * m / k, 2 * np.pi * (m + 1) / k)
            piece = polygonal(shapely.intersection(regions[host], sector, grid_size=GRID_M))
            regions[g] = piece
            regions[host] = polygonal(shapely.difference(regions[host], piece, grid_size=GRID_M))
    return regions


def _sector(centre, radius: float, a: float, b: float):
    """A circular sector polygon from angle ``a`` to ``b`` (radians) around ``centre``."""
    steps = np.linspace(a, b, 9)
    ring = [(centre.x, centre.y)]
    ring += [(centre.x + radius * np.cos(t), centre.y + radius * np.sin(t)) for t in steps]
    return shapely.Polygon(ring)
