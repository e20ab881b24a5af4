"""Delivery and patrol routes: the API, the driver's phone page, GPX and printable manifests."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
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
from mapserver.errors import ValidationError
from mapserver.model import DISTRICT_TZ
from mapserver.services import access, jobwork, requests
from mapserver.services.delivery import REPLAN_S, DeliveryRequest
from mapserver.services.jobs import SETUP_S, JobWork
from mapserver.web.access import check, check_route, require
from mapserver.web.auth import current_user, write_access
from mapserver.web.body import json_object

TEAM_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
bp = Blueprint("routes", __name__)


def _delivery():
    return current_app.extensions["delivery"]


def _plans():
    return current_app.extensions["routeplans"]


def _delivery_request(body: dict) -> DeliveryRequest:
    """Parse a plan request with the server's limits (see services/requests.py)."""
    settings = current_app.config["SETTINGS"]
    return requests.delivery_request(
        body, max_vehicles=settings.max_vehicles, max_job_time_s=settings.max_job_time_s
    )


@bp.post("/api/delivery/plans")
@write_access(capability="routes.plan")
def create_delivery_plan():
    """Start solving a delivery run; answers a job id at once (see /api/jobs/<id>)."""
    body = json_object()
    rows = body.pop("orders", None)
    orders = None
    if rows is not None:
        if not isinstance(rows, list) or not rows:
            raise ValidationError.for_request("orders", "a list of rows")
        cap = current_app.config["SETTINGS"].max_stops
        if len(rows) > cap:
            raise ValidationError.for_request(
                "orders", f"{len(rows):,} orders: at most {cap:,} per request"
            )
        orders = pd.DataFrame(rows)
    plan_request = _delivery_request(body)
    user = g.user.username
    work = JobWork(
        jobwork.plan_delivery,
        {
            "request": plan_request,
            "user": user,
            "orders": orders,
            "max_stops": current_app.config["SETTINGS"].max_stops,
        },
        limit_s=plan_request.time_limit_s + SETUP_S,
    )
    job_id = current_app.extensions["jobs"].submit(
        "delivery",
        {**body, "time_limit_s": plan_request.time_limit_s},  # as clamped
        work,
        user=user,
    )
    return jsonify(job_id=job_id), 202


@bp.get("/api/delivery/plans")
@require("routes.read")
def list_delivery_plans():
    """Saved delivery plans, newest first."""
    return jsonify(plans=_plans().list(kind="delivery"))


@bp.post("/api/delivery/plans/<plan_id>/name")
@write_access(capability="routes.plan")
def rename_delivery_plan(plan_id: str):
    """Give a plan a name (``{"name": "..."}``, 1 to 60 characters)."""
    body = json_object()
    _delivery().get(plan_id)  # a delivery plan, or 404
    name = _plans().rename(plan_id, body.get("name"), user=g.user.username)
    return jsonify(plan_id=plan_id, name=name)


@bp.post("/api/delivery/plans/<plan_id>/archive")
@write_access(capability="routes.plan")
def archive_delivery_plan(plan_id: str):
    """Put a plan away (``{"archived": true}``) or take it back (``false``)."""
    archived = params.flag(json_object().get("archived", True))
    _delivery().get(plan_id)  # a delivery plan, or 404
    _plans().archive(plan_id, archived, user=g.user.username)
    return jsonify(plan_id=plan_id, archived=archived)


@bp.delete("/api/delivery/plans/<plan_id>")
@write_access(capability="routes.plan")
def delete_delivery_plan(plan_id: str):
    """Delete a plan with its stop marks and driver assignments."""
    _delivery().get(plan_id)  # a delivery plan, or 404
    _plans().delete(plan_id, user=g.user.username)
    return jsonify(plan_id=plan_id, deleted=True)


@bp.get("/api/delivery/plans/<plan_id>")
@require("routes.read")
def delivery_plan(plan_id: str):
    """A plan: routes, stops in order with ETA, drops and state; legs as GeoJSON;
    ``drivers``: route id → assigned driver."""
    found = _delivery().get(plan_id)
    drivers = _plans().drivers(plan_id)
    return jsonify({**found, "drivers": drivers})


@bp.get("/api/delivery/plans/<plan_id>/routes/<route_id>")
def delivery_route(plan_id: str, route_id: str):
    """One route of a plan, for the driver it is assigned to (``driver``)."""
    check_route(plan_id, route_id)
    found = _delivery().route(plan_id, route_id)
    driver = _plans().driver_of(plan_id, route_id)
    return jsonify({**found, "driver": driver})


@bp.post("/api/delivery/plans/<plan_id>/routes/<route_id>/driver")
@write_access(capability="routes.plan")
def assign_driver(plan_id: str, route_id: str):
    """Assign a route to a driver (``{"driver": username}``; null unassigns)."""
    body = json_object(required=True)
    if "driver" not in body:
        raise ValidationError.for_request("driver", "required")
    _delivery().route(plan_id, route_id)  # 404 for an unknown plan or route
    name = _plans().assign(plan_id, route_id, body["driver"])
    return jsonify(plan_id=plan_id, route_id=route_id, driver=name)


