"""Tests for mapserver.coverage.area."""

from __future__ import annotations

import json

import pytest
import shapely

from mapserver.coverage.area import area_nodes, area_polygon, as_area


def test_area_polygon_unions_grids(demo):
    grids = demo["grids"]
    bigs = grids[grids["parent_id"] == "SD01-C01"]
    ids = bigs["grid_id"].tolist()
    union = area_polygon(grids, ids)
    community = grids.set_index("grid_id").geometry["SD01-C01"]
    assert union.symmetric_difference(community).area < 1e-6 * community.area
    assert area_polygon(grids, ids[0]).equals(bigs.geometry.iloc[0]) or (
        area_polygon(grids, ids[0]).symmetric_difference(bigs.geometry.iloc[0]).area < 1e-12
    )


def test_area_polygon_refuses_bad_selection(demo):
    with pytest.raises(ValueError, match="no grid selected"):
        area_polygon(demo["grids"], [])
    with pytest.raises(ValueError, match="unknown grid_id 'NOPE'"):
        area_polygon(demo["grids"], ["SD01-C01", "NOPE"])


def test_as_area_reads_geojson_and_wkt():
    square = shapely.box(121.2, 31.1, 121.21, 31.11)
    feature = {"type": "Feature", "geometry": shapely.geometry.mapping(square), "properties": {}}
    assert as_area(feature).equals(square)
    assert as_area(json.dumps(feature)).equals(square)
    assert as_area(square.wkt).equals(square)
    with pytest.raises(ValueError, match="must be a polygon"):
        as_area(shapely.Point(121.2, 31.1))
    with pytest.raises(ValueError, match="empty"):
        as_area(shapely.Polygon())


def test_area_nodes_refuses_off_network_and_whole_network(lattice):
    lat = lattice(3)
    inside = area_nodes(lat["square"]([(1, 1)]), lat["nodes"], lat["edges"])
    assert inside == {"n1_1"}
    far = shapely.box(100.0, 10.0, 100.01, 10.01)
    with pytest.raises(ValueError, match="holds none of the 9 road nodes"):
        area_nodes(far, lat["nodes"], lat["edges"])
    everything = lat["square"]([(i, j) for i in range(3) for j in range(3)]).envelope
    with pytest.raises(ValueError, match="holds all 9 road nodes"):
        area_nodes(everything, lat["nodes"], lat["edges"])
