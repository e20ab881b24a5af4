"""Estimated household rows of buildings, and buildings too big for a micro-grid split by units."""

from __future__ import annotations

import itertools
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapserver import model
from mapserver.districting._common import metric_crs_of, polygonal


def units_of(households: np.ndarray, levels: np.ndarray, per_floor: int) -> np.ndarray:
    """Units (单元, one stairwell each): ``ceil(households / (levels * per_floor))``."""
    per_unit = np.maximum(1, np.asarray(levels, dtype=float) * per_floor)
    return np.maximum(1, np.ceil(np.asarray(households, dtype=float) / per_unit)).astype(np.int64)


def household_rows(buildings: gpd.GeoDataFrame, *, per_floor: int = 2) -> pd.DataFrame:
    """One estimated row per household of every building (``model.HOUSEHOLD_COLUMNS``).

    A building's ``households`` are spread evenly over its ``units`` (1 when
    missing), filling each unit floor by floor with ``per_floor`` flats a floor
    (一梯两户 by default). Ids are readable and stable for the same building:
    ``"<building_id>-<unit>-<floor><flat:02d>"``, e.g. ``osm:w42-2-0501`` for
    unit 2, floor 5, flat 1. The building's ``residents`` are spread over its
    households (the first ones get one more when they do not divide evenly), so
    they sum to the building's figure.
    """
    ids, bids, units, rooms, residents = [], [], [], [], []
    for bid, hh, res, n_units in zip(
        buildings["building_id"].astype(str),
        pd.to_numeric(buildings["households"], errors="coerce").fillna(0).astype(int),
        pd.to_numeric(buildings["residents"], errors="coerce").fillna(0).astype(int),
        pd.to_numeric(buildings["units"], errors="coerce").fillna(1).astype(int),
        strict=True,
    ):
        if hh <= 0:
            continue
        n_units = max(1, min(int(n_units), int(hh)))
        base, extra = divmod(int(res), int(hh))
        k = 0
        for unit in range(1, n_units + 1):
            in_unit = hh // n_units + (1 if unit <= hh % n_units else 0)
            for j in range(in_unit):
                floor, flat = divmod(j, per_floor)
                room = f"{floor + 1}{flat + 1:02d}"
                ids.append(f"{bid}-{unit}-{floor + 1:02d}{flat + 1:02d}")
                bids.append(bid)
                units.append(str(unit))
                rooms.append(room)
                residents.append(base + (1 if k < extra else 0))
                k += 1
    return pd.DataFrame(
        {
            "household_id": pd.Series(ids, dtype=object),
            "building_id": pd.Series(bids, dtype=object),
            "unit": pd.Series(units, dtype=object),
            "room": pd.Series(rooms, dtype=object),
            "residents": pd.Series(residents, dtype=np.int64),
        }
    )[list(model.HOUSEHOLD_COLUMNS)]


def split_by_units(buildings: gpd.GeoDataFrame, maximum: int) -> gpd.GeoDataFrame:
    """Replace each building over ``maximum`` households by virtual sub-buildings of whole units.

    The units of such a building are grouped, in order, into the fewest pieces
    of at most ``maximum`` households each (a unit bigger than that stays one
    piece); each piece gets a strip of the footprint across its longest axis,
    sized by its share of households, and the id ``"<building_id>#<first
    unit>-<last unit>"`` (``#3`` for a single unit). Other buildings are kept as
    they are. ``attrs["split"]`` maps each split building id to its piece ids.
    """
    hh = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy(int)
    big = np.flatnonzero(hh > maximum)
    if len(big) == 0:
        out = buildings.copy()
        out.attrs["split"] = {}
        return out
    crs = metric_crs_of(None, buildings)
    rows, split = [], {}
    keep = np.ones(len(buildings), dtype=bool)
    keep[big] = False
    for i in big:
        row = buildings.iloc[i]
        pieces = _unit_groups(int(hh[i]), _units(row), maximum)
        geoms = _strips(row.geometry, [p[2] for p in pieces], crs)
        res = _spread(int(row["residents"]) if pd.notna(row["residents"]) else 0, pieces)
        names = []
        for (first, last, count), geom, r in zip(pieces, geoms, res, strict=True):
            pid = f"{row['building_id']}#{first}" + ("" if first == last else f"-{last}")
            names.append(pid)
            rows.append(
                {
                    **row.to_dict(),
                    "building_id": pid,
                    "units": last - first + 1,
                    "households": count,
                    "residents": r,
                    "geometry": geom,
                }
            )
        split[str(row["building_id"])] = names
    added = gpd.GeoDataFrame(rows, geometry="geometry", crs=buildings.crs)
    out = pd.concat([buildings[keep], added[buildings.columns]], ignore_index=True)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=buildings.crs)
    out["units"] = pd.array(pd.to_numeric(out["units"]).tolist(), dtype="Int64")
    out.attrs["split"] = split
    return out


