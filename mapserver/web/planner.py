"""The micro-grid planner: its page and its API (proposals, edits, versions)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import geopandas as gpd
from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from mapserver import params
from mapserver.model import LEVEL_LABELS, level_rank
from mapserver.services import jobwork
from mapserver.services.jobs import SETUP_S, JobWork
from mapserver.web.access import check, check_grid, reader_area
from mapserver.web.auth import current_user, write_access
from mapserver.web.body import json_object

bp = Blueprint("planner", __name__)

_MAX_ID = 2**31 - 1  # version numbers are database integers


def _planner():
    return current_app.extensions["planner"]


def _reads(parent_id: str) -> None:
    """Planning reads household data: a role that reads plans, with the parent in its area."""
    check("planner.read")
    check_grid(parent_id)


def _version_parent(version_id: int) -> str:
    """The parent grid a saved version plans (404 for an unknown version)."""
    return _planner().parent_of_version(version_id)


def _body() -> dict:
    return json_object(required=True)


@bp.get("/planner")
def planner_page():
    """The planner page for ``?parent=<grid id>``."""
    if current_user() is None:
        return redirect(url_for("auth.login", next=request.full_path))
    check("planner.read")
    parent = request.args.get("parent", "")
    if not parent:  # the menu's link: choose the grid whose cells to plan
        return render_template("planner_choose.html", parents=_plannable())
    check_grid(parent)
    labels = {level: names.get(g.lang, level) for level, names in LEVEL_LABELS.items()}
    return render_template("planner.html", parent=parent, level_labels=labels)


def _plannable() -> list[tuple[str, list[dict]]]:
    """The grids of the reader's area that have children (the planner redraws the level
    below any of them), by level, each with the names of the grids above it and what its
    children are."""
    layers = current_app.extensions["mapview"].layers()
    grids, children = layers.grids, layers.children
    scope = reader_area()
    by_level: dict[str, list[dict]] = {}
    for gid, kids in children.items():
        if not kids or gid not in grids.index:
            continue
        if scope is not None and gid not in scope:
            continue
        level = str(grids.at[gid, "level"])
        path = [str(grids.at[a, "name"] or a) for a in reversed(layers.ancestors.get(gid, []))]
        by_level.setdefault(level, []).append(
            {
                "id": gid,
                "name": str(grids.at[gid, "name"] or gid),
                "path": " › ".join(path),
                "children": len(kids),
                "child_level": LEVEL_LABELS.get(str(grids.at[kids[0], "level"]), {}).get(
                    g.lang, str(grids.at[kids[0], "level"])
                ),
            }
        )
    return [
        (LEVEL_LABELS.get(level, {}).get(g.lang, level), sorted(rows, key=lambda r: r["path"]))
        for level, rows in sorted(by_level.items(), key=lambda kv: level_rank(kv[0]))
    ]


@bp.get("/api/planner/<parent_id>")
def open_plan(parent_id: str):
    """A parent grid's buildings, current cells, target and versions."""
    _reads(parent_id)
    return jsonify(_planner().open(parent_id))


@bp.post("/api/planner/<parent_id>/evaluate")
def evaluate(parent_id: str):
    """Boundaries, totals and validation issues of an assignment."""
    _reads(parent_id)
    body = _body()
    return jsonify(
        _planner().evaluate(parent_id, body.get("assignment") or {}, target=body.get("target"))
    )


@bp.post("/api/planner/<parent_id>/edit")
def edit(parent_id: str):
    """One hand edit: ``op`` move (buildings, to), split (cell), merge (keep, remove) or
    draw (polygon, cell), applied to ``assignment``."""
    _reads(parent_id)
    return jsonify(_planner().edit(parent_id, _body()))


@bp.post("/api/planner/<parent_id>/people")
def people(parent_id: str):
    """A responsible person per cell (``people``) and households per volunteer
    (``volunteers``, ``per_volunteer`` [min, max], default 3–5) for an ``assignment``.
    Only for a parent grid in the reader's area, so only its households are listed."""
    _reads(parent_id)
    body = _body()
    low, high = params.integer_pair(
        body.get("per_volunteer"), "per_volunteer", low=1, high=1000, default=(3, 5)
    )
    return jsonify(
        _planner().people(
            parent_id,
            body.get("assignment") or {},
            people=[str(p) for p in body.get("people") or []],
            volunteers=[str(v) for v in body.get("volunteers") or []],
            per_volunteer=(low, high),
        )
    )


