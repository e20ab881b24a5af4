"""The event layer as a service: import a case list, serve its points and its counts."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from mapserver.errors import ValidationError, ValidationIssue
from mapserver.io.events import EventTable, parse_time, read_events
from mapserver.model import EVENT_COLUMNS
from mapserver.services import access
from mapserver.services.mapview import geometry_json
from mapserver.status.events import (
    DEFAULT_MAX_DISTANCE_M,
    NO_HOUSEHOLDS_COLOUR,
    EventJoin,
    colour_classes,
    colour_of,
    daily_totals,
    event_counts,
    event_counts_by_day,
    join_events,
)
from mapserver.status.tree import grid_ancestors
from mapserver.store import Store, User

OUTSIDE_LISTED = 500  # at most this many outside points listed in one answer


def clean(value: object) -> object:
    """A value safe for strict JSON: NaN/Infinity/NA -> None, numpy scalars -> Python."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, list | dict | str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def _point_row(record: dict) -> dict:
    """One listed point of a report: row, id, lon/lat (WGS84), name."""
    geom = record.get("geometry")
    return clean(
        {
            "row": record.get("row"),
            "event_id": record.get("event_id"),
            "name": record.get("name"),
            "lon": None if geom is None else round(geom.x, 7),
            "lat": None if geom is None else round(geom.y, 7),
        }
    )


def import_report(table: EventTable, joined: EventJoin, written: dict | None) -> dict:
    """The JSON-ready report of an event import: counts, outside points, row issues."""
    outside = joined.outside.sort_values("row")
    return clean(
        {
            "file": table.file,
            "fields": table.fields,
            "max_distance_m": joined.max_distance_m,
            "counts": {**joined.counts(), "skipped_rows": table.skipped},
            "written": written,
            "outside": [_point_row(r) for r in outside.head(OUTSIDE_LISTED).to_dict("records")],
            "outside_total": len(outside),
            "issues": [i.to_dict() for i in table.issues],
        }
    )


def import_events_file(
    store: Store,
    path: Path,
    *,
    file: str | None = None,
    source_crs: str | None = None,
    max_distance_m: float = DEFAULT_MAX_DISTANCE_M,
    replace: bool = False,
    user: User,
) -> dict:
    """Read a case/report list, join it to the stored grids and buildings, write the layer.

    Rows without usable coordinates are skipped and reported; points outside
    every grid are stored (without grid) and listed. Only problems of the whole
    file (no coordinate columns, unknown CRS, an id on two rows) reject it,
    with a :class:`ValidationError`; nothing is written then.

    Returns
    -------
    dict
        See :func:`import_report`; ``written`` has rows, added, replaced, deleted.
    """
    if not math.isfinite(max_distance_m) or max_distance_m < 0:
        reason = f"{max_distance_m!r} is not a distance ≥ 0 in metres"
        raise ValidationError([ValidationIssue(file or path.name, None, "max_distance_m", reason)])
    table = read_events(path, source_crs=source_crs, file=file)
    joined = join_events(
        table.points,
        store.read_grids(),
        store.read_buildings(),
        max_distance_m=max_distance_m,
    )
    frame = joined.events[[c for c in EVENT_COLUMNS if c in joined.events.columns]]
    summary = {
        **joined.counts(),
        "issues": len(table.issues),
        "source_crs": source_crs,
        "max_distance_m": max_distance_m,
    }
    written = store.import_events(
        frame, replace=replace, user=user.username, file=table.file, report=summary
    )
    return import_report(table, joined, written)


def rejoin_events(
    store: Store, *, max_distance_m: float = DEFAULT_MAX_DISTANCE_M, user: User
) -> dict:
    """Join the stored events again to the current grids and buildings (after a redraw).

    Every event keeps its id, data, source file and import time; its grid and
    nearest building are found anew. Returns the join counts and what moved.
    """
    if not math.isfinite(max_distance_m) or max_distance_m < 0:
        reason = f"{max_distance_m!r} is not a distance ≥ 0 in metres"
        raise ValidationError.for_request("max_distance_m", reason)
    stored = store.read_events()
    before = dict(zip(stored["event_id"], stored["grid_id"], strict=True))
    points = stored.drop(columns=["grid_id", "building_id", "building_distance_m"])
    joined = join_events(
        points, store.read_grids(), store.read_buildings(), max_distance_m=max_distance_m
    )
    moved = sum(
        1
        for event_id, grid_id in zip(
            joined.events["event_id"], joined.events["grid_id"], strict=True
        )
        if clean(before.get(event_id)) != clean(grid_id)
    )
    counts = {**joined.counts(), "moved": moved, "max_distance_m": max_distance_m}
    written = store.import_events(joined.events, user=user.username, report=counts, rejoin=True)
    return clean({"counts": counts, "written": written})


