"""The wall map of a level (or a grid's children) as the command map colours it by a
measure, in words of the reader's language: the data from :mod:`mapserver.services.measures`,
the drawing from :mod:`mapserver.io.wallmap`. Used by ``mapserver print`` and the map's
print button. No Flask here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import geopandas as gpd

from mapserver.io.wallmap import LegendRow, WallText, draw_wall_map
from mapserver.model import DISTRICT_TZ, LEVEL_LABELS
from mapserver.services.mapview import MapView
from mapserver.services.measures import grid_colour, measured_grids
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
    moment: datetime | None = None,
    area: set[str] | None = None,
    paper: str = "A3",
    fmt: str = "pdf",
    title: str | None = None,
    **options: object,
) -> bytes:
    """PDF or PNG bytes of the wall map of a level (or a grid's children) coloured by a
    measure in graduated classes (``options``: the keyword arguments of
    :func:`mapserver.services.measures.level_measure`, as ``/api/measure`` takes them),
    labelled with each grid's name and value (``moment``: the time printed, now when
    None). ``t`` translates a key of the table into ``lang``."""
    found, level, ids = measured_grids(view, area=area, **options)
    parent_id = options.get("parent_id")
    measure = str(found["measure"])
    grids = view.layers().grids
    chosen = gpd.GeoDataFrame(
        grids.loc[ids, ["name", "geometry"]], geometry="geometry", crs=grids.crs
    )
    colours, labels, ranks = [], [], []
    order = {g["id"]: n for n, g in enumerate(found["ranking"])}
    for gid in ids:
        value = found["grids"][gid][0]
        colours.append(grid_colour(found, gid, WITHHELD_COLOUR))
        name = str(chosen.at[gid, "name"] or "")
        labels.append(name if value is None else f"{name}\n{format_value(value, measure)}")
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
