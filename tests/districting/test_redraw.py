"""Tests for mapserver.districting.redraw: after an edit only the boundaries next to the
moved buildings change, and a road between what moved and what stayed is the new edge."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, Point, box

from mapserver.demo.synthetic import synthetic_parent
from mapserver.districting.boundaries import cell_polygons
from mapserver.districting.partition import propose_partition
from mapserver.districting.redraw import redraw_cells
from mapserver.districting.target import Target
from tests.districting.test_boundaries import _assert_tiles, _metric

UTM = "EPSG:32651"  # metres near Shanghai: the test's drawings are made in it
X0, Y0 = 330_000.0, 3_440_000.0


def _to_4326(geoms) -> list:
    return list(gpd.GeoSeries(geoms, crs=UTM).to_crs(4326).values)


def _layout():
    """A 300 × 200 m parent of three cells (west, east, north strip): west and east
    halves split at x = 150 below y = 150, the north strip above; a lane crosses the
    west cell at y = 60. Buildings on a 20 m lattice, none on a line."""
    parent = box(X0, Y0, X0 + 300, Y0 + 200)
    cells = {
        "W": box(X0, Y0, X0 + 150, Y0 + 150),
        "E": box(X0 + 150, Y0, X0 + 300, Y0 + 150),
        "N": box(X0, Y0 + 150, X0 + 300, Y0 + 200),
    }
    lane = LineString([(X0 - 10, Y0 + 60), (X0 + 150, Y0 + 60)])
    points, ids, owner = [], [], {}
    for i, x in enumerate(np.arange(X0 + 10, X0 + 300, 20)):
        for j, y in enumerate(np.arange(Y0 + 10, Y0 + 200, 20)):
            point = Point(x + 0.5, y + 0.5)
            bid = f"B{i:02d}{j:02d}"
            ids.append(bid)
            points.append(point)
            owner[bid] = next(c for c, poly in cells.items() if poly.contains(point))
    buildings = gpd.GeoDataFrame({"building_id": ids}, geometry=_to_4326(points), crs=4326)
    current = gpd.GeoDataFrame(
        {"cell_id": list(cells)}, geometry=_to_4326(list(cells.values())), crs=4326
    )
    return buildings, _to_4326([parent])[0], current, owner, _to_4326([lane]), points


def _areas(parent, polygons) -> dict[str, object]:
    """Cell id -> polygon in the parent's local metric CRS (comparisons in m²)."""
    _, metric = _metric(parent, polygons)
    return dict(zip(polygons["cell_id"], metric.geometry.values, strict=True))


def test_nothing_moved_keeps_every_polygon():
    buildings, parent, current, owner, lane, _ = _layout()
    result = redraw_cells(buildings, owner, parent, current, roads=lane)
    before, after = _areas(parent, current), _areas(parent, result)
    for cell in before:
        assert shapely.symmetric_difference(before[cell], after[cell]).area < 1.0


def test_one_moved_building_changes_only_its_two_cells_near_it():
    buildings, parent, current, owner, lane, points = _layout()
    # the west building nearest the east cell, above the lane
    moved = min(
        (b for b in owner if owner[b] == "W" and points[list(owner).index(b)].y > Y0 + 60),
        key=lambda b: (-points[list(owner).index(b)].x, points[list(owner).index(b)].y),
    )
    assignment = {**owner, moved: "E"}
    result = redraw_cells(buildings, assignment, parent, current, roads=lane)
    _assert_tiles(parent, result)
    before, after = _areas(parent, current), _areas(parent, result)
    assert shapely.symmetric_difference(before["N"], after["N"]).area < 1.0  # untouched (to the mm)
    gained = shapely.difference(after["E"], before["E"]).area
    assert 0 < gained < 0.1 * before["W"].area  # a building's share, not a redraw
    assert shapely.difference(before["E"], after["E"]).area < 1.0  # E lost nothing
    point = _metric(parent, gpd.GeoSeries(_to_4326([points[list(owner).index(moved)]]), crs=4326))
    point = point[1].iloc[0]
    assert after["E"].covers(point) and not after["W"].contains(point)
    # the voronoi redraw of everything moves the straight W|N and E|N edges too
    full = _areas(parent, cell_polygons(buildings, assignment, parent))
    assert shapely.symmetric_difference(before["N"], full["N"]).area > 1.0


def test_what_moved_across_a_road_takes_the_road_as_its_edge():
    buildings, parent, current, owner, lane, points = _layout()
    south = {b for b in owner if owner[b] == "W" and points[list(owner).index(b)].y < Y0 + 60}
    assignment = {b: ("E" if b in south else c) for b, c in owner.items()}
    result = redraw_cells(buildings, assignment, parent, current, roads=lane)
    _assert_tiles(parent, result)
    after = _areas(parent, result)
    north_of_lane = box(X0, Y0 + 60, X0 + 150, Y0 + 150)  # the west cell north of the lane
    expected_w = _metric(parent, gpd.GeoSeries(_to_4326([north_of_lane]), crs=4326))[1].iloc[0]
    assert shapely.symmetric_difference(after["W"], expected_w).area < 0.5
    # without the road the same move is shared by the buildings' own regions instead
    no_road = _areas(parent, redraw_cells(buildings, assignment, parent, current))
    assert shapely.symmetric_difference(no_road["W"], expected_w).area > 10.0


def test_a_cell_that_loses_every_building_is_shared_out_and_a_new_one_appears():
    buildings, parent, current, owner, lane, _ = _layout()
    merged = {b: ("E" if c == "W" else c) for b, c in owner.items()}
    result = redraw_cells(buildings, merged, parent, current, roads=lane)
    assert list(result["cell_id"]) == ["E", "N"]
    _assert_tiles(parent, result)
    north = [b for b, c in owner.items() if c == "N"]
    split = {**owner, **{b: "N2" for b in north[: len(north) // 2]}}
    result = redraw_cells(buildings, split, parent, current, roads=lane)
    assert list(result["cell_id"]) == ["E", "N", "N2", "W"]
    _assert_tiles(parent, result)
    after, before = _areas(parent, result), _areas(parent, current)
    for cell in ("E", "W"):  # the split leaves the other cells as they were
        assert shapely.symmetric_difference(before[cell], after[cell]).area < 1.0


def test_a_replan_of_a_synthetic_parent_tiles_and_holds_every_building():
    buildings, parent, roads = synthetic_parent(300, seed=5)
    first = propose_partition(buildings, parent, barriers=roads, target=Target(20, 30))
    current = cell_polygons(buildings, first.assignment, parent)
    second = propose_partition(buildings, parent, barriers=roads, target=Target(40, 60))
    result = redraw_cells(buildings, second.assignment, parent, current, roads=roads)
    _assert_tiles(parent, result)
    by_id = result.set_index("cell_id").geometry
    points = shapely.point_on_surface(np.asarray(buildings.geometry.values))
    cells = [second.assignment[b] for b in buildings["building_id"]]
    assert all(by_id[c].buffer(1e-7).covers(p) for c, p in zip(cells, points, strict=True))
