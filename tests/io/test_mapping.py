"""Column mappings: someone else's headers become model fields."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from mapserver.errors import ValidationError
from mapserver.io.imports import ImportFile, load_import
from mapserver.io.mapping import ColumnMapping, parse_mapping, suggest_mapping
from mapserver.io.tables import guess_column


def test_parse_mapping_columns_and_constants():
    mapping = parse_mapping("grid_id=社区编码, parent_id=街道编码，name=社区;level:=community")
    assert mapping.columns == {"grid_id": "社区编码", "parent_id": "街道编码", "name": "社区"}
    assert mapping.constants == {"level": "community"}
    assert ColumnMapping.from_dict(mapping.to_dict()) == mapping


def test_parse_mapping_names_the_bad_part():
    with pytest.raises(ValidationError, match="'grid_id' is not field=column"):
        parse_mapping("grid_id,name=社区")


@pytest.mark.parametrize(
    ("header", "layer", "field"),
    [
        ("building_i", "buildings", "building_id"),  # Shapefile cut to 10 characters
        ("household_", "households", "household_id"),
        ("target_hou", "grids", "target_households"),
        ("NAME", "grids", "name"),
        ("户号", "status", "household_id"),
        ("楼栋", "status", "building_id"),
        ("状态", "status", "status"),
        ("人数", "status", "persons"),
        ("人数", "households", "residents"),
        ("网格编号", "grids", "grid_id"),
        ("街道编码", "grids", None),
    ],
)
def test_guess_column(header, layer, field):
    assert guess_column(header, layer) == field


def test_suggest_mapping_lists_what_is_recognised():
    found = suggest_mapping(["户号", "状态", "人数", "备注"], "status")
    assert found == {"household_id": "户号", "status": "状态", "persons": "人数"}


def _streets(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"街道": ["石桥街道", "东新街道"], "街道编码": ["SQ", "DX"], "NAME": ["x", "y"]},
        geometry=[box(120.0, 30.0, 120.01, 30.01), box(120.01, 30.0, 120.02, 30.01)],
        crs="EPSG:4326",
    )
    path = tmp_path / "streets.geojson"
    gdf.to_file(path, driver="GeoJSON")
    return path


def test_a_mapped_file_imports_with_chinese_names(tmp_path):
    mapping = parse_mapping("grid_id=街道编码,name=街道,level:=subdistrict")
    layers = load_import([ImportFile(_streets(tmp_path), "grids", mapping=mapping)])
    grids = layers["grids"]
    assert list(grids["grid_id"]) == ["SQ", "DX"]
    assert list(grids["name"]) == ["石桥街道", "东新街道"]
    assert set(grids["level"]) == {"subdistrict"}


def test_without_a_mapping_the_file_is_refused_naming_its_columns(tmp_path):
    with pytest.raises(ValidationError) as err:
        load_import([ImportFile(_streets(tmp_path), "grids")])
    text = str(err.value)
    assert "grid_id" in text and "街道编码" in text


def test_a_mapping_to_a_missing_column_is_refused(tmp_path):
    mapping = parse_mapping("grid_id=社区编码")
    with pytest.raises(ValidationError, match="column '社区编码' for grid_id is not in the file"):
        load_import([ImportFile(_streets(tmp_path), "grids", mapping=mapping)])


@pytest.mark.filterwarnings("ignore:.*(truncated|laundered).*")
def test_truncated_shapefile_names_import(tmp_path, grids):
    buildings = gpd.GeoDataFrame(
        {"building_id": ["B1", "B2"], "households": [12, 30]},
        geometry=[box(121.401, 31.201, 121.402, 31.202), box(121.411, 31.201, 121.412, 31.202)],
        crs="EPSG:4326",
    )
    path = tmp_path / "buildings.shp"
    buildings.to_file(path, engine="pyogrio")  # writes building_i and households
    assert "building_i" in gpd.read_file(path).columns
    layers = load_import({"buildings": path}, existing={"grids": grids})
    assert list(layers["buildings"]["building_id"]) == ["B1", "B2"]
    assert list(layers["buildings"]["grid_id"]) == ["M1", "M2"]


def test_status_in_chinese_headers_and_scheme_labels(tmp_path, households):
    from mapserver.status.scheme import load_scheme

    path = tmp_path / "状态.csv"
    pd.DataFrame(
        {
            "户号": ["H1", "H2", "H3"],
            "状态": ["一直在沪", "red", "外出未返"],
            "人数": ["2", "", "1"],
        }
    ).to_csv(path, index=False)
    scheme = load_scheme("hongkou6")
    layers = load_import(
        {"status": path},
        existing={"households": households},
        scheme_codes=scheme.spellings(),
    )
    by_id = dict(zip(layers["status"]["entity_id"], layers["status"]["status"], strict=True))
    labelled = {c.label_zh: c.code for c in scheme.codes}
    assert by_id == {"H1": labelled["一直在沪"], "H2": "red", "H3": labelled["外出未返"]}