@bp.post("/api/delivery/plans/<plan_id>/routes/<route_id>/stops/<path:stop_id>")
@write_access(capability="stops.mark")
def mark_stop(plan_id: str, route_id: str, stop_id: str):
    """Mark a stop ``delivered`` or ``failed`` (with a ``reason``), or ``pending`` again;
    a driver only on a route assigned to them."""
    check_route(plan_id, route_id, mark=True)
    body = json_object()
    seq = _delivery().mark(
        plan_id,
        route_id,
        stop_id,
        state=str(body.get("state", "")),
        reason=body.get("reason"),
        user=g.user.username,
    )
    return jsonify(seq=seq)


@bp.post("/api/delivery/plans/<plan_id>/replan")
@write_access(capability="routes.plan")
def replan_delivery(plan_id: str):
    """Re-plan what is left from each vehicle's last delivered stop; answers a job id.

    ``now`` ("HH:MM", China time) says when the vehicles go on; default: the clock.
    """
    user = g.user.username
    _delivery().get(plan_id)  # 404 before starting a job for a plan that does not exist
    body = json_object()
    now_s = None
    if body.get("now"):
        try:
            hours, minutes = (int(x) for x in str(body["now"]).split(":"))
            if not (0 <= hours < 24 and 0 <= minutes < 60):
                raise ValueError(body["now"])
            now_s = hours * 3600 + minutes * 60
        except ValueError as err:
            raise ValidationError.for_request("now", "must be HH:MM") from err
    job_id = current_app.extensions["jobs"].submit(
        "replan",
        {"plan_id": plan_id, "now": body.get("now")},
        JobWork(
            jobwork.replan_delivery,
            {"plan_id": plan_id, "user": user, "now_s": now_s},
            limit_s=REPLAN_S + SETUP_S,
        ),
        user=user,
    )
    return jsonify(job_id=job_id), 202


@bp.get("/api/delivery/progress")
@require("routes.read")
def delivery_progress():
    """Stops of the newest (or ``plan``) delivery plan with their state, as GeoJSON."""
    return jsonify(_delivery().progress(request.args.get("plan") or None))


@bp.get("/routes")
def routes_page():
    """Delivery and patrol plans, with a button to plan a new run (a driver: the plans
    holding their routes)."""
    user = current_user()
    plans = _plans().list()
    mine: set[tuple[str, str]] | None = None
    if user is not None and user.role == "driver":
        mine = _plans().routes_of(user.username)
        plans = [p for p in plans if any(p["plan_id"] == plan for plan, _ in mine)]
    else:
        check("routes.read")
    details, drivers = {}, {}
    for plan in plans:
        if plan["kind"] == "delivery":
            found = _delivery().get(plan["plan_id"])["plan"]
            if mine is not None:
                kept = [r for r in found["routes"] if (plan["plan_id"], r["route_id"]) in mine]
                found = {**found, "routes": kept}
            details[plan["plan_id"]] = found
            drivers[plan["plan_id"]] = _plans().drivers(plan["plan_id"])
    can_plan = access.can(user, "routes.plan")
    driver_names = _plans().driver_names() if can_plan else []
    view = current_app.extensions["mapview"]
    lang = g.lang
    for plan in plans:  # the district's clock, not UTC
        when = datetime.fromisoformat(plan["created_at"]).astimezone(DISTRICT_TZ)
        plan["created_local"] = f"{when:%m-%d %H:%M}"
    worst = max(c.severity for c in view.scheme.codes)
    # patrol plans, each with the grids it covers (by name); ?grid= keeps those of a grid
    # and the grids above or below it
    grids = view.layers().grids
    wanted = request.args.get("grid") or None
    family = None
    if wanted is not None and wanted in grids.index:
        layers = view.layers()
        family = {wanted, *layers.ancestors.get(wanted, []), *view.descendants(wanted)}
    patrols = []
    for plan in plans if mine is None else []:  # a driver sees their routes only
        if plan["kind"] != "patrol":
            continue
        covered = [str(gid) for gid in _patrol().get(plan["plan_id"])["summary"].get("grids") or []]
        if family is not None and not (set(covered) & family or not covered):
            continue
        names = [str(grids.at[gid, "name"]) if gid in grids.index else gid for gid in covered]
        patrols.append({**plan, "grid_names": names})
    return render_template(
        "routes.html",
        patrols=patrols,
        patrol_grid=None
        if wanted is None
        else (str(grids.at[wanted, "name"]) if wanted in grids.index else wanted),
        plans=plans if mine is None else [p for p in plans if p["kind"] == "delivery"],
        details=details,
        drivers=drivers,
        driver_names=driver_names,
        can_plan=can_plan,
        codes=[
            (c.code, c.label_zh if lang == "zh" else c.label_en, c.colour, c.severity == worst)
            for c in view.scheme.codes
        ],
        area_codes=[
            (c.code, c.label_zh if lang == "zh" else c.label_en, c.colour)
            for c in view.area_scheme.codes
        ],
    )


