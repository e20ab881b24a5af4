import geopandas as gpd
import pytest
from shapely.geometry import LineString, MultiLineString, Point, Polygon

from mapserver.errors import ValidationError
from mapserver.io import load_import
from mapserver.model import ROAD_EDGE_COLUMNS, ROAD_NODE_COLUMNS
from mapserver.network import roads_from_lines

D = 0.001
X0, Y0 = 121.2, 31.1


def test_lines_are_noded_at_crossings_and_snapped(cross_lines):
    nodes, edges = roads_from_lines(cross_lines, file="roads.geojson")
    assert list(nodes.columns) == list(ROAD_NODE_COLUMNS)
    assert list(edges.columns) == list(ROAD_EDGE_COLUMNS)
    by_id = edges.set_index("edge_id")
    # main road and street cross at (X0 + D, Y0): both are cut there
    assert set(by_id.index) == {"L1:0", "L1:1", "L2:0", "L2:1", "L3", "L4"}
    assert by_id.loc["L1:0", "v"] == by_id.loc["L1:1", "u"] == by_id.loc["L2:0", "v"]
    # the footway's end meets the short street end, snapped across 0.2 m
    assert by_id.loc["L3", "v"] == by_id.loc["L4", "v"]
    assert len(nodes) == 7
    assert by_id.loc["L1:0", "road_class"] == "main" and by_id.loc["L1:0", "oneway"]
    assert by_id.loc["L3", "mode"] == "walk" and by_id.loc["L2:0", "name"] == "华青路"
    # oneway=-1: the edge runs against the drawing, east to west
    assert by_id.loc["L4", "geometry"].coords[0][0] == pytest.approx(X0 + 3 * D)
    assert by_id.loc["L4", "oneway"]
    assert by_id.loc["L1:0", "length_m"] == pytest.approx(95.4, abs=0.5)
    assert by_id.loc["L2:0", "length_m"] == pytest.approx(110.9, abs=0.5)


def test_lines_on_different_layers_do_not_meet_where_they_cross(cross_lines):
    lines = cross_lines.iloc[:2].copy()
    lines["layer"] = [1, 0]  # the main road bridges the street
    _, edges = roads_from_lines(lines, file="roads.geojson")
    assert sorted(edges["edge_id"]) == ["L1", "L2"]


def test_multilines_and_given_ids_and_classes():
    gdf = gpd.GeoDataFrame(
        {"edge_id": ["R7"], "road_class": ["lane"], "closed": ["是"]},
        geometry=[MultiLineString([[(X0, Y0), (X0 + D, Y0)], [(X0 + D, Y0), (X0 + D, Y0 + D)]])],
        crs=4326,
    )
    nodes, edges = roads_from_lines(gdf, file="lanes.gpkg")
    assert list(edges["edge_id"]) == ["R7:0", "R7:1"]
    assert edges["closed"].all() and (edges["road_class"] == "lane").all()
    assert len(nodes) == 3


def test_bad_geometries_are_reported_by_feature_and_nothing_is_returned():
    gdf = gpd.GeoDataFrame(
        {"highway": ["primary", "primary", "primary", "primary", "motorway", "bogus"]},
        geometry=[
            LineString([(X0, Y0), (X0 + D, Y0)]),
            None,
            Point(X0, Y0),
            LineString([(X0, Y0), (X0, Y0)]),
            Polygon([(X0, Y0), (X0 + D, Y0), (X0, Y0 + D)]),
            LineString([(X0, Y0), (X0, Y0 + D)]),
        ],
        crs=4326,
    )
    with pytest.raises(ValidationError) as info:
        roads_from_lines(gdf, file="roads.geojson")
    found = [(i.file, i.row, i.field) for i in info.value.issues]
    assert found == [
        ("roads.geojson", 2, "geometry"),
        ("roads.geojson", 3, "geometry"),
        ("roads.geojson", 4, "geometry"),
        ("roads.geojson", 5, "geometry"),
        ("roads.geojson", 6, "highway"),
    ]
    reasons = [i.reason for i in info.value.issues]
    assert "empty" in reasons[0] and "Point" in reasons[1] and "zero length" in reasons[2]
    assert "'bogus'" in reasons[4]


def test_load_import_nodes_a_line_file_and_rejects_a_bad_one(tmp_path, cross_lines):
    path = tmp_path / "roads.geojson"
    cross_lines.to_file(path)
    layers = load_import({"roads": path})
    assert len(layers["road_edges"]) == 6 and len(layers["road_nodes"]) == 7
    bad = cross_lines.copy()
    bad.loc[1, "geometry"] = Point(X0, Y0)
    bad.to_file(path)
    with pytest.raises(ValidationError) as info:
        load_import({"roads": path})
    assert [(i.row, i.field) for i in info.value.issues] == [(2, "geometry")]
