"""Tests of table helpers: Chinese headers and points from lon/lat or WKT."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from mapserver.io.tables import normalise_columns, points_from_table


def test_chinese_and_english_headers_become_model_names():
    df = pd.DataFrame(columns=["楼栋编号", "户数", "人数", "状态", "Grid ID", "经度", "纬度"])
    out = normalise_columns(df, "buildings")
    assert list(out.columns) == [
        "building_id",
        "households",
        "residents",
        "status",
        "grid_id",
        "经度",
        "纬度",
    ]
    # 人数 means persons in a status batch.
    assert "persons" in normalise_columns(pd.DataFrame(columns=["户号", "人数"]), "status")


def test_alias_does_not_clobber_an_existing_column():
    out = normalise_columns(pd.DataFrame(columns=["building_id", "楼栋编号"]), "buildings")
    assert list(out.columns) == ["building_id", "楼栋编号"]


def test_points_from_lon_lat_aliases_keep_bad_cells_as_missing_geometry():
    df = pd.DataFrame({"id": ["a", "b"], "经度": ["121.4", "x"], "纬度": ["31.2", "31.3"]})
    out = points_from_table(df)
    assert isinstance(out, gpd.GeoDataFrame)
    assert (out.geometry.iloc[0].x, out.geometry.iloc[0].y) == (121.4, 31.2)
    assert out.geometry.iloc[1] is None
    assert out["lon"].iloc[1] == "x"


def test_points_from_wkt_column_and_tables_without_position():
    df = pd.DataFrame({"geometry": ["POINT (121.4 31.2)", "POLYGN (("]})
    out = points_from_table(df)
    assert out.geometry.iloc[0].x == 121.4 and out.geometry.iloc[1] is None
    plain = pd.DataFrame({"household_id": ["H1"]})
    assert points_from_table(plain) is plain
