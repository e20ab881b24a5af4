"""Status writes: one row or a batch from a phone or another system, and status tables
uploaded from the upload page (services/statusio.py holds the rules)."""

from __future__ import annotations

import re

import pandas as pd
from flask import Blueprint, current_app, g, jsonify, request

from mapserver.errors import ValidationError
from mapserver.services import statusio
from mapserver.services.mapview import MapView
from mapserver.web.auth import write_access
from mapserver.web.body import uploaded_file

bp = Blueprint("status", __name__, url_prefix="/api")
REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")  # a client's id of a write it may resend


def _view() -> MapView:
    return current_app.extensions["mapview"]


@bp.post("/status")
@write_access(capability="status.write")
def post_status():
    """Write one status row or a batch (``{"rows": [...]}``); all or nothing."""
    payload = request.get_json(silent=True)
    if payload is None:
        raise ValidationError.for_request(None, "body must be JSON (one row or {'rows': [...]})")
    rows = payload.get("rows") if isinstance(payload, dict) and "rows" in payload else payload
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list) or not rows:
        raise ValidationError.for_request("rows", "no rows given")
    request_id = payload.get("request_id") if isinstance(payload, dict) else None
    if request_id is not None:  # a phone's entry, perhaps sent before: written once
        if not isinstance(request_id, str) or not REQUEST_ID.fullmatch(request_id):
            raise ValidationError.for_request(
                "request_id", "must be 8 to 64 letters, digits, - or _"
            )
        seq, written = statusio.apply_status_once(
            current_app.extensions["store"],
            _view(),
            pd.DataFrame(rows),
            request_id=request_id,
            user=g.user,
            source="api",
        )
        return jsonify(seq=seq, applied=len(rows) if written else 0, duplicate=not written)
    seq = statusio.apply_status_records(
        current_app.extensions["store"],
        _view(),
        pd.DataFrame(rows),
        file="request",
        user=g.user,
        source="api",
    )
    return jsonify(seq=seq, applied=len(rows))


@bp.post("/status/upload")
@write_access(capability="status.write")
def upload_status():
    """Upload a status table (CSV or XLSX); rejected whole when any row is bad."""
    with uploaded_file() as (path, given):
        seq, applied = statusio.apply_status_file(
            current_app.extensions["store"], _view(), path, file=given, user=g.user
        )
    return jsonify(seq=seq, applied=applied, file=given)
