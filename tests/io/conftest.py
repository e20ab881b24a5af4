"""Fixtures of the io tests: a tiny district near Shanghai built in code (EPSG:4326)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box


@pytest.fixture
def grids() -> gpd.GeoDataFrame:
    """One community (about 1.9 x 2.2 km) split into two micro-grids, west and east."""
    return gpd.GeoDataFrame(
        {
            "grid_id": ["C1", "M1", "M2"],
            "parent_id": [None, "C1", "C1"],
            "level": ["community", "micro", "micro"],
            "name": ["海欣居民区", "微网格一", "微网格二"],
        },
        geometry=[
            box(121.40, 31.20, 121.42, 31.22),
            box(121.40, 31.20, 121.41, 31.22),
            box(121.41, 31.20, 121.42, 31.22),
        ],
        crs="EPSG:4326",
    )


@pytest.fixture
def buildings() -> gpd.GeoDataFrame:
    """Three buildings: two in the west micro-grid, one in the east."""
    return gpd.GeoDataFrame(
        {
            "building_id": ["B1", "B2", "B3"],
            "name": ["1号楼", "2号楼", "3号楼"],
            "households": [30, 24, 12],
            "residents": [60, 50, 20],
        },
        geometry=[Point(121.403, 31.205), Point(121.407, 31.215), Point(121.415, 31.21)],
        crs="EPSG:4326",
    )


@pytest.fixture
def households() -> pd.DataFrame:
    """Four households in two buildings."""
    return pd.DataFrame(
        {
            "household_id": ["H1", "H2", "H3", "H4"],
            "building_id": ["B1", "B1", "B2", "B3"],
            "unit": ["1", "1", "2", "1"],
            "room": ["101", "102", "201", "301"],
            "residents": [2, 3, 1, 4],
        }
    )
