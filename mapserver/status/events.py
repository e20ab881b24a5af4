"""Event points (cases, reports): join to grids and nearest buildings, counts by grid and day."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapserver import crs
from mapserver.model import STORAGE_CRS
from mapserver.status.tree import build_tree, id_array

DEFAULT_MAX_DISTANCE_M = 50.0
# Sequential reds for event counts/rates, lightest first; no events and no households apart.
EVENT_COLOURS: tuple[str, ...] = ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15")
NO_EVENTS_COLOUR = "#f7f7f7"
NO_HOUSEHOLDS_COLOUR = "#bdbdbd"


@dataclass(frozen=True)
class EventJoin:
    """Events joined to grids and buildings, with what did not join.

    Attributes
    ----------
    events
        The input points (EPSG:4326) with ``grid_id`` (deepest grid holding the
        point, None outside every grid), ``in_leaf`` (that grid is a leaf),
        ``building_id`` and ``building_distance_m`` (nearest building within
        ``max_distance_m`` metres, else None/NaN).
    max_distance_m
        The building search distance used, metres.
    """

    events: gpd.GeoDataFrame
    max_distance_m: float

    @property
    def outside(self) -> gpd.GeoDataFrame:
        """Events inside no grid at all."""
        return self.events[self.events["grid_id"].isna()]

    @property
    def not_in_leaf(self) -> gpd.GeoDataFrame:
        """Events inside a grid but in a gap between its children (joined to that grid)."""
        return self.events[self.events["grid_id"].notna() & ~self.events["in_leaf"]]

    @property
    def no_building(self) -> gpd.GeoDataFrame:
        """Events with no building within ``max_distance_m``."""
        return self.events[self.events["building_id"].isna()]

    def counts(self) -> dict[str, int]:
        """Numbers of events: total, joined to a grid, outside, in a gap, without building."""
        total = len(self.events)
        outside = len(self.outside)
        return {
            "total": total,
            "joined": total - outside,
            "outside": outside,
            "not_in_leaf": len(self.not_in_leaf),
            "with_building": total - len(self.no_building),
            "no_building": len(self.no_building),
        }


def _containing_grid(
    points: gpd.GeoDataFrame, grids: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Position of the deepest grid holding each point (-1 for none) and whether it is a leaf."""
    n = len(points)
    best = np.full(n, -1, dtype=np.int64)
    if n == 0 or len(grids) == 0:
        return best, np.zeros(n, dtype=bool)
    tree = build_tree(grids)
    polygons = gpd.GeoSeries(list(grids.geometry), crs=STORAGE_CRS)
    located = gpd.GeoSeries(list(points.geometry), crs=STORAGE_CRS)
    grid_pos, point_pos = located.sindex.query(polygons, predicate="intersects")
    if len(grid_pos):
        # deepest first, then table order: the first row per point wins
        order = np.lexsort((grid_pos, -tree.depth[grid_pos], point_pos))
        grid_pos, point_pos = grid_pos[order], point_pos[order]
        first = np.r_[True, point_pos[1:] != point_pos[:-1]]
        best[point_pos[first]] = grid_pos[first]
    has_child = np.zeros(len(grids), dtype=bool)
    has_child[tree.parent[tree.parent >= 0]] = True
    in_leaf = (best >= 0) & ~has_child[np.maximum(best, 0)]
    return best, in_leaf


