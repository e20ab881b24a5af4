"""Acceptance on real data: Baidu (BD-09) 小区 points as an event layer over Hangzhou's 社区."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from mapserver.cli import main as cli_main
from mapserver.store import open_store
from mapserver.web import create_app

# An independent BD-09 -> WGS84 conversion (the published formulas, written out again here).
_X_PI = np.pi * 3000.0 / 180.0
_A, _EE = 6378245.0, 0.00669342162296594323


def bd09_to_gcj02(lon, lat):
    """The closed-form inverse Baidu publishes (good to a few centimetres)."""
    x, y = np.asarray(lon) - 0.0065, np.asarray(lat) - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def wgs84_to_gcj02(lon, lat):
    """The GCJ-02 forward shift (Krasovsky ellipsoid)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    x, y = lon - 105.0, lat - 35.0
    s6, s2 = np.sin(6 * x * np.pi), np.sin(2 * x * np.pi)
    dlat = -100 + 2 * x + 3 * y + 0.2 * y**2 + 0.1 * x * y + 0.2 * np.sqrt(abs(x))
    dlat += (20 * s6 + 20 * s2) * 2 / 3
    dlat += (20 * np.sin(y * np.pi) + 40 * np.sin(y / 3 * np.pi)) * 2 / 3
    dlat += (160 * np.sin(y / 12 * np.pi) + 320 * np.sin(y * np.pi / 30)) * 2 / 3
    dlon = 300 + x + 2 * y + 0.1 * x**2 + 0.1 * x * y + 0.1 * np.sqrt(abs(x))
    dlon += (20 * s6 + 20 * s2) * 2 / 3
    dlon += (20 * np.sin(x * np.pi) + 40 * np.sin(x / 3 * np.pi)) * 2 / 3
    dlon += (150 * np.sin(x / 12 * np.pi) + 300 * np.sin(x / 30 * np.pi)) * 2 / 3
    rad = lat / 180 * np.pi
    magic = 1 - _EE * np.sin(rad) ** 2
    dlat = dlat * 180 / ((_A * (1 - _EE)) / (magic * np.sqrt(magic)) * np.pi)
    dlon = dlon * 180 / (_A / np.sqrt(magic) * np.cos(rad) * np.pi)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon, lat):
    """Invert the forward shift by Newton-free fixed-point steps (converges in a few)."""
    wx, wy = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    for _ in range(20):
        fx, fy = wgs84_to_gcj02(wx, wy)
        wx, wy = wx - (fx - lon), wy - (fy - lat)
    return wx, wy


def test_independent_conversion_matches_known_reference_points():
    # reference values of the widely used coordtransform library at (116.404, 39.915)
    gx, gy = wgs84_to_gcj02(116.404, 39.915)
    assert (gx, gy) == pytest.approx((116.41024449916938, 39.91640428150164), abs=1e-9)
    bx, by = bd09_to_gcj02(116.404, 39.915)
    assert (bx, by) == pytest.approx((116.39762729119315, 39.90865673957631), abs=1e-9)
    back = wgs84_to_gcj02(*gcj02_to_wgs84(116.404, 39.915))
    assert back == pytest.approx((116.404, 39.915), abs=1e-9)


def _hangzhou_grids(realdata) -> gpd.GeoDataFrame:
    """街道 › 社区 of the former 下城区, renamed to the model's columns with pandas."""
    raw = gpd.read_file(realdata / "hangzhou-xiacheng" / "xiacheng_community.geojson")
    community = raw.dissolve(by="社区编码", as_index=False, aggfunc="first")
    community = community.rename(
        columns={"社区编码": "grid_id", "街道编码": "parent_id", "社区": "name"}
    ).assign(level="community")
    street = raw.dissolve(by="街道编码", as_index=False, aggfunc="first")
    street = street.rename(columns={"街道编码": "grid_id", "街道": "name"})
    street = street.assign(level="subdistrict", parent_id=None)
    columns = ["grid_id", "parent_id", "level", "name", "geometry"]
    grids = pd.concat([street[columns], community[columns]], ignore_index=True)
    return gpd.GeoDataFrame(grids, geometry="geometry", crs="EPSG:4326")


def _strict(text: str):
    def refuse(name):
        raise ValueError(f"{name} in JSON")

    return json.loads(text, parse_constant=refuse)


def test_bd09_xiaoqu_points_counted_per_community_as_an_independent_sjoin(
    realdata, tmp_path, capsys
):
    csv = realdata / "hangzhou-xiaoqu-bd09.csv"
    grids = _hangzhou_grids(realdata)
    url = f"sqlite:///{tmp_path / 'hz.sqlite'}"
    store = open_store(url)
    store.import_layers({"grids": grids}, user="test")
    store.dispose()

    assert cli_main(["--database", url, "events", str(csv), "--crs", "bd09"]) == 0
    printed = capsys.readouterr().out

    # independent: the raw file, our own conversion, a geopandas sjoin
    raw = pd.read_csv(csv, dtype=str)
    lon = pd.to_numeric(raw["longitude"], errors="coerce")
    lat = pd.to_numeric(raw["latitude"], errors="coerce")
    usable = lon.notna() & lat.notna()
    wx, wy = gcj02_to_wgs84(*bd09_to_gcj02(lon[usable].to_numpy(), lat[usable].to_numpy()))
    points = gpd.GeoDataFrame(
        {"row": np.flatnonzero(usable) + 1}, geometry=gpd.points_from_xy(wx, wy), crs=4326
    )
    communities = grids[grids["level"] == "community"][["grid_id", "geometry"]]
    hits = gpd.sjoin(points, communities, predicate="intersects", how="inner")
    # a point in two overlapping 社区 belongs to the first by grid id (the stated rule)
    hits = hits.sort_values(["row", "grid_id"]).drop_duplicates("row")
    expected = hits.groupby("grid_id").size()
    inside_streets = gpd.sjoin(points, grids[grids["level"] == "subdistrict"], how="inner")
    outside = len(points) - inside_streets["row"].nunique()

    app = create_app({"database_url": url, "secret_key": "test"})
    client = app.test_client()
    store = app.extensions["store"]
    store.create_user("chief", "pw", role="commander")  # event counts need a login
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {store.create_token('chief')}"
    answer = client.get("/api/events/summary?level=community&by=day")
    assert answer.status_code == 200
    summary = _strict(answer.get_data(as_text=True))
    got = {g["grid_id"]: g["events"] for g in summary["grids"]}
    assert set(got) == set(communities["grid_id"])
    assert {k: v for k, v in got.items() if v} == expected.to_dict()
    assert sum(got.values()) > 300  # about 408 of the 小区 lie in the former 下城区

    streets = _strict(client.get("/api/events/summary?level=subdistrict").get_data(as_text=True))
    by_street = {g["grid_id"]: g["events"] for g in streets["grids"]}
    parent = dict(
        zip(
            communities["grid_id"],
            grids.set_index("grid_id").loc[communities["grid_id"], "parent_id"],
            strict=True,
        )
    )
    for street, total in by_street.items():
        assert total >= sum(v for k, v in got.items() if parent[k] == street)
    assert sum(by_street.values()) == len(points) - outside

    # reported: rows without coordinates, and every point outside every grid
    assert int((~usable).sum()) == 85
    assert f"rows skipped: {int((~usable).sum())}" in printed
    assert f"outside every grid: {outside}" in printed
    assert summary["total"] == len(points)
    assert summary["outside"] == outside
    assert summary["by_day"] == {g: [{"day": None, "events": n}] for g, n in expected.items()}
    app.extensions["store"].dispose()
