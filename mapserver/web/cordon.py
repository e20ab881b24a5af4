"""Checkpoint coverage (道口): entrances of an area, the cordon that seals it with the
fewest staff, its trade-off, and road closures (services/checkpoints.py holds the rules)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from mapserver import params
from mapserver.errors import ValidationError
from mapserver.web.access import require
from mapserver.web.auth import write_access

bp = Blueprint("cordon", __name__, url_prefix="/api")
MAX_BUFFER_M = 1_000.0  # a closure buffer wider than this would close a district


@bp.post("/roads/closures")
@write_access(capability="routes.plan")
def road_closures():
    """Close the roads touched by a GeoJSON FeatureCollection of closures (``buffer_m``,
    ``reopen`` as query parameters)."""
    import geopandas as gpd

    from mapserver.services.closures import close_roads

    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not body.get("features"):
        raise ValidationError.for_request("features", "a GeoJSON FeatureCollection")
    buffer_m = params.number(
        request.args.get("buffer_m"), "buffer_m", low=0, high=MAX_BUFFER_M, default=5
    )
    try:
        layer = gpd.GeoDataFrame.from_features(body["features"], crs="EPSG:4326")
        result = close_roads(
            current_app.extensions["store"],
            layer,
            buffer_m=buffer_m,
            reopen=params.flag(request.args.get("reopen")),
        )
    except (ValueError, TypeError, KeyError) as err:
        raise ValidationError.for_request("features", str(err)) from err
    return jsonify(result)


def _checkpoints():
    return current_app.extensions["checkpoints"]


def _area_request() -> dict:
    """Area and options of an entrances/cordon request, from a JSON body or the query string."""
    body = request.get_json(silent=True) if request.method == "POST" else None
    body = body if isinstance(body, dict) else {}
    args = request.args
    grids = body.get("grids") or args.getlist("grid") or None
    if isinstance(grids, str):
        grids = [grids]
    values = {"grid_ids": grids, "polygon": body.get("polygon") or args.get("polygon")}
    for name, default, high in (
        ("tolerance_m", 30.0, 500.0),
        ("max_outward_m", 0.0, 5_000.0),
        ("household_cost", 0.0, 1e6),
    ):
        values[name] = params.number(
            body.get(name, args.get(name)), name, low=0, high=high, default=default
        )
    keep = body.get("keep_existing", args.get("keep_existing"))
    values["keep_existing"] = params.flag(keep, default=True)
    return values


@bp.route("/entrances", methods=["GET", "POST"])
@require("cordon.read")
def entrances():
    """Every road crossing an area's boundary (grids or a drawn polygon) and its state."""
    v = _area_request()
    return jsonify(
        _checkpoints().entrances(
            grid_ids=v["grid_ids"], polygon=v["polygon"], tolerance_m=v["tolerance_m"]
        )
    )


@bp.route("/cordon", methods=["GET", "POST"])
@require("cordon.read")
def cordon():
    """The fewest staffed checkpoints (and barriers) that seal an area, with rota and loads."""
    v = _area_request()
    return jsonify(
        _checkpoints().cordon(
            grid_ids=v["grid_ids"],
            polygon=v["polygon"],
            max_outward_m=v["max_outward_m"],
            household_cost=v["household_cost"],
            keep_existing=v["keep_existing"],
        )
    )


@bp.route("/cordon/tradeoff", methods=["GET", "POST"])
@require("cordon.read")
def cordon_tradeoff():
    """Staffed checkpoints against extra households enclosed as the cordon moves outward."""
    v = _area_request()
    return jsonify(
        points=_checkpoints().tradeoff(
            grid_ids=v["grid_ids"],
            polygon=v["polygon"],
            max_outward_m=v["max_outward_m"] or 300.0,
            keep_existing=v["keep_existing"],
        )
    )