@bp.post("/api/planner/<parent_id>/propose")
@write_access(capability="grids.edit")
def propose(parent_id: str):
    """Start an automatic proposal (a job): ``target`` {minimum, maximum, measure},
    ``keep_current`` to re-plan with as few moves as possible."""
    check_grid(parent_id)
    body = _body()
    _planner().parent(parent_id)  # 404/400 now rather than in the job
    work = JobWork(
        jobwork.propose_cells,
        {
            "parent_id": parent_id,
            "target": body.get("target"),
            "keep_current": bool(body.get("keep_current", True)),
        },
        limit_s=current_app.config["SETTINGS"].max_job_time_s + SETUP_S,
    )
    job_id = current_app.extensions["jobs"].submit(
        "partition", {"parent": parent_id, **body}, work, user=g.user.username
    )
    return jsonify(job_id=job_id), 202


@bp.get("/api/planner/<parent_id>/versions")
def versions(parent_id: str):
    """Saved versions of a parent grid, newest first."""
    _reads(parent_id)
    return jsonify(versions=_planner().versions(parent_id))


@bp.post("/api/planner/<parent_id>/versions")
@write_access(capability="grids.edit")
def save(parent_id: str):
    """Save a draft: ``base_version`` (the version the edit started from), ``assignment``,
    optional ``names``/``persons`` per cell. 409 when someone saved in between."""
    check_grid(parent_id)
    body = _body()
    base = params.integer(body.get("base_version"), "base_version", low=0, high=_MAX_ID, default=0)
    result = _planner().save(
        parent_id,
        base_version=None if body.get("base_version") in (None, "") else base,
        assignment=body.get("assignment") or {},
        names=body.get("names"),
        persons=body.get("persons"),
        user=g.user.username,
        label=body.get("label"),
    )
    return jsonify(result), 201


@bp.post("/api/planner/versions/<int:version_id>/publish")
@write_access(capability="grids.edit")
def publish(version_id: int):
    """Make a version the live grids (the command map switches to it)."""
    version_id = params.integer(version_id, "version_id", low=0, high=_MAX_ID)
    check_grid(_version_parent(version_id))
    return jsonify(_planner().publish(version_id))


@bp.post("/api/planner/<parent_id>/rollback")
@write_access(capability="grids.edit")
def rollback(parent_id: str):
    """Publish an earlier ``version`` again."""
    check_grid(parent_id)
    body = _body()
    return jsonify(
        _planner().rollback(
            parent_id,
            params.integer(body.get("version"), "version", low=0, high=_MAX_ID, default=0),
            user=g.user.username,
        )
    )


@bp.get("/api/planner/compare")
def compare():
    """Buildings and households that moved between versions ``a`` and ``b``."""
    a = params.integer(request.args.get("a"), "a", low=0, high=_MAX_ID)
    b = params.integer(request.args.get("b"), "b", low=0, high=_MAX_ID)
    _reads(_version_parent(a))
    _reads(_version_parent(b))
    return jsonify(_planner().compare(a, b))


@bp.get("/api/planner/versions/<int:version_id>/export")
def export(version_id: int):
    """A version's cells as GeoJSON (default) or GeoPackage (``format=gpkg``)."""
    version_id = params.integer(version_id, "version_id", low=0, high=_MAX_ID)
    _reads(_version_parent(version_id))
    if request.args.get("format", "geojson") == "gpkg":
        data = _planner().export(version_id)
        frame = gpd.GeoDataFrame.from_features(data["features"], crs="EPSG:4326")
        frame["buildings"] = frame["buildings"].map(",".join)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"plan-{version_id}.gpkg"
            frame.to_file(path, driver="GPKG", layer="grids")
            payload = path.read_bytes()
        return Response(
            payload,
            mimetype="application/geopackage+sqlite3",
            headers={"Content-Disposition": f'attachment; filename="plan-{version_id}.gpkg"'},
        )
    return Response(
        _planner().export_text(version_id),
        mimetype="application/geo+json",
        headers={"Content-Disposition": f'attachment; filename="plan-{version_id}.geojson"'},
    )
