"""Tests of the writers: what is written reads back the same."""

from __future__ import annotations

import pandas as pd

from mapserver.io.readers import read_table, read_vector
from mapserver.io.writers import write_csv, write_geojson


def test_write_geojson_in_4326_reads_back(tmp_path, grids):
    path = write_geojson(grids.to_crs(4549), tmp_path / "out" / "grids.geojson")
    back = read_vector(path)
    assert back.crs.to_epsg() == 4326
    assert list(back["grid_id"]) == ["C1", "M1", "M2"]
    assert back.geometry.iloc[0].symmetric_difference(grids.geometry.iloc[0]).area < 1e-12
    write_geojson(grids.iloc[:1], path)  # replaces
    assert len(read_vector(path)) == 1


def test_write_csv_utf8_with_wkt_geometry(tmp_path, buildings):
    path = write_csv(buildings, tmp_path / "buildings.csv")
    assert path.read_bytes()[:3] != b"\xef\xbb\xbf"
    back = read_table(path)
    assert list(back["name"]) == ["1号楼", "2号楼", "3号楼"]
    assert back["geometry"].iloc[0] == "POINT (121.403 31.205)"
    write_csv(pd.DataFrame({"a": [1]}), tmp_path / "plain.csv")
    assert (tmp_path / "plain.csv").read_text(encoding="utf-8") == "a\n1\n"
