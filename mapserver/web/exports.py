"""The command map's panel and exports: the panel's totals and grid table (JSON and XLSX),
the board sheet's data, the wall map (PDF or PNG, A4 to A0) and the offline HTML map, each
of the level and measure the map shows."""

from __future__ import annotations

import threading
from datetime import datetime

from flask import Blueprint, Response, abort, current_app, g, jsonify, request

from mapserver import params
from mapserver.errors import ValidationError
from mapserver.io.wallmap import FORMATS, PAPERS_MM
from mapserver.model import DISTRICT_TZ, LEVEL_LABELS
from mapserver.services import access
from mapserver.services.gridtable import grid_table, table_xlsx
from mapserver.services.mapview import MapView
from mapserver.web import i18n
from mapserver.web.access import reader_area
from mapserver.web.api import MAP_MAX_AGE_S, measure_options
from mapserver.web.auth import current_user

bp = Blueprint("exports", __name__, url_prefix="/api")

# wall maps drawn at once per process (matplotlib's font settings are process-wide while a
# map is drawn); another print meanwhile is answered 503 in words, at once
PRINTS_AT_ONCE = 1
_PRINTING = threading.BoundedSemaphore(PRINTS_AT_ONCE)


def _view() -> MapView:
    return current_app.extensions["mapview"]


def _t(key: str) -> str:
    return i18n.translate(key, g.lang)


def _moment() -> datetime | None:
    text = params.moment(request.args.get("at"), "at")
    return None if text is None else datetime.fromisoformat(text).astimezone(DISTRICT_TZ)


def _file_name(options: dict, suffix: str) -> str:
    where = options["parent_id"] or options["level"] or "map"
    stamp = (_moment() or datetime.now(DISTRICT_TZ)).strftime("%Y%m%d-%H%M")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(where))
    return f"map-{safe}-{stamp}.{suffix}"


def _download(body: bytes, mimetype: str, name: str) -> Response:
    return Response(
        body,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def public_totals(found: dict) -> dict:
    """Panel totals as the public may see them: every count or change below 5 withheld."""

    def hide(counts: dict) -> dict:
        return {k: access.suppress(abs(v)) and v for k, v in counts.items()}

    out = dict(found)
    for key in ("households", "persons", "since_midnight", "last_hour"):
        out[key] = hide(found[key])
    out["areas"] = {k: hide(v) for k, v in found["areas"].items()}
    out["series"] = [dict(p, households=hide(p["households"])) for p in found["series"]]
    return out


def _with_level(options: dict) -> dict:
    if options["level"] is None and options["parent_id"] is None:
        levels = _view().levels()
        options["level"] = levels[min(1, len(levels) - 1)]
    return options


@bp.get("/totals")
def totals():
    """Households and persons per status now, the change since midnight and in the last
    hour, per 三区 class, and a series over the last day for the panel's chart. Outside
    the reader's area (anonymous reading) counts below 5 are withheld."""
    from mapserver.services.totals import panel_totals

    found = panel_totals(_view(), max_age_s=MAP_MAX_AGE_S)
    if current_user() is None:
        found = public_totals(found)
    return jsonify(found)


@bp.get("/table")
def table():
    """The panel's table: every grid of ``level`` (or ``parent``'s children) with the
    measure (as ``/api/measure``), households and persons per status; falling value."""
    found = grid_table(
        _view(), **_with_level(measure_options()), area=reader_area(), max_age_s=MAP_MAX_AGE_S
    )
    return jsonify(found)


@bp.get("/table.xlsx")
def table_workbook():
    """The panel's table as an XLSX workbook (headings in the reader's language)."""
    options = _with_level(measure_options())
    found = grid_table(_view(), **options, area=reader_area())
    codes = [(c.code, c.label_zh if g.lang == "zh" else c.label_en) for c in _view().scheme.codes]
    where = options["parent_id"] or LEVEL_LABELS.get(options["level"], {}).get(g.lang)
    stamp = (_moment() or datetime.now(DISTRICT_TZ)).strftime("%Y-%m-%d %H:%M")
    body = table_xlsx(
        found, codes, _t, title=f"{_t('app_title')} · {where} · {_t('as_of')} {stamp}"
    )
    return _download(
        body,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _file_name(options, "xlsx"),
    )


@bp.get("/print")
def print_map():
    """The wall map of the level (or ``parent``'s children) the map shows, coloured by the
    measure: ``format`` pdf (default) or png, ``paper`` A4 to A0 (default A3)."""
    from mapserver.services.wallprint import wall_map

    fmt = request.args.get("format") or "pdf"
    paper = (request.args.get("paper") or "A3").upper()
    if fmt not in FORMATS:
        raise ValidationError.for_request("format", f"'{fmt}' is not one of {', '.join(FORMATS)}")
    if paper not in PAPERS_MM:
        raise ValidationError.for_request(
            "paper", f"'{paper}' is not one of {', '.join(PAPERS_MM)}"
        )
    options = _with_level(measure_options())
    if not _PRINTING.acquire(blocking=False):
        abort(503, description=_t("print_busy"))
    try:
        body = wall_map(
            _view(), _t, lang=g.lang, moment=_moment(), paper=paper, fmt=fmt,
            area=reader_area(), **options,
        )  # fmt: skip
    finally:
        _PRINTING.release()
    mimetype = "application/pdf" if fmt == "pdf" else "image/png"
    return _download(body, mimetype, _file_name(options, fmt))


@bp.get("/export/map.html")
def offline_html():
    """The map the reader sees as one HTML file that opens offline without this server."""
    from mapserver.services.htmlexport import offline_map

    options = _with_level(measure_options())
    page = offline_map(_view(), _t, lang=g.lang, moment=_moment(), area=reader_area(), **options)
    return _download(page.encode("utf-8"), "text/html", _file_name(options, "html"))


@bp.get("/board")
def board():
    """The board sheet of ``grid`` as data: buildings, households (unit, room, status,
    persons) and the legend's counts (personal data: the reader's area only)."""
    from mapserver.web.pages import board_of

    grid_id = request.args.get("grid")
    if not grid_id:
        raise ValidationError.for_request("grid", "required")
    return jsonify(board_of(grid_id))
