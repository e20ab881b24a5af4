"""The wall map of a level (or a grid's children) as the command map colours it by a
measure, in words of the reader's language: the data from :mod:`mapserver.services.measures`,
the drawing from :mod:`mapserver.io.wallmap`. Used by ``mapserver print`` and the map's
print button. No Flask here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import geopandas as gpd

from mapserver.io.wallmap import LegendRow, WallText, draw_wall_map
from mapserver.model import DISTRICT_TZ, LEVEL_LABELS
from mapserver.services.mapview import MapView
from mapserver.services.measures import level_measure
from mapserver.status.measures import ZERO_COLOUR

WITHHELD_COLOUR = "#ffffff"  # a small count outside the reader's area is not shown
Translate = Callable[[str], str]
MEASURE_KEYS = {
    "households": "measure_households",
    "share": "measure_share",
    "persons": "measure_persons",
    "person_share": "measure_person_share",
}


def format_value(value: float, measure: str) -> str:
    """A measure's value as printed: a share in per cent, a count as a whole number."""
    if measure.endswith("share"):
        return f"{value * 100:.0f}%"
    return f"{value:.0f}"


def _legend(found: dict, measure: str, t: Translate) -> list[LegendRow]:
    unit = (
        ""
        if measure.endswith("share")
        else " " + t("persons" if "person" in measure else "households")
    )
    rows = []
    for row in reversed(found["classes"]):  # the most severe class on top
        low = format_value(row["above"], measure)
        high = format_value(row["upto"], measure)
        rows.append(
            LegendRow(row["colour"], f">{low} – {high}{unit}", f"{row['grids']} {t('grids_unit')}")
        )
    zero = found["zero"]
    rows.append(LegendRow(ZERO_COLOUR, f"0{unit}", f"{zero['grids']} {t('grids_unit')}"))
    return rows


def wall_map(
    view: MapView,
    t: Translate,
    *,
    lang: str = "zh",
    level: str | None = None,
    parent_id: str | None = None,
    measure: str = "households",
    statuses: Sequence[str] | None = None,
    method: str = "quantile",
    classes: int = 5,
    fixed: Sequence[float] | None = None,
    at: int | None = None,
    moment: datetime | None = None,
    area: set[str] | None = None,
    paper: str = "A3",
    fmt: str = "pdf",
    title: str | None = None,
) -> bytes:
    """PDF or PNG bytes of the wall map of ``level`` (or ``parent_id``'s children) coloured
    by ``measure`` of ``statuses`` in graduated classes (as ``/api/measure``), labelled with
    each grid's name and value, as of change-log sequence number ``at`` (``moment``: the
    time printed, now when None). ``t`` translates a key of the table into ``lang``."""
    if level is None and parent_id is None:
        level = view.levels()[min(1, len(view.levels()) - 1)]
    found = level_measure(
        view, level=level, parent_id=parent_id, measure=measure, statuses=statuses,
        method=method, classes=classes, fixed=fixed, at=at, area=area,
    )  # fmt: skip
    grids = view.layers().grids
    ids = list(found["grids"])
    if not ids:
        msg = (
            f"level {level!r} has no grids"
            if parent_id is None
            else f"grid {parent_id!r} has no children"
        )
        raise ValueError(msg)
    chosen = gpd.GeoDataFrame(
        grids.loc[ids, ["name", "geometry"]], geometry="geometry", crs=grids.crs
    )
    colours, labels, ranks = [], [], []
    legend_colours = [row["colour"] for row in found["classes"]]
    order = {g["id"]: n for n, g in enumerate(found["ranking"])}
    for gid in ids:
        value, number = found["grids"][gid]
        if value is None:
            colours.append(WITHHELD_COLOUR)
            labels.append(str(chosen.at[gid, "name"] or ""))
        else:
            colours.append(ZERO_COLOUR if number == -1 else legend_colours[number])
            labels.append(f"{chosen.at[gid, 'name'] or ''}\n{format_value(value, measure)}")
        ranks.append(order.get(gid, len(order) + (0 if value else 1)))
    chosen["colour"] = colours
    chosen["label"] = labels
    chosen["rank"] = ranks
    names = [(c.label_zh if lang == "zh" else c.label_en) for c in view.scheme.codes]
    codes = [c.code for c in view.scheme.codes]
    counted = "、".join(names[codes.index(s)] for s in found["statuses"])
    when = (moment or datetime.now(DISTRICT_TZ)).astimezone(DISTRICT_TZ)
    if parent_id is not None:
        where = str(grids.at[parent_id, "name"] or parent_id)
    else:
        where = LEVEL_LABELS.get(level or "", {}).get(lang, level or "")
    text = WallText(
        title=title or f"{t('app_title')} · {where}",
        subtitle=f"{t('as_of')} {when:%Y-%m-%d %H:%M} · {t(MEASURE_KEYS[measure])}：{counted}",
        legend_title=f"{t(MEASURE_KEYS[measure])}\n（{counted}）",
        north=t("north"),
        metres=t("metres"),
        kilometres=t("kilometres"),
        footer=f"{t('printed_at')} {datetime.now(DISTRICT_TZ):%Y-%m-%d %H:%M} · mapserver",
    )
    roads = view.store.read_layer("road_edges")
    return draw_wall_map(
        chosen,
        _legend(found, measure, t),
        text,
        paper=paper,
        fmt=fmt,
        roads=roads.geometry if len(roads) else None,
    )