def _units(row) -> int:
    value = row.get("units")
    return int(value) if value is not None and pd.notna(value) and int(value) > 0 else 1


def _unit_groups(households: int, units: int, maximum: int) -> list[tuple[int, int, int]]:
    """Consecutive units as ``(first, last, households)`` pieces of at most ``maximum``."""
    units = max(1, min(units, households))
    sizes = [households // units + (1 if u < households % units else 0) for u in range(units)]
    per = max(1, maximum // max(sizes))
    count = math.ceil(units / per)
    per = math.ceil(units / count)
    out = []
    for start in range(0, units, per):
        chunk = sizes[start : start + per]
        out.append((start + 1, start + len(chunk), sum(chunk)))
    return out


def _spread(total: int, pieces: list[tuple[int, int, int]]) -> list[int]:
    """Split ``total`` residents over pieces in proportion to their households."""
    hh = np.array([p[2] for p in pieces], dtype=float)
    raw = total * hh / hh.sum()
    out = np.floor(raw).astype(int)
    order = np.argsort(-(raw - out), kind="stable")
    out[order[: total - out.sum()]] += 1
    return out.tolist()


def _strips(geom, weights: list[int], crs) -> list:
    """Cut a footprint across its longest axis into strips of area in proportion to ``weights``."""
    metric = gpd.GeoSeries([geom], crs=model.STORAGE_CRS).to_crs(crs).iloc[0]
    ring = shapely.get_coordinates(metric.minimum_rotated_rectangle.exterior)[:4]
    sides = [ring[1] - ring[0], ring[2] - ring[1]]
    axis = max(sides, key=lambda s: float(np.hypot(*s)))
    axis = axis / max(float(np.hypot(*axis)), 1e-9)
    normal = np.array([-axis[1], axis[0]])
    coords = shapely.get_coordinates(metric)
    proj = coords @ axis
    lo, hi = float(proj.min()) - 1.0, float(proj.max()) + 1.0
    far = float(np.abs(coords @ normal).max()) + 1e3

    def band(a: float, b: float):
        corners = [a * axis - far * normal, b * axis - far * normal]
        corners += [b * axis + far * normal, a * axis + far * normal]
        return shapely.Polygon(corners)

    cuts, total = [lo], float(sum(weights))
    for k in range(1, len(weights)):
        share = sum(weights[:k]) / total
        a, b = lo, hi
        for _ in range(40):  # bisection on the cut position for the area share
            mid = (a + b) / 2
            if shapely.intersection(metric, band(lo, mid)).area < share * metric.area:
                a = mid
            else:
                b = mid
        cuts.append((a + b) / 2)
    cuts.append(hi)
    strips = [
        polygonal(shapely.intersection(metric, band(a, b))) for a, b in itertools.pairwise(cuts)
    ]
    return list(gpd.GeoSeries(strips, crs=crs).to_crs(model.STORAGE_CRS).values)
