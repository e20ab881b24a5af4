"""People for a plan: a responsible person per grid, volunteers to households by distance.

Walking distance is taken as the straight-line distance in the local metric CRS
(metres); inside a micro-grid of a few hundred metres the two rank volunteers alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.optimize import linear_sum_assignment

from mapserver.crs import metric_crs
from mapserver.model import STORAGE_CRS


def assign_volunteers(
    units: pd.DataFrame,
    volunteers: Sequence[str],
    *,
    per_volunteer: tuple[int, int] = (3, 5),
    positions: Mapping[str, tuple[float, float]] | None = None,
    buildings: gpd.GeoDataFrame | None = None,
) -> dict[str, list[str]]:
    """Give each volunteer a balanced, compact group of households (or buildings).

    Groups differ in size by one at most. Without ``positions``, households are
    cut into compact groups by recursive bisection along principal axes; with
    ``positions`` (volunteer -> (lon, lat) EPSG:4326, e.g. home), households go
    to volunteers minimising the total straight-line distance (metres) under
    the group sizes (an assignment problem, scipy ``linear_sum_assignment``).
    When there are too few households for every volunteer to get
    ``per_volunteer[0]``, only the first volunteers needed are used.

    Parameters
    ----------
    units
        Households (``household_id``, ``building_id``) or buildings
        (``building_id``); located by their own geometry if a GeoDataFrame, else
        by ``buildings``.
    volunteers
        Volunteer names or ids, in order of preference.
    per_volunteer
        Smallest and largest group size.
    positions
        Optional volunteer -> (lon, lat).
    buildings
        Buildings (``building_id``, geometry, EPSG:4326) locating households.

    Returns
    -------
    dict
        Volunteer -> list of household (or building) ids; every unit appears once.

    Raises
    ------
    ValueError
        When the units need more volunteers than given.
    """
    key = "household_id" if "household_id" in units.columns else "building_id"
    ids = units[key].astype(str).to_numpy()
    lo, hi = per_volunteer
    n, v = len(ids), len(volunteers)
    if n == 0:
        return {}
    if v == 0 or n > v * hi:
        msg = (
            f"{n} {key[:-3]}s need at least {math.ceil(n / hi)} volunteers at {hi} each; {v} given"
        )
        raise ValueError(msg)
    used = v if n >= v * lo else max(1, n // lo)
    quotas = [n // used + (1 if j < n % used else 0) for j in range(used)]
    points = _locate(units, buildings)
    crs = metric_crs(gpd.GeoSeries(points, crs=STORAGE_CRS))
    xy = shapely.get_coordinates(gpd.GeoSeries(points, crs=STORAGE_CRS).to_crs(crs).values)
    names = list(volunteers)[:used]
    if positions is None:
        groups = _split_counts(np.arange(n), xy, quotas)
        return {name: ids[g].tolist() for name, g in zip(names, groups, strict=True)}
    missing = [p for p in names if p not in positions]
    if missing:
        msg = f"volunteer {missing[0]} has no position"
        raise ValueError(msg)
    homes = gpd.GeoSeries(shapely.points([positions[p] for p in names]), crs=STORAGE_CRS)
    hxy = shapely.get_coordinates(homes.to_crs(crs).values)
    slot_owner = np.repeat(np.arange(used), quotas)
    cost = np.hypot(*(xy[:, None, :] - hxy[slot_owner][None, :, :]).transpose(2, 0, 1))
    rows, cols = linear_sum_assignment(cost)
    out = {name: [] for name in names}
    for r, c in zip(rows, cols, strict=True):
        out[names[slot_owner[c]]].append(str(ids[r]))
    return out


def _locate(units: pd.DataFrame, buildings: gpd.GeoDataFrame | None) -> np.ndarray:
    """A representative point (EPSG:4326) per unit, from its own geometry or its building."""
    if isinstance(units, gpd.GeoDataFrame) and units.geometry.notna().all():
        geoms = units.geometry if units.crs is not None else units.geometry.set_crs(STORAGE_CRS)
        return shapely.point_on_surface(np.asarray(geoms.to_crs(STORAGE_CRS).values))
    if buildings is None:
        msg = "units have no geometry: pass buildings to locate them"
        raise ValueError(msg)
    where = dict(
        zip(
            buildings["building_id"].astype(str),
            shapely.point_on_surface(np.asarray(buildings.geometry.to_crs(STORAGE_CRS).values)),
            strict=True,
        )
    )
    out = []
    for bid in units["building_id"].astype(str):
        if bid not in where:
            msg = f"building {bid} of a household is not in the buildings layer"
            raise ValueError(msg)
        out.append(where[bid])
    return np.array(out, dtype=object)


def _split_counts(idx: np.ndarray, xy: np.ndarray, quotas: list[int]) -> list[np.ndarray]:
    """Cut points into groups of the given sizes by recursive principal-axis bisection."""
    if len(quotas) == 1:
        return [idx]
    half = len(quotas) // 2
    first = sum(quotas[:half])
    pts = xy[idx] - xy[idx].mean(axis=0)
    axis = np.array([1.0, 0.0])
    if len(idx) > 2 and np.ptp(pts, axis=0).max() > 0:
        axis = np.linalg.svd(pts, full_matrices=False)[2][0]
    order = idx[np.argsort(pts @ axis, kind="stable")]
    return _split_counts(order[:first], xy, quotas[:half]) + _split_counts(
        order[first:], xy, quotas[half:]
    )


def assign_persons(
    cells,
    people: Sequence[str],
    *,
    positions: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, str | None]:
    """One responsible person per grid.

    Parameters
    ----------
    cells
        Cell ids (a sequence), a ``Partition``, or a GeoDataFrame with
        ``cell_id`` and polygons (EPSG:4326).
    people
        Names, one grid each.
    positions
        Optional person -> (lon, lat) EPSG:4326; with a GeoDataFrame of cells,
        people go to grids minimising the total straight-line distance from
        their position to the grid's centre (metres).

    Returns
    -------
    dict
        cell id -> person, None for grids left without one when people run out.
    """
    polys = None
    if isinstance(cells, gpd.GeoDataFrame):
        cell_ids = cells["cell_id"].astype(str).tolist()
        polys = cells
    elif hasattr(cells, "cells"):
        cell_ids = [c.cell_id for c in cells.cells]
    else:
        cell_ids = [str(c) for c in cells]
    out: dict[str, str | None] = dict.fromkeys(cell_ids)
    names = list(people)
    if polys is None or positions is None:
        for cid, name in zip(cell_ids, names, strict=False):
            out[cid] = name
        return out
    missing = [p for p in names if p not in positions]
    if missing:
        msg = f"person {missing[0]} has no position"
        raise ValueError(msg)
    crs = metric_crs(polys)
    centres = shapely.get_coordinates(polys.to_crs(crs).geometry.centroid.values)
    homes = gpd.GeoSeries(shapely.points([positions[p] for p in names]), crs=STORAGE_CRS)
    hxy = shapely.get_coordinates(homes.to_crs(crs).values)
    cost = np.hypot(*(centres[:, None, :] - hxy[None, :, :]).transpose(2, 0, 1))
    rows, cols = linear_sum_assignment(cost)
    for r, c in zip(rows, cols, strict=True):
        out[cell_ids[r]] = names[c]
    return out
