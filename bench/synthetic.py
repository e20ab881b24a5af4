"""A large synthetic district for benchmarks: a lattice of grids, buildings and households.

Not the demo (which models real neighbourhood shapes); this one is sized exactly
as the benchmarks ask, fast to build with numpy.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ORIGIN = (121.10, 31.00)  # lon, lat of the south-west corner
CELL_DEG = 0.0012  # about 115 m x 133 m per micro-grid


def _boxes(ix: np.ndarray, iy: np.ndarray, size: int) -> np.ndarray:
    x0 = ORIGIN[0] + ix * size * CELL_DEG
    y0 = ORIGIN[1] + iy * size * CELL_DEG
    return shapely.box(x0, y0, x0 + size * CELL_DEG, y0 + size * CELL_DEG)


def synthetic_district(
    *,
    micro_x: int = 80,
    micro_y: int = 60,
    buildings: int = 50_000,
    households: int = 1_000_000,
    seed: int = 1,
) -> dict[str, pd.DataFrame]:
    """Layers (model.py columns) of a lattice district.

    Micro-grids form a ``micro_x`` x ``micro_y`` lattice; 5x5 micro-grids make a big
    grid, 4x4 big grids a community, and one root holds all. Buildings are small
    squares spread evenly over the micro-grids; households are spread evenly over
    buildings; every household has a status in the hongkou6 scheme.
    """
    rng = np.random.default_rng(seed)
    rows = []
    geoms = []
    root = "R"
    geoms.append(_boxes(np.array([0]), np.array([0]), 1)[0])
    rows.append((root, None, "subdistrict", "合成街道"))
    bx, by = micro_x // 5, micro_y // 5
    cx, cy = -(-bx // 4), -(-by // 4)
    for j in range(cy):
        for i in range(cx):
            rows.append((f"C{i}-{j}", root, "community", f"社区{i}-{j}"))
            geoms.append(_boxes(np.array([i]), np.array([j]), 20)[0])
    for j in range(by):
        for i in range(bx):
            rows.append((f"B{i}-{j}", f"C{i // 4}-{j // 4}", "big", f"大网格{i}-{j}"))
            geoms.append(_boxes(np.array([i]), np.array([j]), 5)[0])
    mi, mj = np.meshgrid(np.arange(micro_x), np.arange(micro_y))
    mi, mj = mi.ravel(), mj.ravel()
    micro_ids = np.char.add(np.char.add("M", mi.astype(str)), np.char.add("-", mj.astype(str)))
    for k in range(len(mi)):
        rows.append((micro_ids[k], f"B{mi[k] // 5}-{mj[k] // 5}", "micro", f"微网格{micro_ids[k]}"))
    geoms.extend(_boxes(mi, mj, 1))
    # the root spans everything
    geoms[0] = shapely.box(
        ORIGIN[0], ORIGIN[1], ORIGIN[0] + micro_x * CELL_DEG, ORIGIN[1] + micro_y * CELL_DEG
    )
    grids = gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=["grid_id", "parent_id", "level", "name"]),
        geometry=geoms,
        crs="EPSG:4326",
    )
    grids["person"] = None
    grids["phone"] = None
    grids["target_households"] = pd.array([None] * len(grids), dtype="Int64")
    grids["area_class"] = "none"
    grids["version"] = 1

    cell = rng.integers(0, len(mi), buildings)
    fx, fy = rng.uniform(0.1, 0.85, buildings), rng.uniform(0.1, 0.85, buildings)
    x0 = ORIGIN[0] + (mi[cell] + fx) * CELL_DEG
    y0 = ORIGIN[1] + (mj[cell] + fy) * CELL_DEG
    building_ids = np.char.add("BLD", np.arange(buildings).astype(str))
    per_building = np.full(buildings, households // buildings)
    per_building[: households - per_building.sum()] += 1
    residents = rng.integers(1, 5, households)
    owner = np.repeat(np.arange(buildings), per_building)
    building_residents = np.bincount(owner, weights=residents, minlength=buildings).astype(int)
    blds = gpd.GeoDataFrame(
        {
            "building_id": building_ids,
            "grid_id": micro_ids[cell],
            "name": np.char.add("楼", np.arange(buildings).astype(str)),
            "address": None,
            "compound_id": None,
            "units": 2,
            "households": per_building,
            "residents": building_residents,
            "gate_node": None,
        },
        geometry=shapely.box(x0, y0, x0 + CELL_DEG * 0.08, y0 + CELL_DEG * 0.05),
        crs="EPSG:4326",
    )
    household_ids = np.char.add(
        np.char.add(building_ids[owner], "-"), np.arange(households).astype(str)
    )
    hh = pd.DataFrame(
        {
            "household_id": household_ids,
            "building_id": building_ids[owner],
            "unit": "1",
            "room": np.arange(households).astype(str),
            "residents": residents,
        }
    )
    codes = np.array(["green", "blue", "black", "yellow", "grey", "red"])
    pick = rng.choice(len(codes), households, p=[0.8, 0.08, 0.04, 0.03, 0.035, 0.015])
    status = pd.DataFrame(
        {
            "entity_kind": "household",
            "entity_id": household_ids,
            "status": codes[pick],
            "persons": residents,
            "updated_at": "2022-04-01T08:00:00+08:00",
            "source": "bench",
            "seq": 0,
        }
    )
    return {"grids": grids, "buildings": blds, "households": hh, "status": status}