def _nearest_buildings(
    points: gpd.GeoDataFrame, buildings: pd.DataFrame, max_distance_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Id of the nearest building within ``max_distance_m`` metres of each point, and the distance.

    Ties (within 1 mm) are broken by building id. Points far outside the buildings'
    extent are not searched.
    """
    n = len(points)
    ids = np.full(n, None, dtype=object)
    dist = np.full(n, np.nan)
    geoms = buildings.geometry if len(buildings) else None
    if n == 0 or geoms is None or geoms.isna().all():
        return ids, dist
    footprints = gpd.GeoDataFrame(
        {"building_id": id_array(buildings["building_id"])},
        geometry=list(geoms),
        crs=STORAGE_CRS,
    )
    footprints = footprints[footprints.geometry.notna() & ~footprints.geometry.is_empty]
    minx, miny, maxx, maxy = footprints.total_bounds
    margin = max_distance_m / 90_000.0 + 0.01  # degrees; generous at any latitude in China
    xy = gpd.GeoSeries(list(points.geometry), crs=STORAGE_CRS)
    near = (
        xy.notna()
        & (xy.x >= minx - margin)
        & (xy.x <= maxx + margin)
        & (xy.y >= miny - margin)
        & (xy.y <= maxy + margin)
    ).to_numpy()
    if not near.any():
        return ids, dist
    metric = crs.metric_crs(footprints)
    left = np.asarray(xy[near].to_crs(metric).values, dtype=object)
    right = np.asarray(footprints.geometry.to_crs(metric).values, dtype=object)
    right_ids = footprints["building_id"].to_numpy(dtype=object)
    pairs = shapely.STRtree(right).query(left, predicate="dwithin", distance=max_distance_m)
    if pairs.shape[1]:
        d = shapely.distance(left[pairs[0]], right[pairs[1]])
        tie = np.round(d, 3)  # within 1 mm: a tie, broken by building id
        order = np.lexsort((right_ids[pairs[1]].astype(str), tie, pairs[0]))
        first = order[np.r_[True, pairs[0][order][1:] != pairs[0][order][:-1]]]
        pos = np.flatnonzero(near)[pairs[0][first]]
        ids[pos] = right_ids[pairs[1][first]]
        dist[pos] = d[first]
    return ids, dist


def join_events(
    points: gpd.GeoDataFrame,
    grids: pd.DataFrame,
    buildings: pd.DataFrame,
    *,
    max_distance_m: float = DEFAULT_MAX_DISTANCE_M,
) -> EventJoin:
    """Join event points to the deepest grid holding them and their nearest building.

    Parameters
    ----------
    points
        Point geometries in EPSG:4326 (any other columns are kept).
    grids
        The grid tree with polygons (``grid_id``, ``parent_id``, ``geometry``),
        EPSG:4326. A point on a shared edge goes to the first grid in table order;
        a point in overlapping leaves likewise.
    buildings
        ``building_id`` and ``geometry`` (footprints or points), EPSG:4326.
    max_distance_m
        Search distance for the nearest building, metres, measured in the local
        metric CRS (see :func:`mapserver.crs.metric_crs`).

    Returns
    -------
    EventJoin
        The points with ``grid_id``, ``in_leaf``, ``building_id`` and
        ``building_distance_m``; points outside every grid keep ``grid_id`` None.
    """
    if max_distance_m < 0 or not np.isfinite(max_distance_m):
        msg = f"max_distance_m must be a finite distance ≥ 0 in metres, not {max_distance_m!r}"
        raise ValueError(msg)
    events = gpd.GeoDataFrame(points.copy(), geometry=points.geometry.name, crs=STORAGE_CRS)
    best, in_leaf = _containing_grid(events, grids)
    grid_ids = np.append(id_array(grids["grid_id"]), None)  # position -1 picks None
    events["grid_id"] = grid_ids[best]
    events["in_leaf"] = in_leaf
    building_ids, distances = _nearest_buildings(events, buildings, float(max_distance_m))
    events["building_id"] = building_ids
    events["building_distance_m"] = distances
    return EventJoin(events=events, max_distance_m=float(max_distance_m))


def _objects(values) -> pd.Series:
    """An object Series of text, missing values as None (pandas would make them NaN)."""
    return pd.Series([None if pd.isna(v) else str(v) for v in values], dtype=object)


def _roll_up(tree_parent: np.ndarray, depth: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Sum values per grid over each grid's subtree (own value plus all descendants)."""
    total = own.astype(float).copy()
    for level in range(int(depth.max(initial=0)), 0, -1):
        rows = np.flatnonzero((depth == level) & (tree_parent >= 0))
        np.add.at(total, tree_parent[rows], total[rows])
    return total


def event_counts(
    events: pd.DataFrame, grids: pd.DataFrame, *, buildings: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Count events per grid over its whole subtree, at every level of the tree.

    Parameters
    ----------
    events
        A ``grid_id`` column (the grid each event joined; None outside).
        Events whose grid is not in ``grids`` are not counted.
    grids
        ``grid_id``, ``parent_id``, ``level``, ``name``.
    buildings
        Optional ``grid_id`` and ``households`` per building, for the rate.

    Returns
    -------
    pandas.DataFrame
        One row per grid in table order: ``grid_id``, ``parent_id``, ``level``,
        ``name``, ``events`` (int), ``households`` (int, 0 without buildings) and
        ``per_1000`` (events per 1,000 households; None where there are no households).
    """
    tree = build_tree(grids)
    n = len(tree.ids)
    own = np.zeros(n)
    pos = tree.position(events["grid_id"]) if len(events) else np.empty(0, dtype=np.int64)
    np.add.at(own, pos[pos >= 0], 1)
    households = np.zeros(n)
    if buildings is not None and len(buildings):
        hpos = tree.position(buildings["grid_id"])
        counts = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy(float)
        np.add.at(households, hpos[hpos >= 0], counts[hpos >= 0])
    total = _roll_up(tree.parent, tree.depth, own).astype(np.int64)
    held = _roll_up(tree.parent, tree.depth, households).astype(np.int64)
    rate = [round(e * 1000.0 / h, 3) if h > 0 else None for e, h in zip(total, held, strict=True)]
    out = pd.DataFrame(
        {
            "grid_id": _objects(tree.ids),
            "parent_id": _objects([None if p < 0 else tree.ids[p] for p in tree.parent]),
            "level": _objects(grids["level"] if "level" in grids else [None] * n),
            "name": _objects(grids["name"] if "name" in grids else [None] * n),
            "events": total,
            "households": held,
        }
    )
    out["per_1000"] = pd.Series(rate, dtype=object)
    return out


def event_counts_by_day(events: pd.DataFrame, grids: pd.DataFrame) -> pd.DataFrame:
    """Count events per grid (over its subtree) and day.

    Parameters
    ----------
    events
        ``grid_id`` and ``day`` (``YYYY-MM-DD`` text; None when unknown).
    grids
        ``grid_id``, ``parent_id``.

    Returns
    -------
    pandas.DataFrame
        ``grid_id``, ``day`` (None for events without a date) and ``events``,
        sorted by grid (table order) then day; only non-zero counts.
    """
    tree = build_tree(grids)
    pos = tree.position(events["grid_id"]) if len(events) else np.empty(0, dtype=np.int64)
    keep = pos >= 0
    days = np.asarray(events["day"], dtype=object)[keep] if len(events) else np.empty(0, object)
    rows_grid: list[np.ndarray] = []
    rows_day: list[np.ndarray] = []
    current = pos[keep]
    while len(current):
        rows_grid.append(current)
        rows_day.append(days)
        up = tree.parent[current]
        days = days[up >= 0]
        current = up[up >= 0]
    if not rows_grid:
        return pd.DataFrame({"grid_id": [], "day": [], "events": []}).astype({"events": np.int64})
    grid_pos = np.concatenate(rows_grid)
    day = pd.Series(np.concatenate(rows_day), dtype=object).where(lambda s: s.notna(), "")
    frame = pd.DataFrame({"pos": grid_pos, "day": day})
    counts = frame.groupby(["pos", "day"], sort=True).size().reset_index(name="events")
    return pd.DataFrame(
        {
            "grid_id": _objects(tree.ids[counts["pos"].to_numpy()]),
            "day": _objects([d or None for d in counts["day"]]),
            "events": counts["events"].to_numpy(dtype=np.int64),
        }
    )


def daily_totals(events: pd.DataFrame) -> pd.DataFrame:
    """Events per day over the whole layer (``day``, ``events``), unknown days as None last."""
    if not len(events):
        return pd.DataFrame({"day": [], "events": []}).astype({"events": np.int64})
    day = pd.Series(events["day"], dtype=object).where(lambda s: s.notna(), "")
    counts = day.groupby(day).size().reset_index(name="events")
    counts.columns = ["day", "events"]
    counts = pd.concat([counts[counts["day"] != ""], counts[counts["day"] == ""]])
    return pd.DataFrame(
        {
            "day": _objects([d or None for d in counts["day"]]),
            "events": counts["events"].to_numpy(dtype=np.int64),
        }
    )


def colour_classes(values: list[float | None], *, classes: int = 5) -> list[dict]:
    """Equal-interval classes over the positive values, for a map legend.

    Parameters
    ----------
    values
        Counts or rates; zero, None and NaN are left out of the classes.
    classes
        At most this many classes (fewer when the values are few small integers).

    Returns
    -------
    list of dict
        ``{"min", "max", "colour"}`` from light to dark; ``min`` is exclusive
        except for the first class. Empty when no value is positive.
    """
    positive = [float(v) for v in values if v is not None and np.isfinite(v) and v > 0]
    if not positive:
        return []
    top = max(positive)
    integers = all(float(v).is_integer() for v in positive)
    count = min(classes, int(top)) if integers else classes
    count = max(count, 1)
    step = top / count
    out = []
    low = 0.0
    for k in range(count):
        high = top if k == count - 1 else (np.ceil(step * (k + 1)) if integers else step * (k + 1))
        high = float(round(high, 3))
        colour = EVENT_COLOURS[round(k * (len(EVENT_COLOURS) - 1) / max(count - 1, 1))]
        out.append({"min": round(low, 3), "max": high, "colour": colour})
        low = high
    return out


def colour_of(value: float | None, classes: list[dict], *, missing: str = NO_EVENTS_COLOUR) -> str:
    """The colour of a value in classes from :func:`colour_classes` (``missing`` for 0/None)."""
    if value is None or not np.isfinite(value) or value <= 0:
        return missing
    for item in classes:
        if value <= item["max"]:
            return item["colour"]
    return classes[-1]["colour"] if classes else missing