@bp.get("/driver/<plan_id>/<route_id>")
def driver_page(plan_id: str, route_id: str):
    """The driver's phone page: map, stops in order with ETA and drops, delivered buttons."""
    if current_user() is None:
        return redirect(url_for("auth.login", next=request.path))
    check_route(plan_id, route_id)
    route = _delivery().route(plan_id, route_id)
    return render_template("driver.html", data=route, plan_id=plan_id, route_id=route_id)


@bp.get("/driver/<plan_id>/<route_id>.gpx")
def driver_gpx(plan_id: str, route_id: str):
    """The route as a GPX 1.1 file for a navigation app."""
    check_route(plan_id, route_id)
    text = _delivery().gpx(plan_id, route_id)
    return Response(
        text,
        mimetype="application/gpx+xml",
        headers={"Content-Disposition": f'attachment; filename="{plan_id}-{route_id}.gpx"'},
    )


@bp.get("/driver/<plan_id>/<route_id>/manifest")
def driver_manifest(plan_id: str, route_id: str):
    """A printable manifest: every drop by stop and building."""
    check_route(plan_id, route_id)
    route = _delivery().route(plan_id, route_id)
    rows = _delivery().manifest(plan_id, route_id)
    return render_template("manifest.html", data=route, rows=rows)


def _patrol():
    return current_app.extensions["patrol"]


@bp.post("/api/patrol/plans")
@write_access(capability="routes.plan")
def create_patrol_plan():
    """Start a patrol plan: ``kind`` "streets" (every street of ``grids``) or "checkpoints";
    ``teams``, ``shift_h``. Answers a job id at once."""
    body = json_object()
    patrol = requests.patrol_request(body)
    user = g.user.username
    work = JobWork(
        jobwork.plan_patrol,
        {
            "kind": patrol.kind,
            "grids": list(patrol.grids),
            "teams": patrol.teams,
            "shift_h": patrol.shift_h,
            "user": user,
        },
        limit_s=current_app.config["SETTINGS"].max_job_time_s + SETUP_S,
    )
    job_id = current_app.extensions["jobs"].submit("patrol", body, work, user=user)
    return jsonify(job_id=job_id), 202


@bp.get("/api/patrol/plans/<plan_id>")
@require("routes.read")
def patrol_plan(plan_id: str):
    """A patrol plan: summary per team and the walk as GeoJSON."""
    return jsonify(_patrol().get(plan_id))


@bp.get("/patrol/<plan_id>")
def patrol_page(plan_id: str):
    """The patrol team's phone page: the walk on a map with each team's colour and
    direction, lengths, shift check, GPX per team; on a checkpoint tour, named
    checkpoints with a check-in button (who passed when) and the intervals kept."""
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login", next=request.path))
    if not (access.can(user, "routes.read") or access.can(user, "patrol.checkin")):
        check("routes.read")  # a 403 in words
    data = _patrol().get(plan_id)
    for cp in data.get("checkins", {}).values():  # the district's clock
        when = datetime.fromisoformat(cp["last_at"]).astimezone(DISTRICT_TZ)
        cp["last_local"] = f"{when:%H:%M}"
    return render_template(
        "patrol.html",
        data=data,
        plan_id=plan_id,
        palette=TEAM_COLOURS,
        can_checkin=access.can(user, "patrol.checkin"),
    )


@bp.post("/api/patrol/plans/<plan_id>/checkins")
@write_access(capability="patrol.checkin")
def patrol_checkin(plan_id: str):
    """A patrol passed a checkpoint of its tour (``{"checkpoint": id}``): who and when are
    noted; answers the plan's check-ins per checkpoint."""
    checkpoint = json_object().get("checkpoint")
    if not isinstance(checkpoint, str) or not checkpoint:
        raise ValidationError.for_request(
            "checkpoint", "required: the id of a checkpoint of the tour"
        )
    return jsonify(_patrol().checkin(plan_id, checkpoint, user=g.user.username))


@bp.get("/api/checkins")
@require("routes.read")
def recent_checkins():
    """Per checkpoint, the patrols' passes of the last ``hours`` (default 24, at most a
    week) over every plan: passes, last pass (when, by whom, plan), observed interval."""
    hours = params.number(request.args.get("hours"), "hours", low=0.25, high=168, default=24)
    return jsonify(_patrol().recent_checkins(hours))


@bp.get("/patrol/<plan_id>/<team>.gpx")
@require("routes.read")
def patrol_gpx_file(plan_id: str, team: str):
    """One team's walk (or ``all`` for a checkpoint tour) as GPX."""
    return Response(
        _patrol().gpx(plan_id, team),
        mimetype="application/gpx+xml",
        headers={"Content-Disposition": f'attachment; filename="patrol-{plan_id}-{team}.gpx"'},
    )
