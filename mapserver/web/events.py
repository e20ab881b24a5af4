"""Event layer API: upload a case list (admin), its points (login) and counts per grid and day."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from mapserver import params
from mapserver.errors import ValidationError
from mapserver.services import events as service
from mapserver.status.events import DEFAULT_MAX_DISTANCE_M
from mapserver.web.access import check
from mapserver.web.auth import write_access
from mapserver.web.body import uploaded_file

bp = Blueprint("events", __name__, url_prefix="/api/events")

MAX_DISTANCE_M = 5_000.0


def _store():
    return current_app.extensions["store"]


def _distance(raw: str | None) -> float:
    """The building search distance of a request, metres (0 to 5,000)."""
    return params.number(
        raw, "max_distance_m", low=0, high=MAX_DISTANCE_M, default=DEFAULT_MAX_DISTANCE_M
    )


@bp.post("/upload")
@write_access(capability="import")
def upload():
    """Import a CSV/XLSX case list as the event layer (merge by id, or ``replace``)."""
    with uploaded_file() as (path, given):
        report = service.import_events_file(
            _store(),
            path,
            file=given,
            source_crs=request.form.get("crs") or None,
            max_distance_m=_distance(request.form.get("max_distance_m")),
            replace=params.flag(request.form.get("replace")),
            user=g.user,
        )
    return jsonify(report)


@bp.get("")
def features():
    """Event points as GeoJSON (personal data: login or token; a worker sees their subtree);
    ``grid`` (subtree), ``from``/``to`` (days, inclusive) filter them."""
    user = check("events.read")
    coords = request.args.get("coords", "wgs84").lower()
    if coords not in ("wgs84", "gcj02"):
        raise ValidationError.for_request("coords", f"'{coords}' is not wgs84 or gcj02")
    args = request.args
    return jsonify(
        service.event_features(
            _store(),
            user,
            coords=coords,
            grid_id=args.get("grid") or None,
            day_from=args.get("from") or None,
            day_to=args.get("to") or None,
        )
    )


@bp.get("/summary")
def summary():
    """Event counts per grid (subtree totals) at ``level`` or under ``parent``; ``by=day``."""
    check("events.read")
    by = request.args.get("by") or None
    if by not in (None, "day", "grid"):
        raise ValidationError.for_request("by", f"'{by}' is not day")
    return jsonify(
        service.event_summary(
            _store(),
            level=request.args.get("level") or None,
            parent=request.args.get("parent") or None,
            by_day=by == "day",
        )
    )
