"""A worker's memory does not grow with the households or the buildings of the district: the
same grids with 100 times the households (1,000,000), or (drawn from tiles, as a large
district is) 20 times the buildings, cost the serving worker (almost) nothing more."""

from __future__ import annotations

import tracemalloc

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapserver.store import open_store
from mapserver.web import create_app

GRIDS = 20
BUILDINGS = 400
CODES = ("green", "yellow", "red", "grey")


def _district(households: int, n_buildings: int = BUILDINGS) -> dict[str, pd.DataFrame]:
    """A row of GRIDS micro-grids under one root, ``n_buildings`` buildings, ``households``
    households spread evenly, each with a status."""
    cell = 0.002
    boxes = [shapely.box(121 + i * cell, 31, 121 + (i + 1) * cell, 31 + cell) for i in range(GRIDS)]
    grids = gpd.GeoDataFrame(
        {
            "grid_id": ["R", *(f"M{i}" for i in range(GRIDS))],
            "parent_id": [None, *(["R"] * GRIDS)],
            "level": ["subdistrict", *(["micro"] * GRIDS)],
            "name": ["街道", *(f"微网格{i}" for i in range(GRIDS))],
        },
        geometry=[shapely.box(121, 31, 121 + GRIDS * cell, 31 + cell), *boxes],
        crs="EPSG:4326",
    )
    b = np.arange(n_buildings)
    x = 121 + (b % (GRIDS * 10) + 0.5) * cell / 10
    y = 31 + (b // (GRIDS * 10) + 0.5) * cell / 3
    buildings = gpd.GeoDataFrame(
        {
            "building_id": [f"B{i}" for i in b],
            "grid_id": [f"M{int(i % (GRIDS * 10)) // 10}" for i in b],
        },
        geometry=shapely.buffer(shapely.points(x, y), cell / 50),
        crs="EPSG:4326",
    )
    h = np.arange(households)
    ids = [f"H{i:07d}" for i in h]
    rng = np.random.default_rng(7)
    return {
        "grids": grids,
        "buildings": buildings,
        "households": pd.DataFrame(
            {"household_id": ids, "building_id": [f"B{i % n_buildings}" for i in h], "residents": 2}
        ),
        "status": pd.DataFrame(
            {
                "entity_kind": "household",
                "entity_id": ids,
                "status": rng.choice(CODES, size=households),
            }
        ),
    }


def _serving_peak(
    tmp_path, households: int, buildings: int = BUILDINGS, *, since: int | None = 0
) -> tuple[int, dict]:
    """Peak traced memory (bytes) of a worker started on the district, serving the map's
    calls, a status write and the changes ``since`` (the write's own when None), and its
    summary."""
    url = f"sqlite:///{tmp_path / f'h{households}-b{buildings}.sqlite'}"
    store = open_store(url)
    store.import_layers(_district(households, buildings), user="t")
    store.create_user("admin", "memory-test-2026", role="admin")
    token = store.create_token("admin")
    store.dispose()
    tracemalloc.start()
    try:
        app = create_app({"database_url": url, "secret_key": "test"})
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        for path in ("/api/config", "/api/grids?level=micro", "/api/status/grids?level=micro"):
            assert client.get(path).status_code == 200
        assert client.get("/api/buildings?grid=M3").status_code == 200
        assert client.get("/api/tiles/grids/16/54795/26805.pbf?level=micro").status_code == 200
        write = {"rows": [{"entity_id": "H0000001", "status": "red"}]}
        written = client.post("/api/status", json=write)
        assert written.status_code == 200
        after = written.get_json()["seq"] - 1 if since is None else since
        assert client.get(f"/api/changes?since={after}").status_code == 200
        summary = client.get("/api/summary").get_json()
        app.extensions["store"].dispose()
        return tracemalloc.get_traced_memory()[1], summary
    finally:
        tracemalloc.stop()


def test_worker_memory_does_not_grow_with_households(tmp_path):
    small, small_summary = _serving_peak(tmp_path, 10_000)
    large, large_summary = _serving_peak(tmp_path, 300_000)
    assert small_summary["households"] == 10_000 and large_summary["households"] == 300_000
    assert large < 32 * 1024 * 1024, large  # a 300,000-household district, served
    # before: 11.5 MB -> 102 MB at 200,000 (households held in pandas, the change log read
    # whole); now a few MB at any size: counts and the changed buildings come from the store
    assert large - small < 8 * 1024 * 1024, (small, large)


def test_a_tiled_workers_memory_does_not_grow_with_buildings(tmp_path, monkeypatch):
    monkeypatch.setattr("mapserver.services.mapview.TILED_FROM_BUILDINGS", 1)
    small, small_summary = _serving_peak(tmp_path, 20_000, 400, since=None)
    large, large_summary = _serving_peak(tmp_path, 20_000, 8_000, since=None)
    assert small_summary["households"] == large_summary["households"] == 20_000
    # before this bound: every building held per worker (about 2.6 kB each: +20 MB here)
    assert large - small < 4 * 1024 * 1024, (small, large)
