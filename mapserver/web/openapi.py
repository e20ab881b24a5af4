"""The OpenAPI 3 description of the JSON API."""

from __future__ import annotations

from mapserver import __version__

_BBOX = {
    "name": "bbox",
    "in": "query",
    "description": "minlon,minlat,maxlon,maxlat in EPSG:4326",
    "schema": {"type": "string", "example": "121.19,31.09,121.22,31.11"},
}
_AT = {
    "name": "at",
    "in": "query",
    "description": "a past moment, ISO 8601 (China time when it has no offset): status as of then",
    "schema": {"type": "string", "format": "date-time", "example": "2026-12-02T08:00"},
}
_COORDS = {
    "name": "coords",
    "in": "query",
    "description": "wgs84 (default) or gcj02 to match Gaode/Tencent basemaps",
    "schema": {"type": "string", "enum": ["wgs84", "gcj02"]},
}
_GEOJSON = {
    "description": "GeoJSON FeatureCollection",
    "content": {"application/geo+json": {"schema": {"type": "object"}}},
}
_ERROR = {
    "description": "Rejected; nothing written. `issues` names file, row, field and reason.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _path(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _post(summary: str, params: list[dict]) -> dict:
    ok = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    return {
        "post": {
            "summary": summary,
            "parameters": params,
            "security": [{"bearer": []}],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {"200": ok, "400": _ERROR},
        }
    }


def _get(summary: str, params: list[dict], response: dict) -> dict:
    return {"get": {"summary": summary, "parameters": params, "responses": {"200": response}}}


def _upload(summary: str, **fields: dict) -> dict:
    """A POST of one uploaded ``file`` (multipart form) with optional text ``fields``."""
    ok = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    properties = {"file": {"type": "string", "format": "binary"}, **fields}
    form = {"schema": {"type": "object", "properties": properties}}
    return {
        "post": {
            "summary": summary,
            "security": [{"bearer": []}],
            "requestBody": {"content": {"multipart/form-data": form}},
            "responses": {"200": ok, "400": _ERROR},
        }
    }


def _needs(item: dict, *codes: int) -> dict:
    """``item`` with error answers ``codes`` documented on its GET (a missing parameter: 400)."""
    item["get"]["responses"].update({str(code): _ERROR for code in codes})
    return item


_TEXT = {"type": "string"}
_AREA_PARAMS = [
    {
        "name": "grid",
        "in": "query",
        "description": "grid id (repeatable)",
        "schema": {"type": "string"},
    },
    {"name": "tolerance_m", "in": "query", "schema": {"type": "number", "default": 30}},
    {"name": "max_outward_m", "in": "query", "schema": {"type": "number", "default": 0}},
    {"name": "household_cost", "in": "query", "schema": {"type": "number", "default": 0}},
    {"name": "keep_existing", "in": "query", "schema": {"type": "boolean", "default": True}},
]
_AREA_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "grids": {"type": "array", "items": {"type": "string"}},
                    "polygon": {"type": "object", "description": "GeoJSON polygon, EPSG:4326"},
                    "tolerance_m": {"type": "number"},
                    "max_outward_m": {"type": "number"},
                    "household_cost": {"type": "number"},
                    "keep_existing": {"type": "boolean"},
                },
            }
        }
    }
}


def _area_op(summary: str, ok: dict) -> dict:
    responses = {"200": ok, "400": _ERROR}
    return {
        "get": {"summary": summary, "parameters": _AREA_PARAMS, "responses": responses},
        "post": {"summary": summary, "requestBody": _AREA_BODY, "responses": responses},
    }


def _query(name: str, desc: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "description": desc, "schema": schema}


