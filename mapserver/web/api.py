"""JSON and GeoJSON API: parse the request, call the services, serialise the answer."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, abort, current_app, g, jsonify, request, stream_with_context
from sqlalchemy.exc import OperationalError

from mapserver import params
from mapserver.errors import NotFoundError, ValidationError
from mapserver.mvt import Tile
from mapserver.services import access, leveltable, statusio
from mapserver.services import search as map_search
from mapserver.services.households import building_households
from mapserver.services.jobs import CRASHED, OVER_TIME
from mapserver.services.livefeed import LiveFeed
from mapserver.services.mapjson import GZIP_MIN_BYTES, Answer, MapJSON
from mapserver.services.mapview import MapView, geometry_json
from mapserver.services.tiles import TILE_LAYERS, TileCache
from mapserver.web import i18n
from mapserver.web.access import check, check_grid, reader_area, require
from mapserver.web.auth import current_user
from mapserver.web.openapi import openapi_document

bp = Blueprint("api", __name__, url_prefix="/api")

SSE_MAX_SECONDS = 300  # the browser's EventSource reconnects by itself after this
MAX_SEQ = 2**62  # change-log sequence numbers are 64-bit database integers
_FEED_LOCK = threading.Lock()
MVT_TYPE = "application/vnd.mapbox-vector-tile"
ABILITIES = ("cordon.read", "personal.read", "status.write", "routes.read")  # told to the map page
MAP_MAX_AGE_S = 1.0  # map answers may lag the change log this much; the live feed brings them on


def _view() -> MapView:
    return current_app.extensions["mapview"]


def _bbox() -> tuple[float, float, float, float] | None:
    return params.bbox(request.args.get("bbox"))


def _at() -> int | None:
    """The change-log sequence number of the request's ``at`` moment (history), or None."""
    moment = params.moment(request.args.get("at"), "at")
    return None if moment is None else _view().seq_at(moment)


def _rule() -> str | None:
    rule = request.args.get("rule") or None
    if rule not in (None, "worst", "share"):
        raise ValidationError.for_request("rule", f"'{rule}' is not worst or share")
    return rule


def _coords() -> str:
    coords = request.args.get("coords", "wgs84").lower()
    if coords not in ("wgs84", "gcj02"):
        raise ValidationError.for_request("coords", f"'{coords}' is not wgs84 or gcj02")
    return coords


