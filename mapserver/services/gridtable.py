"""The command map panel's table: every grid of a level (or a grid's children) with the
measure the map is coloured by, its class, and households and persons per status; as JSON
rows for the panel and as an XLSX workbook for the office. No Flask here."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from mapserver.services import access
from mapserver.services.mapview import MapView, or_none
from mapserver.services.measures import level_measure
from mapserver.services.wallprint import MEASURE_KEYS, format_value


def grid_table(
    view: MapView, *, area: set[str] | None = None, max_age_s: float = 0.0, **options: object
) -> dict:
    """The grids of a level (or a grid's children) as rows: ``id``, ``name``, ``value`` of
    the measure and its ``class`` (``options``: the keyword arguments of
    :func:`level_measure`), ``households``, ``persons``, ``counts`` (households per status
    code) and ``person_counts``. Outside ``area`` (the reader's grids; None: all) counts
    below 5 are withheld (None). Rows come in falling value; the answer names ``seq``,
    ``measure`` and ``statuses``."""
    found = level_measure(view, area=area, max_age_s=max_age_s, **options)  # type: ignore[arg-type]
    at = options.get("at")
    snap = view.snapshot(max_age_s=max_age_s) if at is None else view.snapshot_at(at)
    grids = view.layers(max_age_s=max_age_s).grids
    ids = list(found["grids"])
    households = snap.counts.grid_households.reindex(ids, fill_value=0)
    persons = snap.counts.grid_persons.reindex(ids, fill_value=0)
    rows = []
    for gid in ids:
        hh = {str(k): int(v) for k, v in households.loc[gid].items() if int(v) > 0}
        pp = {str(k): int(v) for k, v in persons.loc[gid].items() if int(v) > 0}
        status = {
            "counts": hh,
            "person_counts": pp,
            "households": sum(hh.values()),
            "persons": sum(pp.values()),
        }
        if area is not None and gid not in area:
            status = access.public_status(status)
        value, number = found["grids"][gid]
        rows.append(
            {
                "id": gid,
                "name": or_none(grids.at[gid, "name"]),
                "value": value,
                "class": number,
                "households": status["households"],
                "persons": status["persons"],
                "counts": status["counts"],
                "person_counts": status["person_counts"],
            }
        )
    rows.sort(key=lambda r: (-(r["value"] if r["value"] is not None else -1), r["id"]))
    return {
        "seq": found["seq"],
        "level": found["level"],
        "parent": found["parent"],
        "measure": found["measure"],
        "statuses": found["statuses"],
        "classes": found["classes"],
        "rows": rows,
    }


def table_xlsx(
    table: dict, codes: Sequence[tuple[str, str]], t: Callable[[str], str], *, title: str
) -> bytes:
    """The table of :func:`grid_table` as an XLSX workbook: one row per grid with the
    measure, totals and households per status (``codes``: code and its label, in the
    scheme's order); headings in the reader's language, the first row frozen."""
    book = Workbook()
    sheet = book.active
    sheet.title = t("grids")[:31]
    measure = table["measure"]
    headings = [
        t("grid"),
        t("grid_id"),
        t(MEASURE_KEYS[measure]),
        t("households_total"),
        t("persons_total"),
        *(f"{label} ({t('households')})" for _, label in codes),
    ]
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(headings)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="EEEEEE")
    for row in table["rows"]:
        value = row["value"]
        shown = (
            None
            if value is None
            else (format_value(value, measure) if measure.endswith("share") else value)
        )
        sheet.append(
            [
                row["name"] or row["id"],
                row["id"],
                shown,
                row["households"],
                row["persons"],
                *(row["counts"].get(code, 0 if row["counts"] else None) for code, _ in codes),
            ]
        )
    sheet.freeze_panes = "A3"
    for number, heading in enumerate(headings, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = max(10, len(heading) * 2)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
