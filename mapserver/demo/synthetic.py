"""A generated parent grid of many buildings, for the districting tests and benchmark."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

from mapserver import crs as crs_mod
from mapserver.model import STORAGE_CRS

ORIGIN = (121.30, 31.20)  # lon, lat of the south-west corner
SPACING_M = 30.0  # mean distance between neighbouring buildings
HOUSE_SHARE = 0.4  # share of houses (1-3 households); the rest are walk-ups (6-24)


def synthetic_parent(
    n_buildings: int = 10_000, *, seed: int = 0
) -> tuple[gpd.GeoDataFrame, shapely.Polygon, gpd.GeoDataFrame]:
    """A parent grid with ``n_buildings`` jittered buildings and two main roads across it.

    Buildings stand on a jittered square lattice (``SPACING_M`` apart) inside a
    square with its north-east corner cut off; houses (1-3 households, 10 m
    squares) and walk-ups (2 units x 3-6 floors x 1-2 doors, 20 m squares) mix
    at random; residents are households x 1-4. Two main roads (one north-south,
    one east-west) cross the parent through gaps in the lattice.

    Returns
    -------
    (buildings, parent, roads)
        Buildings (``building_id``, ``households``, ``residents``, geometry),
        the parent polygon and road edges (``edge_id``, ``road_class`` "main"),
        all in EPSG:4326.
    """
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_buildings * 1.2))) + 2
    gx, gy = np.meshgrid(np.arange(side), np.arange(side))
    gx, gy = gx.ravel(), gy.ravel()
    road_x, road_y = side // 3, (2 * side) // 3
    keep = (gx != road_x) & (gy != road_y) & (gx + gy < 1.75 * side)
    gx, gy = gx[keep][:n_buildings], gy[keep][:n_buildings]
    if len(gx) < n_buildings:
        msg = f"lattice too small for {n_buildings} buildings"
        raise ValueError(msg)
    x = (gx + 0.5 + rng.uniform(-0.25, 0.25, n_buildings)) * SPACING_M
    y = (gy + 0.5 + rng.uniform(-0.25, 0.25, n_buildings)) * SPACING_M
    house = rng.random(n_buildings) < HOUSE_SHARE
    walkup = 2 * rng.integers(3, 7, n_buildings) * rng.integers(1, 3, n_buildings)
    households = np.where(house, rng.integers(1, 4, n_buildings), walkup)
    residents = households * rng.integers(1, 5, n_buildings)
    half = np.where(house, 5.0, 10.0)
    metric = crs_mod.metric_crs((*ORIGIN, *ORIGIN))
    fwd = Transformer.from_crs(STORAGE_CRS, metric, always_xy=True)
    ox, oy = fwd.transform(*ORIGIN)
    feet = shapely.box(ox + x - half, oy + y - half, ox + x + half, oy + y + half)
    extent = side * SPACING_M
    parent = shapely.Polygon(
        [
            (ox, oy),
            (ox + extent, oy),
            (ox + extent, oy + 0.75 * extent),
            (ox + 0.75 * extent, oy + extent),
            (ox, oy + extent),
        ]
    )
    rx, ry = (road_x + 0.5) * SPACING_M, (road_y + 0.5) * SPACING_M
    roads = [
        shapely.LineString([(ox + rx, oy), (ox + rx, oy + extent)]),
        shapely.LineString([(ox, oy + ry), (ox + extent, oy + ry)]),
    ]
    width = len(str(n_buildings))
    buildings = gpd.GeoDataFrame(
        {
            "building_id": [f"S{i + 1:0{width}d}" for i in range(n_buildings)],
            "households": households.astype(np.int64),
            "residents": residents.astype(np.int64),
        },
        geometry=feet,
        crs=metric,
    ).to_crs(STORAGE_CRS)
    parent_ll = gpd.GeoSeries([parent], crs=metric).to_crs(STORAGE_CRS).iloc[0]
    road_frame = gpd.GeoDataFrame(
        {"edge_id": ["R1", "R2"], "road_class": ["main", "main"]},
        geometry=gpd.GeoSeries(roads, crs=metric).to_crs(STORAGE_CRS).values,
        crs=STORAGE_CRS,
    )
    return buildings, parent_ll, road_frame