@bp.get("/config")
def config():
    """Everything a page needs to draw: scheme, area classes, levels, strings, basemap."""
    view = _view()
    settings = current_app.config["SETTINGS"]
    lang = g.lang
    user = current_user()
    menu = access.menu(user)
    version = view.layers(max_age_s=MAP_MAX_AGE_S).version
    abilities = [c for c in ABILITIES if user is not None and access.can(user, c)]
    key = (version, lang, user is None, tuple(menu), tuple(abilities))
    cache = current_app.extensions.setdefault("config_text", {})
    text = cache.get(key)
    if text is None:  # the same for every map of a language and menu until the data moves
        levels = view.levels()
        found = dict(
            scheme=view.scheme.to_dict(),
            area_scheme=view.area_scheme.to_dict(),
            levels=levels,
            level_labels={lvl: statusio.level_label(lvl, lang) for lvl in levels},
            strings=i18n.table(lang),
            lang=lang,
            basemap=settings.basemap,
            colour_rule=view.colour_rule,
            share_threshold=view.share_threshold,
            public=user is None,
            menu=menu,
            # what this reader may do: buttons that cannot act are not shown
            abilities=abilities,
            version=version,  # the layers' data version; the live feed says when it moves
            # a large district's levels are drawn from vector tiles and status tables
            tiled=view.tiled(max_age_s=MAP_MAX_AGE_S),
        )
        text = json.dumps(found, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        if len(cache) > 64:
            cache.clear()
        cache[key] = text
    # each layer answer names its own seq: the map catches up from there
    body = f'{text[:-1]},"seq":{view.last_seq()}}}'
    return Response(body, mimetype="application/json")


@bp.get("/grids")
def grids():
    """Grids with live status as GeoJSON; filter by level, parent and bbox.

    Answers carry an entity tag (data version, change-log seq, query): a repeated
    query answers 304 while nothing moved, and bodies are gzipped when asked for.
    A reader limited to an area gets the scoped answer, built for the request.
    """
    scope = reader_area()
    query = dict(
        level=request.args.get("level") or None,
        parent_id=request.args.get("parent") or None,
        ids=request.args.getlist("id") or None,
        bbox=_bbox(),
        coords=_coords(),
        rule=_rule(),
    )
    at = _at()
    if scope is not None or at is not None:
        found = _view().grid_features(**query, at=at)
        return jsonify(access.scope_grid_features(found, scope))
    return _cached_json(_mapjson().grids(**query))


@bp.get("/buildings")
@require("personal.read")
def buildings():
    """Buildings with live status as GeoJSON; filter by grid (subtree) and bbox (only the
    buildings of the reader's area; entity tag and gzip as for ``/api/grids``)."""
    query = dict(
        grid_id=request.args.get("grid") or None, bbox=_bbox(), coords=_coords(), rule=_rule()
    )
    scope = reader_area()
    if scope is not None:
        found = _view().building_features(**query)
        return jsonify(access.scope_building_features(found, scope))
    return _cached_json(_mapjson().buildings(**query))


def _shared(name: str, make: Callable[[], object]):
    """The process's object ``name`` (a cache, the live feed), made by ``make`` on first use."""
    found = current_app.extensions.get(name)
    if found is None:
        with _FEED_LOCK:
            found = current_app.extensions.get(name)
            if found is None:
                found = current_app.extensions[name] = make()
    return found


def _mapjson() -> MapJSON:
    """The process's cache of layer answers, made on first use."""
    return _shared("mapjson", lambda: MapJSON(_view(), max_age_s=MAP_MAX_AGE_S))


def warm_map_caches() -> None:
    """Build this process's map caches now (see :meth:`MapJSON.warm`); needs an app context."""
    basemap = current_app.config["SETTINGS"].basemap
    _mapjson().warm(coords="gcj02" if basemap == "gaode" else "wgs84")


def _cached_json(answer: Answer) -> Response:
    """A cached JSON answer: 304 when the client holds it, gzip when the client takes it."""
    return _tagged(answer.etag, answer.body, answer.gzipped, "application/json")


def _tagged(etag: str, body: bytes, gzipped: Callable[[], bytes], mimetype: str) -> Response:
    """An answer with a weak entity tag: 304 when the client holds it, gzip when taken."""
    headers = {"Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304, headers=headers)
    else:
        if len(body) >= GZIP_MIN_BYTES and "gzip" in request.accept_encodings:
            body = gzipped()
            headers["Content-Encoding"] = "gzip"
        response = Response(body, mimetype=mimetype, headers=headers)
    response.set_etag(etag, weak=True)
    return response


@bp.get("/households")
def households():
    """Households of one building with their current status (personal data: login needed;
    a reader sees only the buildings of their own area)."""
    check("personal.read")
    building = request.args.get("building")
    if not building:
        raise ValidationError.for_request("building", "required")
    rows = building_households(current_app.extensions["store"], building, reader_area())
    return jsonify(building=building, households=rows)


@bp.get("/history")
def history():
    """The span of the change log (``first``, ``last``: UTC times; ``seq``) that the map's
    history slider moves over; any moment in it is an ``at=`` of the map's answers."""
    return jsonify(_view().history_span())


def measure_options() -> dict:
    """The request's measure, statuses, class method and count, grid level or parent and
    ``at``, checked, as keyword arguments of :func:`level_measure` and its users."""
    from mapserver.status.measures import MAX_CLASSES, MEASURES, METHODS

    args = request.args
    chosen = args.get("measure") or "households"
    method = args.get("method") or "quantile"
    if chosen not in MEASURES:
        raise ValidationError.for_request(
            "measure", f"'{chosen}' is not one of {', '.join(MEASURES)}"
        )
    if method not in METHODS:
        raise ValidationError.for_request(
            "method", f"'{method}' is not one of {', '.join(METHODS)}"
        )
    statuses = [s for raw in args.getlist("status") for s in raw.split(",") if s]
    fixed = [
        params.number(b, "bounds", low=0, high=1e9)
        for b in (args.get("bounds") or "").split(",")
        if b.strip()
    ]
    known = _view().scheme.code_names
    unknown = [s for s in statuses if s not in known]
    if unknown:
        raise ValidationError.for_request(
            "status", f"{', '.join(unknown)} is not one of {', '.join(known)}"
        )
    level = args.get("level") or None
    if level is not None and level not in _view().levels():
        raise ValidationError.for_request(
            "level", f"'{level}' is not one of {', '.join(_view().levels())}"
        )
    parent = args.get("parent") or None
    if parent is not None and parent not in _view().layers().grids.index:
        raise NotFoundError(f"grid '{parent}' not found")
    return {
        "level": level,
        "parent_id": parent,
        "measure": chosen,
        "statuses": statuses or None,
        "method": method,
        "classes": params.integer(
            args.get("classes"), "classes", low=1, high=MAX_CLASSES, default=5
        ),
        "fixed": fixed,
        "at": _at(),
    }


@bp.get("/measure")
def measure():
    """A level's grids (or a grid's children) by a measure of chosen statuses in graduated
    classes, with the legend and the ranking (``at=`` as for ``/api/summary``); with
    ``labels=1`` where each grid's label goes."""
    from mapserver.services.measures import level_measure

    labels = params.flag(request.args.get("labels"))
    found = level_measure(
        _view(), **measure_options(), area=reader_area(), max_age_s=MAP_MAX_AGE_S, labels=labels
    )
    return jsonify(found)


@bp.get("/recent")
def recent():
    """The grids whose status changed in the ``hours`` (0.25 to 168, default 1) before now,
    or before ``at``: the map outlines them."""
    hours = params.number(request.args.get("hours"), "hours", low=0.25, high=168, default=1)
    upto = _at()
    moment = params.moment(request.args.get("at"), "at")
    end = datetime.fromisoformat(moment) if moment else datetime.now(UTC)
    since = _view().seq_at((end - timedelta(hours=hours)).isoformat(timespec="milliseconds"))
    found = _view().recently_changed(since, upto)
    found["hours"] = hours
    return jsonify(found)


@bp.get("/summary")
def summary():
    """Counts per status code for one grid (with its subtree) or the whole area; outside
    the reader's area small counts are suppressed."""
    grid_id = request.args.get("grid") or None
    found = _view().summary(grid_id=grid_id, max_age_s=MAP_MAX_AGE_S, at=_at())
    scope = reader_area()
    if scope is not None and (grid_id is None or grid_id not in scope):
        found = access.public_status(found)
    return jsonify(found)


@bp.get("/status/grids")
def status_grids():
    """Colour class and counts of every grid of ``level`` (every grid when absent; only
    those meeting ``bbox`` when given), without geometry; with ``since``, only the grids
    whose counts moved after it. Outside the
    reader's area small counts are suppressed."""
    return _status_table("grid", level=request.args.get("level") or None, bbox=_bbox())


@bp.get("/status/buildings")
@require("personal.read")
def status_buildings():
    """Colour class and counts of every building under ``grid`` (only the reader's area),
    without geometry; ``since`` as for ``/api/status/grids``."""
    grid_id = request.args.get("grid") or None
    scope = reader_area()
    if scope is not None and grid_id is None:
        abort(403, description="name a grid of your area")
    if grid_id is None:
        raise ValidationError.for_request("grid", "required")
    if scope is not None:
        check_grid(grid_id)
    return _status_table("building", grid_id=grid_id)


def _status_table(kind: str, **where) -> Response:
    """A compact status table, cached when the reader sees everything, else cut to their area."""
    since = request.args.get("since")
    query = dict(
        since=None if since in (None, "") else params.integer(since, "since", low=0, high=MAX_SEQ),
        rule=_rule(),
        **where,
    )
    if kind == "grid":
        query["at"] = _at()
        if query["at"] is not None and query["since"] is not None:
            raise ValidationError.for_request("at", "a table as of a past moment has no since")
    scope = reader_area()
    if scope is None:
        return _cached_json(_mapjson().status_table(kind, **query))
    seq, rows = leveltable.status_rows(_view(), kind, max_age_s=MAP_MAX_AGE_S, **query)
    if kind == "grid":
        rows = {i: (s if i in scope else access.public_status(s)) for i, s in rows.items()}
    codes = list(_view().scheme.code_names)
    level = where.get("level")
    return jsonify(leveltable.compact(seq, kind, rows, codes, level=level, since=query["since"]))


@bp.get("/tiles/<name>/<int:z>/<int:x>/<int:y>.pbf")
def vector_tile(name: str, z: int, x: int, y: int):
    """One map layer (grids of ``level``, buildings, roads, checkpoints) as a Mapbox
    Vector Tile without status; the map colours it from ``/api/status/...``. Cached per
    data version: 304 while the client holds it."""
    if name not in TILE_LAYERS:
        abort(404, description=f"no tile layer '{name}'")
    if name == "buildings":
        check("personal.read")
    try:
        tile = Tile(z, x, y)
    except ValueError as error:
        raise ValidationError.for_request("tile", str(error)) from None
    level = request.args.get("level") or None
    etag, data = _tiles().tile(name, tile, level=level, coords=_coords())
    return _tagged(etag, data, lambda: gzip.compress(data, compresslevel=5), MVT_TYPE)


def _tiles() -> TileCache:
    """The process's tile cache, made on first use."""
    return _shared("tiles", lambda: TileCache(current_app.extensions["store"]))


@bp.get("/changes")
def changes():
    """Colours and counts of every building and grid changed after ``since``."""
    since = params.integer(request.args.get("since"), "since", low=0, high=MAX_SEQ, default=0)
    scope = reader_area()
    found = _view().changes(
        since, rule=_rule(), max_age_s=MAP_MAX_AGE_S, with_grids=scope is not None
    )
    if scope is not None:
        found = access.scope_changes(found, found.pop("building_grids", {}), scope)
    return jsonify(found)


@bp.get("/stream")
def stream():
    """Server-sent events: a ``change`` event carrying the coalesced delta each time the
    change log moves past ``since`` (at most one a second), ``delivery`` on a stop mark,
    ``layers`` when grids or buildings were redrawn (a published micro-grid plan).

    One follower thread per process reads the change log (see
    :mod:`mapserver.services.livefeed`), so a change written through any server
    process reaches every open map, and the delta is computed once for all streams.
    """
    feed = _feed()
    rule = _rule()
    if rule == _view().colour_rule:
        rule = None  # the feed's deltas are in the server's rule
    # the feed's deltas show everything: a reader limited to an area (or another colour
    # rule) is told only the new seq and pulls /api/changes, which is cut to the area
    shared = rule is None and reader_area() is None
    last = request.headers.get("Last-Event-ID") or request.args.get("since") or "0"
    try:
        last_seq = int(last)
    except ValueError:
        last_seq = 0

    def events():
        nonlocal last_seq
        started = time.monotonic()
        try:
            tick = feed.current()
        except OperationalError:
            return  # database gone or unreachable: the browser reconnects by itself
        hello = {"seq": tick.seq, "version": tick.version}
        yield f"retry: 1000\nevent: hello\ndata: {json.dumps(hello)}\n\n"
        last_stop = tick.stop_seq
        last_version = tick.version
        if last_seq < tick.seq:  # the map missed changes: it pulls them itself
            behind = {"seq": tick.seq, "since": last_seq}
            data = feed.event_data(tick, last_seq) if shared else json.dumps(behind)
            yield f"id: {tick.seq}\nevent: change\ndata: {data}\n\n"
            last_seq = tick.seq
        while time.monotonic() - started < SSE_MAX_SECONDS:
            newer = feed.wait(tick, timeout=15)
            if newer is tick:
                # a ping, not a comment: the map sees it and knows its data is current
                yield f"event: ping\ndata: {json.dumps({'seq': tick.seq})}\n\n"
                continue
            tick = newer
            if tick.version != last_version:  # grids redrawn (a published plan): maps reload
                yield f"event: layers\ndata: {json.dumps({'version': tick.version})}\n\n"
                last_version = tick.version
            if tick.stop_seq > last_stop:
                yield f"event: delivery\ndata: {json.dumps({'stop_seq': tick.stop_seq})}\n\n"
                last_stop = tick.stop_seq
            if tick.seq > last_seq:
                if shared:
                    data = feed.event_data(tick, last_seq)
                else:
                    data = json.dumps({"seq": tick.seq, "since": last_seq})
                yield f"id: {tick.seq}\nevent: change\ndata: {data}\n\n"
                last_seq = tick.seq

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(stream_with_context(events()), mimetype="text/event-stream", headers=headers)


def _feed() -> LiveFeed:
    """The process's live feed (one change-log follower for every stream), made on first use."""
    interval = current_app.config["SETTINGS"].poll_interval_s
    return _shared("livefeed", lambda: LiveFeed(_view(), poll_s=interval))


@bp.get("/search")
def search():
    """Grids and buildings whose name or id contains ``q`` (buildings of the reader's area)."""
    user = current_user()
    personal = user is not None and access.can(user, "personal.read")
    hits = map_search.search(_view(), request.args.get("q", ""), personal=personal)
    scope = reader_area()
    if scope is not None:  # persons in charge and buildings of the reader's own area only
        hits = [
            h
            for h in hits
            if (h["kind"] == "grid" and h["match"] != "person") or h.get("grid_id") in scope
        ]
    return jsonify(results=hits)


@bp.get("/roads")
def roads():
    """Road edges (own base layer) as GeoJSON, optionally in a bbox."""
    return _cached_json(_mapjson().layer("road_edges", bbox=_bbox(), coords=_coords()))


@bp.get("/checkpoints")
def checkpoints():
    """Checkpoints (道口) as GeoJSON."""
    return _cached_json(_mapjson().layer("checkpoints", bbox=_bbox(), coords=_coords()))


@bp.get("/jobs/<job_id>")
def job(job_id: str):
    """State, progress (0..1) and result of a long-running job."""
    found = current_app.extensions["jobs"].get(job_id)
    key = (found.get("result") or {}).get("error_key")
    if found["state"] == "failed" and key in (OVER_TIME, CRASHED):  # said in the user's words
        values = {k: v for k, v in found["result"].items() if k != "error_key"}
        found["error"] = i18n.translate(key, g.lang).format(**values)
    return jsonify(found)


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 description of this API."""
    return jsonify(openapi_document())


@bp.get("/geometry/<kind>/<entity_id>")
def geometry(kind: str, entity_id: str):
    """One grid's or building's geometry (for fitting the map to a search hit)."""
    view = _view()
    if kind == "grid":
        grids = view.layers().grids
        if entity_id not in grids.index:
            raise NotFoundError(f"grid '{entity_id}' not found")
        return jsonify(geometry_json(grids.at[entity_id, "geometry"], coords=_coords()))
    found = view.building(entity_id) if kind == "building" else None
    if found is None:
        raise NotFoundError(f"{kind} '{entity_id}' not found")
    check("personal.read")
    if not access.in_area(found["grid_id"], reader_area()):
        abort(403, description=f"building '{entity_id}' is outside your area")
    return jsonify(geometry_json(found["geometry"], coords=_coords()))
