"""Store fixtures: a store per backend (SQLite file, PostgreSQL/PostGIS) and a tiny district."""

from __future__ import annotations

import os

import geopandas as gpd
import pandas as pd
import pytest
import sqlalchemy as sa
from shapely.geometry import box

from mapserver.config import test_database_url
from mapserver.store import Store, open_store


def _postgres_url() -> str:
    """Return the PostgreSQL test URL, skipping (locally) or failing (CI) without one."""
    url = test_database_url()
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail("MAPSERVER_TEST_PG_URL is not set: CI must run the PostgreSQL store tests")
    pytest.skip("MAPSERVER_TEST_PG_URL is not set (run .ci/start_postgres.sh to get one)")


def _empty_postgres(url: str) -> None:
    """Drop every table of the public schema so each test starts from nothing."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
            names = conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'spatial_ref_sys'"
            ).scalars()
            for name in list(names):
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}" CASCADE')
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """The URL of an empty store: a SQLite file, or the test PostgreSQL emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'store.sqlite'}"
    url = _postgres_url()
    _empty_postgres(url)
    return url


@pytest.fixture
def store(store_url: str):
    """An empty store with its schema, on each backend."""
    opened = open_store(store_url)
    yield opened
    opened.dispose()


@pytest.fixture
def district() -> dict[str, pd.DataFrame]:
    """A tiny deterministic district: 3 grids in a tree, 4 buildings, 10 households, status.

    Coordinates are degrees (EPSG:4326) near Shanghai's Hongkou district.
    """
    x0, y0 = 121.48, 31.26
    grids = gpd.GeoDataFrame(
        {
            "grid_id": ["G", "G-1", "G-2"],
            "parent_id": [None, "G", "G"],
            "level": ["community", "micro", "micro"],
            "name": ["欧阳居委", "微网格一", "微网格二"],
            "person": ["王芳", "李强", None],
            "phone": ["13800000000", None, None],
            "target_households": [None, 5, 5],
            "area_class": ["controlled", "sealed", "none"],
            "version": [1, 1, 1],
        },
        geometry=[
            box(x0, y0, x0 + 0.02, y0 + 0.01),
            box(x0, y0, x0 + 0.01, y0 + 0.01),
            box(x0 + 0.01, y0, x0 + 0.02, y0 + 0.01),
        ],
        crs="EPSG:4326",
    )
    footprints = [
        box(x0 + 0.001, y0 + 0.001, x0 + 0.002, y0 + 0.002),
        box(x0 + 0.006, y0 + 0.006, x0 + 0.008, y0 + 0.007),
        box(x0 + 0.012, y0 + 0.002, x0 + 0.013, y0 + 0.004),
        box(x0 + 0.017, y0 + 0.007, x0 + 0.019, y0 + 0.009),
    ]
    buildings = gpd.GeoDataFrame(
        {
            "building_id": ["B1", "B2", "B3", "B4"],
            "grid_id": ["G-1", "G-1", "G-2", "G-2"],
            "name": ["1号楼", "2号楼", "3号楼", "4号楼"],
            "address": ["欧阳路1号", None, "欧阳路3号", None],
            "compound_id": ["C1", "C1", None, None],
            "units": [1, 2, 1, 1],
            "households": [3, 3, 2, 2],
            "residents": [7, 6, 4, 5],
            "gate_node": ["N1", "N1", "N2", None],
        },
        geometry=footprints,
        crs="EPSG:4326",
    )
    household_buildings = ["B1"] * 3 + ["B2"] * 3 + ["B3"] * 2 + ["B4"] * 2
    households = pd.DataFrame(
        {
            "household_id": [f"H{i:02d}" for i in range(1, 11)],
            "building_id": household_buildings,
            "unit": ["1", "1", "1", "1", "2", "2", "1", "1", "1", "1"],
            "room": ["101", "102", "201", "101", "101", "201", "101", "102", "101", "201"],
            "residents": [2, 3, 2, 1, 3, 2, 2, 2, 3, 2],
        }
    )
    status = pd.DataFrame(
        {
            "entity_kind": ["household"] * 4 + ["building"],
            "entity_id": ["H01", "H02", "H04", "H07", "B4"],
            "status": ["green", "red", "yellow", "blue", "green"],
            "persons": [2, 3, None, 2, 5],
            "updated_at": ["2020-02-01T08:00:00+00:00"] * 5,
            "source": ["import"] * 5,
        }
    )
    return {"grids": grids, "buildings": buildings, "households": households, "status": status}


@pytest.fixture
def loaded(store: Store, district: dict[str, pd.DataFrame]) -> Store:
    """A store holding the tiny district."""
    store.import_layers(district, user="loader")
    return store
