"""Tests for mapserver.districting.boundaries."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from scipy.sparse.csgraph import connected_components

from mapserver import crs
from mapserver.demo.synthetic import synthetic_parent
from mapserver.districting.adjacency import building_adjacency
from mapserver.districting.boundaries import cell_polygons, pts_4326
from mapserver.districting.partition import propose_partition
from mapserver.districting.target import Target


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


def _notched_parent(rng: np.random.Generator):
    """A 300 x 200 m box near Shanghai with 2-4 rectangular notches cut from its edges (metres)."""
    parent = shapely.box(0, 0, 300, 200)
    for _ in range(rng.integers(2, 5)):
        side = rng.integers(4)
        at, width, depth = rng.uniform(30, 270), rng.uniform(5, 40), rng.uniform(20, 120)
        if side == 0:
            notch = shapely.box(at - width / 2, -1, at + width / 2, depth)
        elif side == 1:
            notch = shapely.box(at - width / 2, 200 - depth, at + width / 2, 201)
        elif side == 2:
            notch = shapely.box(-1, at / 1.5 - width / 2, depth, at / 1.5 + width / 2)
        else:
            notch = shapely.box(300 - depth, at / 1.5 - width / 2, 301, at / 1.5 + width / 2)
        parent = parent.difference(notch)
    return parent


def _seeded_case(seed: int, *, footprints: bool):
    """Buildings (points with twins, or footprints) in a notched parent, all in EPSG:4326."""
    rng = np.random.default_rng(seed)
    parent_m = _notched_parent(rng)
    if not isinstance(parent_m, shapely.Polygon):
        parent_m = max(parent_m.geoms, key=lambda p: p.area)
    geoms = []
    while len(geoms) < 40:
        x, y = rng.uniform(0, 300), rng.uniform(0, 200)
        foot = shapely.box(x - 4, y - 3, x + 4, y + 3) if footprints else shapely.Point(x, y)
        if parent_m.contains(foot.buffer(1.0)) and not any(g.intersects(foot) for g in geoms):
            geoms.append(foot)
    if not footprints:  # twins: two buildings at the very same point
        geoms += [geoms[3], geoms[17]]
    metric = crs.metric_crs((121.3, 31.2, 121.31, 31.21))
    to_ll = gpd.GeoSeries([*geoms, parent_m], crs=metric)
    origin = gpd.GeoSeries(shapely.points([(121.3, 31.2)]), crs=4326).to_crs(metric).iloc[0]
    moved = to_ll.translate(origin.x, origin.y).to_crs(4326)
    buildings = gpd.GeoDataFrame(
        {
            "building_id": [f"b{i}" for i in range(len(geoms))],
            "households": rng.integers(1, 4, size=len(geoms)),
            "residents": 3,
        },
        geometry=list(moved.iloc[:-1]),
        crs=4326,
    )
    return buildings, moved.iloc[-1]


def _assert_clean_cells(buildings, parent, assignment):
    polys = cell_polygons(buildings, assignment, parent).set_index("cell_id").geometry
    _assert_tiles(parent, polys.reset_index())
    assert polys.is_valid.all()
    assert (polys.geom_type == "Polygon").all(), polys.geom_type.value_counts().to_dict()
    assert (~polys.is_empty).all()
    metric = crs.metric_crs(tuple(parent.bounds))
    cells_m = polys.to_crs(metric)
    feet_m = buildings.geometry.to_crs(metric)
    for bid, foot in zip(buildings["building_id"], feet_m, strict=True):
        cell = cells_m[assignment[bid]]
        if foot.geom_type == "Point":
            assert cell.distance(foot) < 1e-3, bid  # twins share their point (1 mm grid)
        else:
            assert foot.difference(cell).area < 1e-4 * foot.area, bid  # never cut (1 mm grid)


@pytest.mark.parametrize("seed", range(12))
def test_seeded_notched_parents_with_twins_give_one_polygon_per_cell(seed):
    buildings, parent = _seeded_case(seed, footprints=False)
    plan = propose_partition(buildings, parent, target=Target(8, 14))
    assignment = dict(plan.assignment)
    for twin in ("b40", "b41"):  # the twin of b3 / b17 goes to a grid of its own
        assignment[twin] = f"twin-{twin}"
    adj = building_adjacency(buildings, parent)
    ids = list(buildings["building_id"])
    for cell in set(assignment.values()):  # every cell is contiguous, so must be one polygon
        members = [i for i, b in enumerate(ids) if assignment[b] == cell]
        sub = adj[members][:, members]
        assert connected_components(sub, directed=False)[0] == 1, cell
    _assert_clean_cells(buildings, parent, assignment)


@pytest.mark.parametrize("seed", range(12))
def test_seeded_notched_parents_with_footprints_are_never_cut(seed):
    buildings, parent = _seeded_case(seed, footprints=True)
    plan = propose_partition(buildings, parent, target=Target(8, 14))
    contiguous = all(c.contiguous for c in plan.cells)
    assert contiguous
    _assert_clean_cells(buildings, parent, plan.assignment)
