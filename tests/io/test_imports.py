"""Tests of one whole import: good sets load as model layers; bad sets report every issue."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
from shapely.geometry import LineString

from mapserver import crs
from mapserver.errors import ValidationError
from mapserver.io.imports import detect_layer, load_import
from mapserver.model import LAYERS

SCHEME = {"red", "yellow", "green", "blue", "grey", "black"}
GEOD = pyproj.Geod(ellps="WGS84")


def _buildings_csv(path, buildings, func=None, *, lon="经度", lat="纬度"):
    """Write buildings as a Chinese-header CSV with (optionally shifted) coordinates."""
    x, y = buildings.geometry.x.to_numpy(), buildings.geometry.y.to_numpy()
    if func is not None:
        x, y = func(x, y)
    pd.DataFrame(
        {
            "楼栋编号": buildings["building_id"],
            "名称": buildings["name"],
            "户数": ["30", "", "12"],
            lon: x,
            lat: y,
        }
    ).to_csv(path, index=False, encoding="utf-8-sig")
    return path


def test_good_set_loads_with_exactly_the_model_columns(tmp_path, grids, buildings, households):
    grids.to_file(tmp_path / "grids.geojson")
    _buildings_csv(tmp_path / "楼栋.csv", buildings)
    households.to_excel(tmp_path / "households.xlsx", index=False)
    pd.DataFrame({"household_id": ["H1", "H3"], "状态": ["red", "green"]}).to_csv(
        tmp_path / "status.csv", index=False
    )
    layers = load_import(
        {
            "grids": tmp_path / "grids.geojson",
            "buildings": tmp_path / "楼栋.csv",
            "households": tmp_path / "households.xlsx",
            "status": tmp_path / "status.csv",
        },
        scheme_codes=SCHEME,
    )
    for name, df in layers.items():
        assert list(df.columns) == list(LAYERS[name]), name
    assert layers["grids"].crs.to_epsg() == 4326
    assert list(layers["grids"]["version"]) == [1, 1, 1]
    assert list(layers["grids"]["area_class"]) == ["none"] * 3
    b = layers["buildings"]
    assert b.crs.to_epsg() == 4326
    assert list(b["grid_id"]) == ["M1", "M1", "M2"]
    assert list(b["households"]) == [30, 1, 12]  # B2 was blank: counted from households.xlsx
    assert list(b["residents"]) == [5, 1, 4]
    assert list(layers["households"]["residents"]) == [2, 3, 1, 4]
    s = layers["status"]
    assert list(zip(s["entity_kind"], s["entity_id"], s["status"], strict=True)) == [
        ("household", "H1", "red"),
        ("household", "H3", "green"),
    ]


def test_every_issue_of_every_file_in_one_error(tmp_path, grids, buildings):
    grids.loc[2, "grid_id"] = "M1"
    grids.to_file(tmp_path / "grids.gpkg")
    path = _buildings_csv(tmp_path / "buildings.csv", buildings)
    text = path.read_text(encoding="utf-8-sig").replace(",30,", ",thirty,")
    path.write_text(text, encoding="utf-8")
    pd.DataFrame({"building_id": ["B1"], "status": ["purple"]}).to_csv(
        tmp_path / "status.csv", index=False
    )
    with pytest.raises(ValidationError) as info:
        load_import(
            {
                "grids": tmp_path / "grids.gpkg",
                "buildings": path,
                "status": tmp_path / "status.csv",
                "households": tmp_path / "missing.csv",
            },
            scheme_codes=SCHEME,
        )
    where = {(i.file, i.row, i.field) for i in info.value.issues}
    assert ("grids.gpkg", 3, "grid_id") in where
    assert ("buildings.csv", 1, "households") in where
    assert ("status.csv", 1, "status") in where
    assert ("missing.csv", None, None) in where
    assert "buildings.csv row 1 field 'households': 'thirty'" in str(info.value)


@pytest.mark.parametrize(
    "source,func", [("gcj02", crs.wgs84_to_gcj02), ("bd09", crs.wgs84_to_bd09)]
)
def test_shifted_input_lands_within_a_metre(tmp_path, grids, buildings, source, func):
    shifted = grids.copy()
    shifted["geometry"] = crs.transform_geometries(grids.geometry, func)
    shifted.to_file(tmp_path / "grids.geojson")
    _buildings_csv(tmp_path / "buildings.csv", buildings, func, lon="lng", lat="lat")
    layers = load_import(
        {"grids": tmp_path / "grids.geojson", "buildings": tmp_path / "buildings.csv"},
        source_crs=source,
    )
    got = layers["buildings"].geometry
    _, _, dist = GEOD.inv(got.x, got.y, buildings.geometry.x, buildings.geometry.y)
    assert np.max(dist) < 1.0
    corners = np.asarray(layers["grids"].geometry.iloc[0].exterior.coords)
    want = np.asarray(grids.geometry.iloc[0].exterior.coords)
    _, _, dist = GEOD.inv(corners[:, 0], corners[:, 1], want[:, 0], want[:, 1])
    assert np.max(dist) < 1.0
    assert list(layers["buildings"]["grid_id"]) == ["M1", "M1", "M2"]


def test_gauss_kruger_input_is_converted(tmp_path, grids, buildings):
    grids.to_crs(4547).to_file(tmp_path / "grids.gpkg")  # the file says EPSG:4547
    xy = buildings.to_crs(4547).geometry
    pd.DataFrame({"building_id": buildings["building_id"], "x": xy.x, "y": xy.y}).to_csv(
        tmp_path / "buildings.csv", index=False
    )
    layers = load_import(
        {"grids": tmp_path / "grids.gpkg", "buildings": tmp_path / "buildings.csv"},
        source_crs="EPSG:4547",
    )
    got = layers["buildings"].geometry
    np.testing.assert_allclose(got.x, buildings.geometry.x, atol=1e-7)
    np.testing.assert_allclose(got.y, buildings.geometry.y, atol=1e-7)
    assert (
        layers["grids"].geometry.iloc[0].symmetric_difference(grids.geometry.iloc[0]).area < 1e-12
    )


def test_projected_table_without_source_crs_says_the_crs_is_wrong(tmp_path, grids, buildings):
    xy = buildings.to_crs(4549).geometry
    pd.DataFrame({"building_id": buildings["building_id"], "x": xy.x, "y": xy.y}).to_csv(
        tmp_path / "buildings.csv", index=False
    )
    with pytest.raises(ValidationError, match="cannot be lon/lat degrees") as err:
        load_import({"buildings": tmp_path / "buildings.csv"}, existing={"grids": grids})
    assert len(err.value.issues) == 1  # one message for the file, not one per row
    assert "--crs" in err.value.issues[0].reason
    layers = load_import(
        {"buildings": tmp_path / "buildings.csv"}, existing={"grids": grids}, source_crs="4549"
    )
    assert layers["buildings"].to_crs(4549).distance(xy).max() < 0.01  # metres


def test_status_alone_is_checked_against_the_stored_layers(tmp_path, buildings, households):
    path = tmp_path / "状态.csv"
    pd.DataFrame({"entity_id": ["H2", "B3", "H8"], "status": ["blue"] * 3}).to_csv(
        path, index=False, encoding="gb18030"
    )
    existing = {"buildings": buildings, "households": households}
    with pytest.raises(ValidationError) as info:
        load_import({"status": path}, existing=existing, scheme_codes=SCHEME)
    assert [(i.row, i.field) for i in info.value.issues] == [(3, "entity_id")]
    pd.read_csv(path, encoding="gb18030").iloc[:2].to_csv(path, index=False)
    layers = load_import({"status": path}, existing=existing, scheme_codes=SCHEME)
    assert list(layers["status"]["entity_kind"]) == ["household", "building"]
    assert list(layers["status"]["source"]) == ["import", "import"]


def test_road_edges_get_a_metric_length(tmp_path):
    edges = gpd.GeoDataFrame(
        {"edge_id": ["E1"], "u": ["1"], "v": ["2"]},
        geometry=[LineString([(121.40, 31.20), (121.41, 31.20)])],
        crs=4326,
    )
    edges.to_file(tmp_path / "roads.geojson")
    layers = load_import({"road_edges": tmp_path / "roads.geojson"})
    out = layers["road_edges"]
    assert list(out.columns) == list(LAYERS["road_edges"])
    _, _, geodesic = GEOD.inv(121.40, 31.20, 121.41, 31.20)
    assert out["length_m"].iloc[0] == pytest.approx(geodesic, rel=1e-3)  # metres, not degrees
    assert not out["closed"].iloc[0]


def test_unknown_layer_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="'parcels'"):
        load_import({"parcels": tmp_path / "x.csv"})


@pytest.mark.parametrize(
    "name,layer",
    [
        ("grids.geojson", "grids"),
        ("微网格.gpkg", "grids"),
        ("buildings_2022.csv", "buildings"),
        ("楼栋.xlsx", "buildings"),
        ("households.csv", "households"),
        ("住户.csv", "households"),
        ("household_status.csv", "status"),
        ("状态更新.xlsx", "status"),
        ("checkpoints.geojson", "checkpoints"),
        ("roads.gpkg", "roads"),
        ("road_edges.geojson", "road_edges"),
        ("road_nodes.geojson", "road_nodes"),
        ("notes.csv", None),
    ],
)
def test_detect_layer(name, layer):
    assert detect_layer(name) == layer
