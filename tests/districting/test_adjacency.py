"""Tests for mapserver.districting.adjacency."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse.csgraph import connected_components

from mapserver.demo.synthetic import synthetic_parent
from mapserver.districting.adjacency import FLAGGED, ORDINARY, building_adjacency


def _row_buildings(xs_m, *, y_m=0.0):
    """Point buildings along a line near Shanghai, x in metres east of 121.2E."""
    lon = 121.2 + np.asarray(xs_m) / 95_000.0
    lat = np.full(len(lon), 31.1 + y_m / 111_000.0)
    return gpd.GeoDataFrame(
        {"building_id": [f"B{i}" for i in range(len(lon))], "households": 10, "residents": 25},
        geometry=shapely.points(lon, lat),
        crs="EPSG:4326",
    )


def test_neighbours_are_symmetric_and_connected():
    buildings, parent, _ = synthetic_parent(400, seed=1)
    adj = building_adjacency(buildings, parent)
    assert (adj != adj.T).nnz == 0
    assert connected_components(adj, directed=False)[0] == 1
    degree = np.diff(adj.indptr)
    assert 3 <= np.median(degree) <= 8


def test_main_road_cuts_neighbours_but_keeps_a_lone_building():
    buildings, parent, roads = synthetic_parent(400, seed=1)
    plain = building_adjacency(buildings, parent)
    cut = building_adjacency(buildings, parent, barriers=roads.geometry)
    assert cut.nnz < plain.nnz
    # two roads cut the lattice into four sides, none joined back (all are large)
    assert connected_components(cut, directed=False)[0] == 4
    assert set(np.unique(cut.data)) == {ORDINARY}


def test_a_cut_off_small_group_is_rejoined_and_flagged():
    buildings = _row_buildings([0, 20, 40, 100])
    parent = shapely.box(121.199, 31.099, 121.202, 31.101)
    road = shapely.LineString([(121.2 + 70 / 95_000, 31.0), (121.2 + 70 / 95_000, 31.2)])
    adj = building_adjacency(buildings, parent, barriers=[road])
    assert connected_components(adj, directed=False)[0] == 1
    assert adj[2, 3] == FLAGGED and adj[0, 1] == ORDINARY
    # a group big enough to stand alone stays cut off; a smaller one is joined back
    five = _row_buildings([0, 20, 40, 100, 120])
    weights = np.full(5, 10)
    kept = building_adjacency(five, parent, barriers=[road], weights=weights, min_component=15)
    assert connected_components(kept, directed=False)[0] == 2
    joined = building_adjacency(five, parent, barriers=[road], weights=weights, min_component=25)
    assert connected_components(joined, directed=False)[0] == 1
    assert (joined.data == FLAGGED).sum() == 2
