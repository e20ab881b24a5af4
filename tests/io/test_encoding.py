"""Text encodings: GBK Shapefiles without .cpg and GBK CSV read right, and say so."""

from __future__ import annotations

import zipfile

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import box

from mapserver.io.encoding import shapefile_encoding
from mapserver.io.imports import ImportFile, load_import
from mapserver.io.readers import read_table, read_vector

NAMES = ["石桥街道华丰社区", "东新街道三塘社区"]


def _gbk_shapefile(tmp_path, *, cpg: bool):
    gdf = gpd.GeoDataFrame(
        {"grid_id": ["SQ-3", "DX-3"], "name": NAMES, "level": ["社区", "社区"]},
        geometry=[box(120.0, 30.0, 120.01, 30.01), box(120.01, 30.0, 120.02, 30.01)],
        crs="EPSG:4326",
    )
    path = tmp_path / "grids.shp"
    pyogrio.write_dataframe(gdf, path, encoding="GBK")
    dbf = path.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[29] = 0  # no language driver id, as many Chinese GIS exports
    dbf.write_bytes(bytes(data))
    if not cpg:
        path.with_suffix(".cpg").unlink(missing_ok=True)
    assert NAMES[0].encode("gbk") in bytes(data)
    return path


def test_gbk_shapefile_without_cpg_is_detected(tmp_path):
    path = _gbk_shapefile(tmp_path, cpg=False)
    assert shapefile_encoding(path) == ("gb18030", "trial (no .cpg)")
    gdf = read_vector(path)
    assert list(gdf["name"]) == NAMES
    assert gdf.attrs["encoding"][0] == "gb18030"


def test_gbk_shapefile_in_a_zip_and_the_note_says_which_encoding(tmp_path):
    _gbk_shapefile(tmp_path, cpg=False)
    archive = tmp_path / "grids.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in tmp_path.glob("grids.*"):
            if part.suffix != ".zip":
                zf.write(part, part.name)
    notes: list[str] = []
    layers = load_import({"grids": archive}, notes=notes)
    assert list(layers["grids"]["name"]) == NAMES
    assert any("grids.zip" in n and "gb18030" in n for n in notes)


def test_cpg_file_is_used(tmp_path):
    path = _gbk_shapefile(tmp_path, cpg=True)
    codec, how = shapefile_encoding(path)
    assert codec == "gbk" and how.startswith(".cpg")
    assert list(read_vector(path)["name"]) == NAMES


def test_encoding_can_be_given(tmp_path):
    path = _gbk_shapefile(tmp_path, cpg=False)
    wrong = read_vector(path, encoding="latin-1")
    assert list(wrong["name"]) != NAMES  # what the user would see without detection
    layers = load_import([ImportFile(path, "grids", encoding="GBK")])
    assert list(layers["grids"]["name"]) == NAMES


def test_gbk_csv(tmp_path):
    path = tmp_path / "households.csv"
    pd.DataFrame({"户号": ["H1"], "楼栋": ["B1"], "房号": ["一单元101"]}).to_csv(
        path, index=False, encoding="gbk"
    )
    df = read_table(path)
    assert df.attrs["encoding"] == ("gb18030", "trial")
    assert list(df["房号"]) == ["一单元101"]
    assert list(read_table(path, encoding="gbk")["房号"]) == ["一单元101"]


def test_unknown_encoding_is_named(tmp_path):
    path = _gbk_shapefile(tmp_path, cpg=False)
    with pytest.raises(ValueError, match="unknown text encoding 'klingon'"):
        read_vector(path, encoding="klingon")
