"""Compact status tables: for every grid of one level (or every building of a grid), its
colour class and counts, without geometry, whole or patched from the change log.

A map that holds the geometry (tiles, or a layer fetched once per data version) colours
it from these: a table of 1,000 grids is a few tens of kB where the same grids as
GeoJSON are megabytes. No Flask here.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mapserver.services.mapview import MapView
from mapserver.status.scheme import NONE_CODE

KINDS = ("grid", "building")


def _ids(
    view: MapView,
    kind: str,
    level: str | None,
    grid_id: str | None,
    bbox: tuple[float, float, float, float] | None = None,
) -> list[str]:
    """The grids of ``level`` (every grid when None) meeting ``bbox`` when given, or the
    buildings of ``grid_id``'s subtree."""
    layers = view.layers()
    if kind == "grid":
        grids = layers.grids
        mask = np.ones(len(grids), dtype=bool)
        if level is not None:
            mask &= (grids["level"] == level).to_numpy()
        if bbox is not None:
            mask &= view.grids_in_bbox(bbox)
        return [str(i) for i in grids.index[mask]]
    if grid_id is None:
        msg = "a table of buildings needs a grid"
        raise ValueError(msg)
    return view.store.buildings_under({grid_id, *view.descendants(grid_id)})


def status_rows(
    view: MapView,
    kind: str,
    *,
    level: str | None = None,
    grid_id: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    since: int | None = None,
    rule: str | None = None,
    max_age_s: float = 0.0,
    at: int | None = None,
) -> tuple[int, dict[str, dict]]:
    """The status (dicts of :meth:`MapView.grid_status`) of the grids of ``level`` (those
    meeting ``bbox`` when given) or the buildings under ``grid_id``, as of one snapshot;
    with ``since``, only those whose counts moved after that change-log sequence number.
    With ``at`` (grids only), as of that change-log sequence number.
    Returns (seq, id -> status)."""
    if kind not in KINDS:
        msg = f"kind {kind!r} is not one of {', '.join(KINDS)}"
        raise ValueError(msg)
    ids = _ids(view, kind, level, grid_id, bbox)
    if since is not None:
        moved = view.changes(since, rule=rule, max_age_s=max_age_s)
        changed = moved["grids" if kind == "grid" else "buildings"]
        return int(moved["seq"]), {i: changed[i] for i in ids if i in changed}
    snap = view.snapshot(max_age_s=max_age_s) if at is None else view.snapshot_at(at)
    if kind == "building":
        return snap.seq, view.building_rows(snap, ids, rule)
    table = view.status_table(snap, kind, rule)
    return snap.seq, {i: table.get(i) or view.grid_status(snap, i, rule) for i in ids}


def compact(
    seq: int,
    kind: str,
    rows: Mapping[str, Mapping],
    codes: list[str],
    *,
    level: str | None = None,
    since: int | None = None,
) -> dict:
    """A table of :func:`status_rows` in compact form: ``codes`` (the scheme's codes and
    "none") once, then per id ``[status, households, persons, [households per code],
    [persons per code]]`` (a count the reader may not see is null)."""
    columns = [*codes, NONE_CODE] if NONE_CODE not in codes else list(codes)
    out: dict[str, list] = {}
    for entity_id, status in rows.items():
        counts = status.get("counts") or {}
        persons = status.get("person_counts") or {}
        out[entity_id] = [
            status.get("status"),
            status.get("households"),
            status.get("persons"),
            [counts.get(code, 0) for code in columns],
            [persons.get(code, 0) for code in columns],
        ]
    answer: dict = {"seq": seq, "kind": kind, "codes": columns, "rows": out}
    if level is not None:
        answer["level"] = level
    if since is not None:
        answer["since"] = since
    return answer