def _subtree(store: Store, grid_id: str) -> list[str]:
    """A grid and every grid below it."""
    ancestors = grid_ancestors(store.read_grids())
    return [g for g, up in ancestors.items() if g == grid_id or grid_id in up]


def visible_grids(store: Store, user: User) -> list[str] | None:
    """Grid ids whose events a user may see: None for all, else the user's area
    (see services/access.py)."""
    grids = store.read_grids()
    children: dict[str, list[str]] = {}
    for gid, parent in zip(grids["grid_id"], grids["parent_id"], strict=True):
        if isinstance(parent, str):
            children.setdefault(parent, []).append(str(gid))
    scope = access.area(user, children)
    return None if scope is None else sorted(scope)


def _day(value: str | None, field: str) -> str | None:
    """A ``YYYY-MM-DD`` request parameter, checked."""
    if not value:
        return None
    stamp = parse_time(value)
    if stamp is None:
        reason = f"'{value}' is not a date (YYYY-MM-DD)"
        raise ValidationError.for_request(field, reason)
    return stamp.strftime("%Y-%m-%d")


def event_features(
    store: Store,
    user: User,
    *,
    coords: str = "wgs84",
    grid_id: str | None = None,
    day_from: str | None = None,
    day_to: str | None = None,
) -> dict:
    """The events a user may see as a GeoJSON FeatureCollection (personal data: login needed).

    ``grid_id`` keeps a grid's subtree; ``day_from``/``day_to`` (inclusive,
    YYYY-MM-DD) keep events of those days (events without a date are then left out).
    """
    allowed = visible_grids(store, user)
    if grid_id:
        below = _subtree(store, grid_id)
        if not below:
            reason = f"no grid '{grid_id}'"
            raise ValidationError.for_request("grid", reason)
        seen = set(allowed or ())
        allowed = below if allowed is None else [g for g in below if g in seen]
    frame = store.read_events(grid_ids=allowed)
    first, last = _day(day_from, "from"), _day(day_to, "to")
    if first or last:
        days = frame["day"].fillna("")
        keep = days != ""
        if first:
            keep &= days >= first
        if last:
            keep &= days <= last
        frame = frame[keep.to_numpy()]
    features = []
    columns = [c for c in EVENT_COLUMNS if c != "geometry"]
    for record in frame.to_dict("records"):
        props = {c: record.get(c) for c in columns}
        props["source_file"] = record.get("source_file")
        features.append(
            {
                "type": "Feature",
                "id": record["event_id"],
                "properties": clean(props),
                "geometry": geometry_json(record["geometry"], coords=coords),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def event_summary(
    store: Store,
    *,
    level: str | None = None,
    parent: str | None = None,
    by_day: bool = False,
) -> dict:
    """Event counts per grid (over its subtree) at a level or under a parent, per day if asked.

    Each grid has ``events``, ``households``, ``per_1000`` (None without
    households) and the colours for both map modes; ``legend`` gives the classes.
    """
    grids = store.read_grids()
    buildings = store.read_buildings()
    events = store.read_events()
    counts = event_counts(events, grids, buildings=buildings)
    if parent:
        if parent not in set(counts["grid_id"]):
            raise ValidationError.for_request("parent", f"no grid '{parent}'")
        shown = counts[counts["parent_id"] == parent]
    elif level:
        shown = counts[counts["level"] == level]
    else:
        shown = counts[counts["parent_id"].isna()]
    count_classes = colour_classes(shown["events"].tolist())
    rate_classes = colour_classes(shown["per_1000"].tolist())
    rows = []
    for record in shown.to_dict("records"):
        rate = record["per_1000"]
        record["colour_count"] = colour_of(record["events"], count_classes)
        record["colour_rate"] = (
            NO_HOUSEHOLDS_COLOUR if rate is None else colour_of(rate, rate_classes)
        )
        rows.append(record)
    held = set(counts["grid_id"])
    known = events["grid_id"].isin(held) if len(events) else pd.Series([], dtype=bool)
    answer: dict = {
        "level": level,
        "parent": parent,
        "grids": rows,
        "legend": {"count": count_classes, "rate": rate_classes},
        "total": len(events),
        "in_grids": int(known.sum()),
        "outside": int(events["grid_id"].isna().sum()) if len(events) else 0,
        "unknown_grid": int((events["grid_id"].notna() & ~known).sum()) if len(events) else 0,
    }
    if by_day:
        days = event_counts_by_day(events, grids)
        days = days[days["grid_id"].isin(set(shown["grid_id"]))]
        per_grid: dict[str, list] = {}
        for record in days.to_dict("records"):
            per_grid.setdefault(record["grid_id"], []).append(
                {"day": record["day"], "events": record["events"]}
            )
        answer["by_day"] = per_grid
        answer["days"] = daily_totals(events).to_dict("records")
    return clean(answer)
