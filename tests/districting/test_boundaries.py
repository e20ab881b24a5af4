"""Tests for mapserver.districting.boundaries."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from mapserver import crs
from mapserver.districting.boundaries import cell_polygons, pts_4326
from mapserver.districting.partition import propose_partition
from mapserver.districting.synthetic import synthetic_parent


def _metric(parent, polys):
    metric = crs.metric_crs(tuple(parent.bounds))
    return gpd.GeoSeries([parent], crs=4326).to_crs(metric).iloc[0], polys.to_crs(metric)


def _assert_tiles(parent, polys):
    parent_m, cells_m = _metric(parent, polys)
    union = cells_m.union_all()
    assert abs(union.area - parent_m.area) / parent_m.area < 1e-4
    assert abs(cells_m.area.sum() - parent_m.area) / parent_m.area < 1e-4  # so no overlaps
    assert shapely.symmetric_difference(union, parent_m).area / parent_m.area < 1e-4


def test_demo_cells_tile_the_neighbourhood(neighbourhood):
    buildings, parent, barriers = neighbourhood
    plan = propose_partition(buildings, parent, barriers=barriers)
    polys = cell_polygons(buildings, plan.assignment, parent)
    assert sorted(polys["cell_id"]) == sorted(c.cell_id for c in plan.cells)
    _assert_tiles(parent, polys)
    contiguous = {c.cell_id for c in plan.cells if c.contiguous}
    single = polys[polys["cell_id"].isin(contiguous)].geom_type
    assert (single == "Polygon").all()
    # every building's point lies in its own cell's polygon
    by_id = polys.set_index("cell_id").geometry
    pts = pts_4326(buildings)
    cells = [plan.assignment[b] for b in buildings["building_id"]]
    assert all(by_id[c].intersects(p) for c, p in zip(cells, pts, strict=True))


def test_concave_parent_has_no_stray_pieces():
    buildings, parent, roads = synthetic_parent(1500, seed=3)
    plan = propose_partition(buildings, parent, barriers=roads)
    polys = cell_polygons(buildings, plan.assignment, parent)
    _assert_tiles(parent, polys)
    assert (polys.geom_type == "Polygon").mean() >= 0.99


def test_one_cell_is_the_parent():
    buildings, parent, _ = synthetic_parent(30, seed=0)
    polys = cell_polygons(buildings, dict.fromkeys(buildings["building_id"], "M01"), parent)
    assert len(polys) == 1 and polys.geometry.iloc[0].equals(parent)


def test_points_on_top_of_each_other_do_not_break_cells():
    buildings, parent, _ = synthetic_parent(40, seed=0)
    twin = buildings.iloc[[0]].copy()
    twin["building_id"] = "twin"
    both = gpd.GeoDataFrame(
        np.concatenate([buildings.to_numpy(), twin.to_numpy()]),
        columns=buildings.columns,
        geometry="geometry",
        crs=4326,
    )
    half = {b: ("A" if i < 20 else "B") for i, b in enumerate(both["building_id"])}
    polys = cell_polygons(both, half, parent)
    _assert_tiles(parent, polys)
