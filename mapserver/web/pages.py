"""HTML pages: the command map, the phone status entry form and the import page."""

from __future__ import annotations

from datetime import datetime

from flask import (
    Blueprint,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from mapserver.errors import ValidationError
from mapserver.model import DISTRICT_TZ, GRID_LEVELS, LEVEL_LABELS
from mapserver.web import i18n
from mapserver.web.access import check, check_grid, reader_area
from mapserver.web.auth import current_user

bp = Blueprint("pages", __name__)


def _render(template: str, **context):
    response = make_response(render_template(template, **context))
    if request.args.get("lang") in i18n.LANGUAGES:
        response.set_cookie("lang", g.lang, max_age=365 * 86400, samesite="Lax")
    return response


@bp.get("/")
def command_map():
    """The command map: grids and buildings coloured by live status."""
    return _render("map.html")


@bp.get("/entry")
def entry():
    """Phone form for a grid worker to update the status of their households."""
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login", next=request.path))
    check("status.write")
    view = current_app.extensions["mapview"]
    layers = view.layers()
    options = [
        {"id": b.building_id, "name": b.name or b.building_id}
        for b in view.building_choices(reader_area()).itertuples(index=False)
    ]
    grid_name = (
        layers.grids.at[user.grid_id, "name"]
        if user.grid_id and user.grid_id in layers.grids.index
        else None
    )
    keys = [k for k in i18n.STRINGS if k.startswith("entry_")] + ["no_status", "undo"]
    entry_data = {
        "user": user.username,
        "lang": g.lang,
        "codes": [
            {
                "code": c.code,
                "label": c.label_zh if g.lang == "zh" else c.label_en,
                "colour": c.colour,
            }
            for c in view.scheme.codes
        ],
        "none_colour": view.scheme.none_colour,
        "strings": {k: i18n.translate(k, g.lang) for k in keys},
    }
    return _render(
        "entry.html",
        buildings=options,
        scheme=view.scheme,
        grid_name=grid_name,
        entry_data=entry_data,
    )


@bp.get("/upload")
def upload():
    """Upload status tables and import grid, building and household files."""
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login", next=request.path))
    check("status.write")
    levels = [(level, LEVEL_LABELS[level].get(g.lang, level)) for level in GRID_LEVELS]
    strings = i18n.table(g.lang)
    scheme = current_app.extensions["mapview"].scheme
    # the statuses a table may give, by the words a worker writes (their labels)
    strings["status_labels"] = "、".join(
        c.label_zh if g.lang == "zh" else c.label_en for c in scheme.codes
    )
    return _render("upload.html", strings=strings, levels=levels)


def board_of(grid_id: str) -> dict:
    """The board sheet of ``grid_id`` for this request's reader (personal data: their
    area only); a grid too big for a sheet is refused in words."""
    from mapserver.services.board import board_sheet

    check("personal.read")
    check_grid(grid_id)
    try:
        return board_sheet(current_app.extensions["mapview"], grid_id, lang=g.lang)
    except ValueError as err:
        raise ValidationError.for_request("grid", str(err)) from None


@bp.get("/board/<grid_id>")
def board(grid_id: str):
    """The board sheet (挂图板) of a grid: each building a box of household boxes, one dot
    per person in its status colour; prints on A4 to A0."""
    if current_user() is None:
        return redirect(url_for("auth.login", next=request.path))
    sheet = board_of(grid_id)
    return _render("board.html", board=sheet, as_of=f"{datetime.now(DISTRICT_TZ):%Y-%m-%d %H:%M}")