def _event_paths(json_ok: dict) -> dict:
    """The event layer: upload a case list, its points, counts per grid and day."""
    form = {
        "file": {"type": "string", "format": "binary", "description": "CSV/XLSX with lon/lat"},
        "crs": {"type": "string", "description": "wgs84 (default), gcj02, bd09 or EPSG code"},
        "max_distance_m": {"type": "number", "default": 50, "description": "nearest building, m"},
        "replace": {"type": "boolean", "default": False, "description": "replace the layer"},
    }
    return {
        "/api/events": {
            "get": {
                "summary": "Event points as GeoJSON (login or token; workers see their grid)",
                "security": [{"bearer": []}],
                "parameters": [
                    _COORDS,
                    _query("grid", "only this grid's subtree", {"type": "string"}),
                    _query("from", "first day, YYYY-MM-DD", {"type": "string", "format": "date"}),
                    _query("to", "last day, YYYY-MM-DD", {"type": "string", "format": "date"}),
                ],
                "responses": {"200": _GEOJSON, "400": _ERROR, "401": _ERROR},
            }
        },
        "/api/events/summary": _get(
            "Event counts per grid (subtree totals), per 1,000 households, per day",
            [
                _query("level", "grid level", {"type": "string"}),
                _query("parent", "children of this grid", {"type": "string"}),
                _query("by", "day: add counts per day", {"type": "string", "enum": ["day"]}),
            ],
            json_ok,
        ),
        "/api/events/upload": {
            "post": {
                "summary": "Import a case/report list as the event layer (admin); merge by id",
                "security": [{"bearer": []}],
                "requestBody": {
                    "content": {
                        "multipart/form-data": {
                            "schema": {"type": "object", "required": ["file"], "properties": form}
                        }
                    }
                },
                "responses": {"200": json_ok, "400": _ERROR},
            }
        },
    }


