"""``mapserver events``: import a case list, merge, replace, and re-join after grids are redrawn."""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import box

from mapserver.cli import main as cli_main
from mapserver.store import open_store

X0, Y0 = 121.40, 31.20


def _grids(split: float) -> gpd.GeoDataFrame:
    """Community C holding micro-grids W and E, split at ``split`` degrees east of X0."""
    return gpd.GeoDataFrame(
        {
            "grid_id": ["C", "W", "E"],
            "parent_id": [None, "C", "C"],
            "level": ["community", "micro", "micro"],
            "name": ["海欣居民区", "西", "东"],
        },
        geometry=[
            box(X0, Y0, X0 + 0.02, Y0 + 0.01),
            box(X0, Y0, X0 + split, Y0 + 0.01),
            box(X0 + split, Y0, X0 + 0.02, Y0 + 0.01),
        ],
        crs="EPSG:4326",
    )


def _buildings() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"building_id": ["B1"], "grid_id": ["W"], "households": [20]},
        geometry=[box(X0 + 0.0040, Y0 + 0.0040, X0 + 0.0050, Y0 + 0.0050)],
        crs="EPSG:4326",
    )


def test_import_print_merge_and_rejoin(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = open_store(url)
    store.import_layers({"grids": _grids(0.010), "buildings": _buildings()})
    store.dispose()
    cases = tmp_path / "cases.csv"
    cases.write_text(
        "编号,日期,经度,纬度\n"
        f"A,2022-04-01,{X0 + 0.0045},{Y0 + 0.0052}\n"  # 22 m north of B1
        f"B,2022-04-02,{X0 + 0.012},{Y0 + 0.005}\n"
        f"C,2022-04-02,{X0 + 0.015},{Y0 + 0.005}\n"
        "D,2022-04-02,,\n"
        f"Z,2022-04-03,{X0 + 0.5},{Y0}\n",
        encoding="utf-8",
    )
    assert cli_main(["--database", url, "events", str(cases), "--max-distance", "30"]) == 0
    out = capsys.readouterr().out
    assert "events: 4" in out and "rows skipped: 1" in out
    assert "outside every grid: 1" in out and "row 5  Z" in out
    assert "with a building within 30 m: 1" in out
    assert "row 4 field 'lon/lat': no coordinates" in out
    store = open_store(url)

    def grid_of() -> dict:
        events = store.read_events()
        return dict(zip(events["event_id"], events["grid_id"], strict=True))

    assert grid_of() == {"A": "W", "B": "E", "C": "E", "Z": None}

    assert cli_main(["--database", url, "events", str(cases)]) == 0
    assert "added 0, 替换 / replaced 4" in capsys.readouterr().out

    # the planner moves the W/E boundary east: B now lies in W
    store.import_layers({"grids": _grids(0.013)})
    assert cli_main(["--database", url, "events", "--rejoin"]) == 0
    assert "moved to another grid: 1" in capsys.readouterr().out
    assert grid_of() == {"A": "W", "B": "W", "C": "E", "Z": None}
    assert set(store.read_events()["source_file"]) == {"cases.csv"}
    modes = [a["mode"] for a in store.recent_imports()]
    assert modes == ['{"events": "rejoin"}', '{"events": "merge"}', '{"events": "merge"}']
    store.dispose()

    assert cli_main(["--database", url, "events"]) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("名称,地址\n甲,某路\n", encoding="utf-8")
    assert cli_main(["--database", url, "events", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "nothing written" in err and "bad.csv field 'lon/lat'" in err
