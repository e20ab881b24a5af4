"""A street lattice shared by the patrol and tour tests."""

from __future__ import annotations

import itertools
import random

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, Point


def street_lattice(n: int, *, seed: int = 0) -> tuple:
    """An n x n street lattice (about 100 m blocks) with integer lengths 80-120 m."""
    rng = random.Random(seed)
    xy = {f"n{i}_{j}": (121.2 + i * 0.001, 31.1 + j * 0.001) for i in range(n) for j in range(n)}
    rows = []
    for i, j in itertools.product(range(n), range(n)):
        for di, dj, tag in ((1, 0, "h"), (0, 1, "v")):
            if i + di < n and j + dj < n:
                u, v = f"n{i}_{j}", f"n{i + di}_{j + dj}"
                rows.append(
                    {
                        "edge_id": f"{tag}{i}_{j}",
                        "u": u,
                        "v": v,
                        "name": "",
                        "road_class": "lane",
                        "oneway": False,
                        "mode": "drive",
                        "length_m": float(rng.randint(80, 120)),
                        "closed": False,
                        "geometry": LineString([xy[u], xy[v]]),
                    }
                )
    nodes = gpd.GeoDataFrame(
        {"node_id": list(xy), "kind": "junction"},
        geometry=[Point(p) for p in xy.values()],
        crs="EPSG:4326",
    )
    return nodes, gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs="EPSG:4326")
