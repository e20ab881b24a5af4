"""The command map panel's totals: households and persons per status now, the change since
midnight (district time) and in the last hour, households and persons per 三区 class, and
a short series of counts over time for the panel's chart, all read from the change log
(:meth:`MapView.snapshot_at`). No Flask here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from mapserver.model import DISTRICT_TZ
from mapserver.services.mapview import MapView

SERIES_POINTS = 24  # moments in the chart
SERIES_HOURS = 24.0  # the chart's window when the change log is longer


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _parse(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(str(text))


def _totals(view: MapView, seq: int | None) -> tuple[dict[str, int], dict[str, int]]:
    counts = view.snapshot_at(seq).counts
    households = {str(k): int(v) for k, v in counts.total_households.items() if int(v)}
    persons = {str(k): int(v) for k, v in counts.total_persons.items() if int(v)}
    return households, persons


def _delta(now: dict[str, int], then: dict[str, int]) -> dict[str, int]:
    return {c: now.get(c, 0) - then.get(c, 0) for c in sorted(set(now) | set(then))}


def area_totals(view: MapView, seq: int | None = None) -> dict[str, dict[str, int]]:
    """Households and persons in each 三区 class (sealed, controlled, precaution, none),
    counted once each: over the grids with no children, by their effective class."""
    layers = view.layers()
    counts = view.snapshot_at(seq).counts
    leaves = [g for g in layers.grids.index if not layers.children.get(g)]
    classes = layers.area_class.reindex(leaves).fillna("none")
    households = counts.grid_households.reindex(leaves, fill_value=0).sum(axis=1)
    persons = counts.grid_persons.reindex(leaves, fill_value=0).sum(axis=1)
    out: dict[str, dict[str, int]] = {}
    for code in view.area_scheme.code_names:
        mask = (classes == code).to_numpy()
        out[code] = {
            "households": int(households.to_numpy()[mask].sum()),
            "persons": int(persons.to_numpy()[mask].sum()),
        }
    return out


def panel_totals(
    view: MapView,
    *,
    now: datetime | None = None,
    points: int = SERIES_POINTS,
    max_age_s: float = 0.0,
) -> dict:
    """:func:`count_totals`, kept with the snapshot it was read from for the minute: every
    open map asks again after each live change, and they all ask the same question
    (``max_age_s`` as for :meth:`MapView.snapshot`)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    snap = view.snapshot(max_age_s=max_age_s)
    key = ("totals", points, int(now.timestamp() // 60))
    found = snap.memo.get(key)
    if found is None:
        for old in [k for k in snap.memo if isinstance(k, tuple) and k[:1] == ("totals",)]:
            del snap.memo[old]  # an earlier minute's
        found = snap.memo[key] = count_totals(view, now=now, points=points)
    return found


def count_totals(
    view: MapView, *, now: datetime | None = None, points: int = SERIES_POINTS
) -> dict:
    """Totals now (``households``, ``persons``: per status code), their change since
    midnight and in the last hour (``since_midnight``, ``last_hour``: per code, households;
    from the change log's first moment when it began later), ``areas`` (per 三区 class) and
    ``series``: ``points`` moments over the last day of the change log (or all of it), each
    with ``at`` (UTC) and households per code."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    span = view.history_span()
    first = _parse(span["first"])
    households, persons = _totals(view, None)

    def since(moment: datetime) -> tuple[dict[str, int], str]:
        start = max(moment, first) if first is not None else moment
        seq = view.seq_at(_utc(start)) if first is not None else None
        then, _ = _totals(view, seq)
        return _delta(households, then), _utc(start)

    local = now.astimezone(DISTRICT_TZ)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    since_midnight, midnight_from = since(midnight)
    last_hour, hour_from = since(now - timedelta(hours=1))
    series = []
    if first is not None:
        start = max(first, now - timedelta(hours=SERIES_HOURS))
        steps = np.linspace(start.timestamp(), now.timestamp(), max(points, 2))
        for stamp in steps:
            moment = _utc(datetime.fromtimestamp(float(stamp), UTC))
            seq = view.seq_at(moment)
            counts, _ = _totals(view, seq)
            series.append({"at": moment, "seq": seq, "households": counts})
    return {
        "seq": view.snapshot().seq,
        "households": households,
        "persons": persons,
        "since_midnight": since_midnight,
        "since_midnight_from": midnight_from,
        "last_hour": last_hour,
        "last_hour_from": hour_from,
        "areas": area_totals(view),
        "series": series,
    }
