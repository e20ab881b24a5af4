"""A level's grids by a measure, in graduated classes, for the command map's default colouring
above the micro-grid (:mod:`mapserver.status.measures`), with the legend (bounds and grids
per class) and the ranking. No Flask here."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from mapserver.services.mapview import MapView, or_none
from mapserver.status.measures import (
    ZERO_COLOUR,
    class_bounds,
    class_colours,
    classify,
    measure_values,
)
from mapserver.status.scheme import Scheme

RANKED = 20  # grids in the ranking
SMALL = 5  # outside a reader's area, a count below this is withheld (as on the map)


def worst_codes(scheme: Scheme) -> list[str]:
    """The default statuses of a measure: the scheme's most severe code(s)."""
    top = max(c.severity for c in scheme.codes)
    return [c.code for c in scheme.codes if c.severity == top]


def level_measure(
    view: MapView,
    *,
    level: str | None = None,
    parent_id: str | None = None,
    measure: str = "households",
    statuses: Sequence[str] | None = None,
    method: str = "quantile",
    classes: int = 5,
    fixed: Sequence[float] | None = None,
    at: int | None = None,
    area: set[str] | None = None,
    max_age_s: float = 0.0,
    labels: bool = False,
) -> dict:
    """The grids of ``level`` (or the children of ``parent_id``) by ``measure`` of
    ``statuses`` (default: the most severe), classed by ``method``; as of change-log
    sequence number ``at`` when given. ``area``: the reader's grids (None: all); outside
    it a value counting fewer than :data:`SMALL` households is withheld (null, no class).

    Returns ``grids`` (id -> [value, class], class -1: zero), ``classes`` (upper bound,
    lower bound, colour and number of grids of each), ``zero`` and ``ranking`` (the
    :data:`RANKED` highest, with names); with ``labels``, ``labels`` (id -> lon, lat and
    name of the grid's label)."""
    codes = list(statuses) if statuses else worst_codes(view.scheme)
    unknown = [c for c in codes if c not in view.scheme.code_names]
    if unknown:
        msg = f"status {', '.join(unknown)} is not one of {', '.join(view.scheme.code_names)}"
        raise ValueError(msg)
    layers = view.layers(max_age_s=max_age_s)
    snap = view.snapshot(max_age_s=max_age_s) if at is None else view.snapshot_at(at)
    grids = layers.grids
    mask = np.ones(len(grids), dtype=bool)
    if parent_id is not None:
        mask &= (grids["parent_id"] == parent_id).to_numpy()
    elif level is not None:
        mask &= (grids["level"] == level).to_numpy()
    ids = grids.index[mask]
    households = snap.counts.grid_households.reindex(ids, fill_value=0)
    persons = snap.counts.grid_persons.reindex(ids, fill_value=0)
    values = measure_values(households, persons, codes, measure)
    shown = np.ones(len(ids), dtype=bool)
    if area is not None:
        few = households[[c for c in codes if c in households.columns]].sum(axis=1) < SMALL
        shown = ~(few.to_numpy() & ~ids.isin(list(area)))
    bounds = class_bounds(values.to_numpy()[shown], classes, method, fixed)
    found = classify(values.to_numpy(), bounds)
    colours = class_colours(len(bounds))
    digits = 4 if measure.endswith("share") else 0
    rows = {
        str(i): ([round(float(v), digits), int(c)] if ok else [None, None])
        for i, v, c, ok in zip(ids, values.to_numpy(), found, shown, strict=True)
    }
    legend = []
    low = 0.0
    for number, (bound, colour) in enumerate(zip(bounds, colours, strict=True)):
        count = int(((found == number) & shown).sum())
        legend.append({"above": low, "upto": bound, "colour": colour, "grids": count})
        low = bound
    order = sorted(
        (i for i, ok in zip(ids, shown, strict=True) if ok),
        key=lambda g: (-float(values[g]), str(g)),
    )
    ranking = [
        {"id": str(g), "name": or_none(grids.at[g, "name"]), "value": rows[str(g)][0]}
        for g in order[:RANKED]
    ]
    answer = {
        "seq": snap.seq,
        "level": level,
        "parent": parent_id,
        "measure": measure,
        "statuses": codes,
        "method": method,
        "classes": legend,
        "zero": {"colour": ZERO_COLOUR, "grids": int(((found == -1) & shown).sum())},
        "grids": rows,
        "ranking": ranking,
    }
    if labels:
        answer["labels"] = label_points(view, ids)
    return answer


def label_points(view: MapView, ids: Sequence[str]) -> dict[str, list]:
    """Where each grid's label goes (a point inside it, lon and lat rounded to about a
    metre) and its name: a map drawn from tiles has no shapes of its own to place them."""
    grids = view.layers().grids.loc[list(ids)]
    points = shapely.point_on_surface(grids.geometry.to_numpy())
    return {
        str(gid): [round(p.x, 5), round(p.y, 5), or_none(name)]
        for gid, p, name in zip(grids.index, points, grids["name"], strict=True)
    }


def measured_grids(view: MapView, **options: object) -> tuple[dict, str | None, list[str]]:
    """:func:`level_measure` for a map drawn of its answer (the wall map, the offline page):
    ``options`` as its keyword arguments; without a level or parent, the second level from
    the top. Returns the answer, the level and the grid ids; ValueError when there are no
    grids to draw."""
    level, parent_id = options.get("level"), options.get("parent_id")
    if level is None and parent_id is None:
        levels = view.levels()
        options["level"] = level = levels[min(1, len(levels) - 1)]
    found = level_measure(view, **options)  # type: ignore[arg-type]
    ids = list(found["grids"])
    if not ids:
        msg = (
            f"level {level!r} has no grids"
            if parent_id is None
            else f"grid {parent_id!r} has no children"
        )
        raise ValueError(msg)
    return found, level, ids


def grid_colour(found: dict, grid_id: str, withheld: str) -> str:
    """The fill of a grid in a :func:`level_measure` answer: its class's colour, the zero
    colour, or ``withheld`` when its value is not shown to the reader."""
    value, number = found["grids"][grid_id]
    if value is None:
        return withheld
    return found["zero"]["colour"] if number == -1 else found["classes"][number]["colour"]
