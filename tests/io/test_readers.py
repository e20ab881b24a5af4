"""Tests of the file readers: every format in, EPSG:4326 out."""

from __future__ import annotations

import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from mapserver import crs
from mapserver.io import readers


def _assert_grids(gdf: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> None:
    assert gdf.crs.to_epsg() == 4326
    assert list(gdf["grid_id"]) == ["C1", "M1", "M2"]
    assert list(gdf["level"]) == ["community", "micro", "micro"]
    for got, want in zip(gdf.geometry, grids.geometry, strict=True):
        assert got.symmetric_difference(want).area < 1e-12


@pytest.mark.parametrize("suffix,driver", [(".geojson", "GeoJSON"), (".gpkg", "GPKG")])
def test_read_vector_geojson_and_geopackage(tmp_path, grids, suffix, driver):
    path = tmp_path / f"grids{suffix}"
    grids.to_file(path, driver=driver)
    _assert_grids(readers.read_vector(path), grids)


def test_read_vector_zipped_shapefile(tmp_path, grids):
    folder = tmp_path / "shp"
    folder.mkdir()
    grids.to_file(folder / "grids.shp")
    archive = tmp_path / "grids.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in folder.iterdir():
            zf.write(part, part.name)
    _assert_grids(readers.read_vector(archive), grids)


def test_read_vector_kml_with_gdal_and_with_the_fallback_parser(tmp_path, grids):
    path = tmp_path / "grids.kml"
    grids.to_file(path, driver="KML")
    _assert_grids(readers.read_vector(path), grids)
    parsed = readers._parse_kml(path)
    assert list(parsed["grid_id"]) == ["C1", "M1", "M2"]
    assert parsed.geometry.iloc[1].symmetric_difference(grids.geometry.iloc[1]).area < 1e-12


def test_read_vector_projected_file_is_converted_to_4326(tmp_path, grids):
    path = tmp_path / "grids.gpkg"
    grids.to_crs(4549).to_file(path)
    _assert_grids(readers.read_vector(path), grids)


def test_read_vector_source_crs_overrides_and_undoes_gcj02(tmp_path):
    wgs = (121.4737, 31.2304)
    gcj = crs.wgs84_to_gcj02(*wgs)
    path = tmp_path / "buildings.geojson"
    gpd.GeoDataFrame({"building_id": ["B1"]}, geometry=[Point(gcj)], crs=4326).to_file(path)
    got = readers.read_vector(path, source_crs="gcj02").geometry.iloc[0]
    assert np.hypot(got.x - wgs[0], got.y - wgs[1]) < 1e-6  # ~0.1 m


def test_read_vector_rejects_unknown_suffix(tmp_path):
    path = tmp_path / "grids.txt"
    path.write_text("x")
    with pytest.raises(ValueError, match=r"grids\.txt.*'\.txt'"):
        readers.read_vector(path)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_read_table_csv_encodings_keep_ids_as_text(tmp_path, encoding):
    path = tmp_path / "楼栋.csv"
    path.write_bytes("楼栋编号,户数\n007,30\n B2 ,\n,\n".encode(encoding))
    df = readers.read_table(path)
    assert list(df.columns) == ["楼栋编号", "户数"]
    assert list(df["楼栋编号"]) == ["007", "B2"]  # trailing empty row dropped, blanks stripped
    assert df["户数"].iloc[0] == "30"
    assert pd.isna(df["户数"].iloc[1])


def test_read_table_keeps_row_numbers_across_empty_middle_rows(tmp_path):
    path = tmp_path / "status.csv"
    path.write_text("household_id,status\nH1,green\n,\nH3,red\n", encoding="utf-8")
    df = readers.read_table(path)
    assert len(df) == 3 and df["household_id"].iloc[2] == "H3"


def test_read_table_xlsx(tmp_path):
    path = tmp_path / "households.xlsx"
    pd.DataFrame({"household_id": ["H1", "H2"], "residents": [3, 2]}).to_excel(path, index=False)
    df = readers.read_table(path)
    assert list(df["household_id"]) == ["H1", "H2"]
    assert list(df["residents"]) == ["3", "2"]