def openapi_document() -> dict:
    """Return the OpenAPI document as a dict."""
    json_ok = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    q = lambda name, desc, typ="string": {  # noqa: E731
        "name": name,
        "in": "query",
        "description": desc,
        "schema": {"type": typ},
    }
    measure_params = [
        q("level", "grid level"),
        q("parent", "parent grid id (its children instead of a level)"),
        q("measure", "households, share, persons or person_share"),
        q("status", "status codes, comma-separated (default: the most severe)"),
        q("method", "quantile, natural, equal or fixed"),
        q("classes", "1 to 5", "integer"),
        q("bounds", "upper bounds for method=fixed, comma-separated"),
        _AT,
    ]
    status_row = {
        "type": "object",
        "required": ["entity_id", "status"],
        "properties": {
            "entity_kind": {"type": "string", "enum": ["household", "building"]},
            "entity_id": {"type": "string"},
            "status": {"type": "string", "description": "a code of the active scheme"},
            "persons": {"type": "integer", "minimum": 0},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "mapserver API",
            "version": __version__,
            "description": "Grids, buildings and live status for community grid management.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "StatusRow": status_row,
                "Error": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "issues": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "file": {"type": "string"},
                                    "row": {"type": "integer", "nullable": True},
                                    "field": {"type": "string", "nullable": True},
                                    "reason": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
        "paths": {
            "/api/openapi.json": _get("This OpenAPI description", [], json_ok),
            "/api/config": _get("Scheme, levels and strings for pages", [], json_ok),
            "/api/grids": _get(
                "Grids with live status",
                [q("level", "grid level"), q("parent", "parent grid id"), _BBOX, _COORDS, _AT],
                _GEOJSON,
            ),
            "/api/buildings": _get(
                "Buildings with live status",
                [q("grid", "grid id (subtree)"), _BBOX, _COORDS],
                _GEOJSON,
            ),
            "/api/households": _needs(
                _get(
                    "Households of a building with status (login needed)",
                    [{**q("building", "building id"), "required": True}],
                    json_ok,
                ),
                400,
                401,
                403,
            ),
            "/api/history": _get("When the change log begins and ends (for at=)", [], json_ok),
            "/api/measure": _get(
                "A level's grids by a measure of chosen statuses, in graduated classes",
                [*measure_params, q("labels", "1: where each grid's label goes, and its name")],
                json_ok,
            ),
            "/api/summary": _get("Counts per status", [q("grid", "grid id"), _AT], json_ok),
            "/api/table": _get(
                "The panel's table: the grids of a level with the measure and counts per status",
                measure_params,
                json_ok,
            ),
            "/api/table.xlsx": _get(
                "The panel's table as an XLSX workbook",
                measure_params,
                {"200": {"description": "XLSX"}},
            ),
            "/api/print": _get(
                "The wall map of a level as PDF or PNG (legend, scale bar, north arrow)",
                [
                    *measure_params,
                    q("format", "pdf (default) or png"),
                    q("paper", "A4, A3 (default), A2, A1 or A0"),
                ],
                {"200": {"description": "PDF or PNG"}},
            ),
            "/api/export/map.html": _get(
                "The map as one self-contained HTML file that opens offline",
                measure_params,
                {"200": {"description": "HTML"}},
            ),
            "/api/recent": _get(
                "The grids whose status changed in the last hours (before at=)",
                [q("hours", "0.25 to 168 (default 1)", "number"), _AT],
                json_ok,
            ),
            "/api/totals": _get(
                "Totals per status, change since midnight and in the last hour, per 三区 class, "
                "and counts over the last day",
                [],
                json_ok,
            ),
            "/api/board": _needs(
                _get(
                    "The board sheet of a grid: buildings, households and persons per status",
                    [{**q("grid", "grid id"), "required": True}],
                    json_ok,
                ),
                400,
                401,
                403,
            ),
            "/api/status/grids": _get(
                "Colour class and counts of every grid of a level, without geometry",
                [
                    q("level", "grid level"),
                    q("bbox", "minx,miny,maxx,maxy (degrees): only grids meeting it"),
                    q("since", "change-log sequence", "integer"),
                    q("rule", "worst or share"),
                    _AT,
                ],
                json_ok,
            ),
            "/api/status/buildings": _needs(
                _get(
                    "Colour class and counts of every building under a grid, without geometry",
                    [
                        {**q("grid", "grid id"), "required": True},
                        q("since", "change-log sequence", "integer"),
                        q("rule", "worst or share"),
                    ],
                    json_ok,
                ),
                400,
                401,
                403,
            ),
            "/api/tiles/{name}/{z}/{x}/{y}.pbf": {
                "get": {
                    "summary": "A map layer as a Mapbox Vector Tile (no status)",
                    "parameters": [
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {
                                "type": "string",
                                "enum": ["grids", "buildings", "roads", "checkpoints"],
                            },
                        },
                        *(
                            {
                                "name": n,
                                "in": "path",
                                "required": True,
                                "schema": {"type": "integer", "minimum": 0},
                            }
                            for n in ("z", "x", "y")
                        ),
                        q("level", "grid level"),
                        q("coords", "wgs84 or gcj02"),
                    ],
                    "responses": {
                        "200": {"description": "application/vnd.mapbox-vector-tile"},
                        "304": {"description": "not modified"},
                        "400": _ERROR,
                    },
                }
            },
            "/api/changes": _get(
                "Colours of everything changed after a sequence number",
                [q("since", "change-log sequence", "integer")],
                json_ok,
            ),
            "/api/stream": _get(
                "Server-sent events, one per change-log advance",
                [q("since", "change-log sequence", "integer")],
                {"description": "text/event-stream"},
            ),
            "/api/search": _get("Search grids and buildings", [q("q", "text")], json_ok),
            "/api/jobs/{job_id}": {
                "get": {
                    "summary": "State, progress and result of a long-running job",
                    "parameters": [
                        {
                            "name": "job_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": json_ok, "404": _ERROR},
                }
            },
            "/api/entrances": _area_op(
                "Entrances of an area (grids or polygon) and whether each is covered", json_ok
            ),
            "/api/cordon": _area_op(
                "Fewest staffed checkpoints sealing an area; rota and load per exit", json_ok
            ),
            "/api/cordon/tradeoff": _area_op(
                "Staffed checkpoints against extra households as the cordon moves out", json_ok
            ),
            "/api/delivery/plans": {
                "get": {"summary": "Saved delivery plans", "responses": {"200": json_ok}},
                "post": {
                    "summary": "Plan a delivery run (job): run, statuses, vans, tricycles, "
                    "time_limit_s, solver",
                    "security": [{"bearer": []}],
                    "responses": {"202": json_ok, "400": _ERROR},
                },
            },
            "/api/delivery/plans/{plan_id}": {
                **_get(
                    "A delivery plan: routes, stops with ETA, drops, state",
                    [_path("plan_id")],
                    json_ok,
                ),
                "delete": {
                    "summary": "Delete a plan with its stop marks and driver assignments",
                    "security": [{"bearer": []}],
                    "parameters": [_path("plan_id")],
                    "responses": {"200": json_ok, "404": _ERROR},
                },
            },
            "/api/delivery/plans/{plan_id}/archive": _post(
                "Put a plan away ({archived: true}) or take it back (false)", [_path("plan_id")]
            ),
            "/api/delivery/plans/{plan_id}/name": _post(
                "Name a plan ({name}: 1 to 60 characters)", [_path("plan_id")]
            ),
            "/api/delivery/plans/{plan_id}/routes/{route_id}": _get(
                "One route for the driver", [_path("plan_id"), _path("route_id")], json_ok
            ),
            "/api/delivery/plans/{plan_id}/routes/{route_id}/stops/{stop_id}": {
                "post": {
                    "summary": "Mark a stop delivered, failed (with reason) or pending",
                    "security": [{"bearer": []}],
                    "parameters": [_path("plan_id"), _path("route_id"), _path("stop_id")],
                    "responses": {"200": json_ok, "400": _ERROR, "404": _ERROR},
                }
            },
            "/api/delivery/plans/{plan_id}/replan": {
                "post": {
                    "summary": "Re-plan what is left from current positions (job); now=HH:MM",
                    "security": [{"bearer": []}],
                    "parameters": [_path("plan_id")],
                    "responses": {"202": json_ok, "404": _ERROR},
                }
            },
            "/api/delivery/progress": _get(
                "Stops of the newest delivery plan with their state", [], _GEOJSON
            ),
            "/api/patrol/plans": {
                "post": {
                    "summary": "Plan a patrol (job): kind, grids, teams, shift_h",
                    "security": [{"bearer": []}],
                    "responses": {"202": json_ok, "400": _ERROR},
                }
            },
            "/api/patrol/plans/{plan_id}": _get(
                "A patrol plan: teams, lengths, walk as GeoJSON", [_path("plan_id")], json_ok
            ),
            "/api/templates/{layer}.csv": _get(
                "A blank table to fill in (status, households, buildings, events): Chinese "
                "headings the import reads and one example row",
                [_path("layer")],
                {"description": "CSV (UTF-8 with a byte-order mark)"},
            ),
            "/api/checkins": _get(
                "Per checkpoint, the patrols' passes of the last hours over every plan: "
                "passes, last pass (when, by whom, plan), observed interval",
                [_query("hours", "0.25 to 168 (default 24)", {"type": "number"})],
                json_ok,
            ),
            "/api/patrol/plans/{plan_id}/checkins": _post(
                "A patrol passed a checkpoint of its tour ({checkpoint}); who and when are noted",
                [_path("plan_id")],
            ),
            "/api/planner/{parent_id}": _get(
                "A parent grid's buildings, cells, target and versions",
                [_path("parent_id")],
                json_ok,
            ),
            "/api/planner/{parent_id}/evaluate": _post(
                "Boundaries, totals and issues of an assignment", [_path("parent_id")]
            ),
            "/api/planner/{parent_id}/edit": _post(
                "Hand edit: move, split, merge or draw", [_path("parent_id")]
            ),
            "/api/planner/{parent_id}/people": _post(
                "A person per cell and 3–5 households per volunteer", [_path("parent_id")]
            ),
            "/api/planner/{parent_id}/propose": _post(
                "Automatic balanced proposal (job)", [_path("parent_id")]
            ),
            "/api/planner/{parent_id}/versions": {
                **_get("Saved versions, newest first", [_path("parent_id")], json_ok),
                **_post(
                    "Save a draft based on base_version (409 on conflict)", [_path("parent_id")]
                ),
            },
            "/api/planner/versions/{version_id}/publish": _post(
                "Publish a version: the command map follows", [_path("version_id")]
            ),
            "/api/planner/{parent_id}/rollback": _post(
                "Publish an earlier version again", [_path("parent_id")]
            ),
            "/api/planner/compare": _needs(
                _get(
                    "Buildings and households moved between versions a and b",
                    [
                        {
                            "name": "a",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "integer"},
                        },
                        {
                            "name": "b",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "integer"},
                        },
                    ],
                    json_ok,
                ),
                400,
            ),
            "/api/planner/versions/{version_id}/export": _get(
                "A version as GeoJSON or GeoPackage (format=gpkg)", [_path("version_id")], _GEOJSON
            ),
            "/api/roads/closures": _post("Close roads touched by closure features (GeoJSON)", []),
            "/api/roads": _get("Road edges", [_BBOX, _COORDS], _GEOJSON),
            "/api/geometry/{kind}/{entity_id}": _needs(
                _get(
                    "One grid's or building's geometry (kind: grid or building)",
                    [_path("kind"), _path("entity_id"), _COORDS],
                    json_ok,
                ),
                404,
            ),
            "/api/checkpoints": _get("Checkpoints", [_BBOX, _COORDS], _GEOJSON),
            "/api/status": {
                "post": {
                    "summary": "Write one status row or a batch; all or nothing",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/StatusRow"},
                                        {
                                            "type": "object",
                                            "properties": {
                                                "rows": {
                                                    "type": "array",
                                                    "items": {
                                                        "$ref": "#/components/schemas/StatusRow"
                                                    },
                                                }
                                            },
                                        },
                                    ]
                                }
                            }
                        }
                    },
                    "responses": {"200": json_ok, "400": _ERROR},
                }
            },
            "/api/status/upload": _upload("Upload a CSV/XLSX status table; all or nothing"),
            "/api/import": {
                "post": {
                    "summary": "Import layer files (admin): merge by id or replace; dry_run checks",
                    "description": (
                        "Multipart: files under any keys K; per file layer_K, map_K (JSON "
                        '{"columns": {field: column}, "constants": {field: value}}), level_K, '
                        "mapping_K (a saved mapping); crs, encoding, repair, "
                        "parent_by (code|containment), replace, dry_run, save_mapping. "
                        "Answers imported: rows per layer, plan (added, updated, deleted, "
                        "deleted_ids), notes, mode, dry_run."
                    ),
                    "security": [{"bearer": []}],
                    "responses": {"200": json_ok, "400": _ERROR},
                }
            },
            "/api/import/preview": {
                "post": {
                    "summary": "A file's columns, first rows, guessed layer, suggested mapping",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "file": {"type": "string", "format": "binary"},
                                        "layer": _TEXT,
                                        "encoding": _TEXT,
                                    },
                                }
                            }
                        }
                    },
                    "responses": {"200": json_ok, "400": _ERROR},
                }
            },
            "/api/import/mappings": _get("Saved column mappings (admin)", [], json_ok),
            "/api/import/log": _get("The latest imports (admin)", [], json_ok),
            **_event_paths(json_ok),
            **_user_paths(json_ok),
        },
    }


