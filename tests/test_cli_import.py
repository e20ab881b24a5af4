"""`mapserver import` on real files: the Hangzhou 街道/社区/网格 layers, mappings, CRS files."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pyproj
from shapely.geometry import box

from mapserver.cli import main as cli_main
from mapserver.store import open_store


def test_hangzhou_three_layers_make_one_tree_by_containment(realdata, tmp_path, capsys):
    folder = realdata / "hangzhou-xiacheng"
    url = f"sqlite:///{tmp_path / 'hz.sqlite'}"
    base = ["--database", url, "import", "--layer", "grids"]
    street = [str(folder / "xiacheng_street.geojson"), "--map", "grid_id=街道编码,name=街道"]
    assert cli_main([*base, *street, "--level", "街道", "--save-mapping", "hz-street"]) == 0
    community = [str(folder / "xiacheng_community.geojson"), "--map", "grid_id=社区编码,name=社区"]
    assert cli_main([*base, *community, "--level", "社区", "--parent-by", "containment"]) == 0
    grid = [str(folder / "xiacheng_grid.geojson"), "--map", "grid_id=网格编号,name=所属组织"]
    assert cli_main([*base, *grid, "--level", "small", "--parent-by", "containment"]) == 0
    printed = capsys.readouterr().out
    assert "parent(s) set by containment" in printed and "joined into one grid" in printed

    store = open_store(url)
    grids = store.read_grids().set_index("grid_id")
    store.dispose()
    sources = {
        "subdistrict": gpd.read_file(folder / "xiacheng_street.geojson"),
        "community": gpd.read_file(folder / "xiacheng_community.geojson"),
        "small": gpd.read_file(folder / "xiacheng_grid.geojson"),
    }
    codes = {"subdistrict": "街道编码", "community": "社区编码", "small": "网格编号"}
    names = {"subdistrict": "街道", "community": "社区", "small": "所属组织"}
    for level, source in sources.items():
        stored = grids[grids["level"] == level]
        assert set(stored.index) == set(source[codes[level]])  # parts joined, none lost
        expected = dict(zip(source[codes[level]], source[names[level]], strict=True))
        assert stored["name"].to_dict() == expected  # Chinese names intact
    # containment agrees with the codes (SQ-3-2 in SQ-3 in SQ), which it never looked at
    below = grids[grids["level"] != "subdistrict"]
    by_code = {g: g.rsplit("-", 1)[0] for g in below.index}
    assert below["parent_id"].to_dict() == by_code
    assert grids.loc[grids["level"] == "subdistrict", "parent_id"].isna().all()


def test_saved_mapping_is_reused(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    first = tmp_path / "streets-a.geojson"
    second = tmp_path / "streets-b.geojson"
    for path, code in ((first, "SQ"), (second, "DX")):
        gpd.GeoDataFrame(
            {"街道": [f"{code}街道"], "街道编码": [code]},
            geometry=[
                box(120.0, 30.0, 120.01, 30.01) if code == "SQ" else box(120.01, 30, 120.02, 30.01)
            ],
            crs="EPSG:4326",
        ).to_file(path, driver="GeoJSON")
    spec = ["--map", "grid_id=街道编码,name=街道", "--level", "subdistrict"]
    args = ["--database", url, "import", "--layer", "grids", str(first), *spec]
    assert cli_main([*args, "--save-mapping", "streets"]) == 0
    assert cli_main(["--database", url, "import", str(second), "--mapping", "streets"]) == 0
    store = open_store(url)
    grids = store.read_grids().set_index("grid_id")
    store.dispose()
    assert grids["name"].to_dict() == {"SQ": "SQ街道", "DX": "DX街道"}
    assert cli_main(["--database", url, "import", str(second), "--mapping", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_projected_file_with_a_prj_or_wkt(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    local = pyproj.CRS.from_epsg(4549)  # CGCS2000 / 3-degree Gauss-Kruger CM 120E
    grids = gpd.GeoDataFrame(
        {"grid_id": ["C1"], "name": ["海欣居民区"], "level": ["community"]},
        geometry=[box(121.40, 31.20, 121.42, 31.22)],
        crs="EPSG:4326",
    )
    path = tmp_path / "grids.csv"
    metric = grids.to_crs(local)
    pd.DataFrame(metric.drop(columns="geometry")).assign(wkt=metric.geometry.to_wkt()).to_csv(
        path, index=False
    )
    assert cli_main(["--database", url, "import", str(path)]) == 2
    err = capsys.readouterr().err
    assert "--crs" in err and "cannot be lon/lat" in err
    prj = tmp_path / "area.prj"
    prj.write_text(local.to_wkt("WKT1_ESRI"), encoding="utf-8")
    proj = "+proj=tmerc +lat_0=0 +lon_0=120 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m"
    for given in (str(prj), local.to_wkt(), proj):
        assert cli_main(["--database", url, "import", str(path), "--crs", given]) == 0
        store = open_store(url)
        stored = store.read_grids()
        store.dispose()
        assert stored.geometry.iloc[0].symmetric_difference(grids.geometry.iloc[0]).area < 1e-10


def test_status_table_in_chinese_merges(demo_db_url, tmp_path, capsys):
    store = open_store(demo_db_url)
    before = store.read_status().set_index(["entity_kind", "entity_id"])["status"]
    households = store.read_households()["household_id"].head(2).tolist()
    store.dispose()
    path = tmp_path / "状态.csv"
    pd.DataFrame({"户号": households, "状态": ["一直在沪", "外出未返"], "人数": ["3", ""]}).to_csv(
        path, index=False, encoding="gbk"
    )
    assert cli_main(["--database", demo_db_url, "status", str(path)]) == 0
    store = open_store(demo_db_url)
    after = store.read_status().set_index(["entity_kind", "entity_id"])["status"]
    store.dispose()
    assert len(after) == len(before)  # merged: 10,451 rows stay 10,451
    assert after[("household", households[0])] == "green"
    assert after[("household", households[1])] == "blue"
    others = before.drop([("household", h) for h in households])
    assert after.drop([("household", h) for h in households]).equals(others)
    # the same file through `mapserver import` merges too
    assert cli_main(["--database", demo_db_url, "import", str(path)]) == 0
    assert "status: 2 rows" in capsys.readouterr().out