def _user_paths(json_ok: dict) -> dict:
    """The user administration and route assignment endpoints (admins, dispatchers)."""
    body = {"content": {"application/json": {"schema": {"type": "object"}}}}
    secured = {"security": [{"bearer": []}]}
    errors = {"400": _ERROR, "401": _ERROR, "403": _ERROR, "404": _ERROR}
    return {
        "/api/users": {
            "get": {
                "summary": "Every user: name, role, grid (admin)",
                **secured,
                "responses": {"200": json_ok, **errors},
            },
            "post": {
                "summary": "Add a user: username, password, role, grid_id (admin)",
                **secured,
                "requestBody": body,
                "responses": {"201": json_ok, "409": _ERROR, **errors},
            },
        },
        "/api/users/{username}": {
            "patch": {
                "summary": "Change a user's role, grid_id or password (admin)",
                **secured,
                "parameters": [_path("username")],
                "requestBody": body,
                "responses": {"200": json_ok, **errors},
            },
            "delete": {
                "summary": "Remove a user and their tokens (admin)",
                **secured,
                "parameters": [_path("username")],
                "responses": {"200": json_ok, **errors},
            },
        },
        "/api/delivery/plans/{plan_id}/routes/{route_id}/driver": {
            "post": {
                "summary": "Assign a route to a driver (dispatcher); driver null unassigns",
                **secured,
                "parameters": [_path("plan_id"), _path("route_id")],
                "requestBody": body,
                "responses": {"200": json_ok, **errors},
            },
        },
    }
