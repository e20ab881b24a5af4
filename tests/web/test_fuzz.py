"""Property-based fuzz over our OpenAPI description: hostile values never give a 500.

Every documented operation is called with an admin token and values drawn by
Hypothesis from the documented parameters and body fields, plus the fields the
views read that the description leaves open: huge, negative, non-finite and
non-numeric numbers, wrong JSON types, odd text, small random files. Bounded:
derandomized (fixed seed), few examples per operation, no deadline per call.
"""

from __future__ import annotations

import io
import json
import math
import shutil
import zipfile
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapserver.web.openapi import openapi_document

# Streams run for minutes by design; they are not request/answer operations.
SKIPPED = {("get", "/api/stream")}
EXAMPLES = 6
SLOW = {"/api/cordon", "/api/cordon/tradeoff", "/api/entrances", "/api/planner/{parent_id}/propose"}
SLOW_EXAMPLES = 3

# Fields the views read that the description does not list (or lists as a bare object).
EXTRA_BODY = {
    "/api/delivery/plans": [
        "run",
        "rule",
        "statuses",
        "special_households",
        "boxes_per_household",
        "vans",
        "tricycles",
        "trips",
        "depot_node",
        "time_limit_s",
        "solver",
        "name",
        "orders",
    ],
    "/api/patrol/plans": ["kind", "grids", "teams", "shift_h"],
    "/api/planner/{parent_id}/evaluate": ["assignment", "target"],
    "/api/planner/{parent_id}/edit": [
        "op",
        "assignment",
        "buildings",
        "to",
        "cell",
        "keep",
        "remove",
        "polygon",
    ],
    "/api/planner/{parent_id}/people": ["assignment", "people", "volunteers", "per_volunteer"],
    "/api/planner/{parent_id}/propose": ["target", "keep_current"],
    "/api/planner/{parent_id}/versions": [
        "base_version",
        "assignment",
        "names",
        "persons",
        "label",
    ],
    "/api/planner/{parent_id}/rollback": ["version"],
    "/api/roads/closures": ["type", "features"],
    "/api/delivery/plans/{plan_id}/replan": ["now"],
    "/api/delivery/plans/{plan_id}/routes/{route_id}/stops/{stop_id}": ["state", "reason"],
    "/api/status": ["entity_kind", "entity_id", "status", "persons", "rows"],
}
# Plausible values per field, drawn half the time, so that hostile values in the other
# fields get past the first checks and reach the deeper parsing.
GOOD = {
    "status": ["red", "green", "yellow"],
    "entity_kind": ["household", "building"],
    "kind": ["streets", "checkpoints"],
    "op": ["move", "split", "merge", "draw"],
    "state": ["delivered", "failed", "pending"],
    "run": ["morning", "afternoon"],
    "solver": ["pyvrp", "ortools"],
    "rule": ["sealed_households", "statuses"],
    "coords": ["wgs84", "gcj02"],
    "by": ["day", "grid"],
    "level": ["small", "micro", "community"],
    "format": ["geojson", "gpkg"],
    "persons": [1, 3],
    "assignment": [{}],
    "per_volunteer": [[3, 5]],
    "teams": [1, 2],
    "vans": [1],
    "time_limit_s": [0.5],
    "version": [1],
    "version_id": ["1"],
    "a": ["1"],
    "b": ["1"],
    "since": ["0"],
}
EXTRA_QUERY = {"/api/roads/closures": ["buffer_m", "reopen"]}
FORM_FIELDS = [
    "layer",
    "encoding",
    "crs",
    "max_distance_m",
    "replace",
    "dry_run",
    "map",
    "level",
    "parent_by",
    "repair",
]

HOSTILE = [
    "1e308",
    "-1e308",
    "1e23",
    "nan",
    "inf",
    "-inf",
    "-1",
    "0",
    "1.5",
    "9" * 30,
    "",
    "abc",
    "0x10",
    "1e-320",
    "[0,0]",
    "true",
    "null",
    "SQ-1",
    "red",
    "12:61",
    "08:30",
    "' OR 1=1 --",
    "../../etc/passwd",
    "/vsicurl/http://127.0.0.1:9/x",
]
HOSTILE_JSON = [
    1e308,
    -1e308,
    2**63,
    2**80,
    -1,
    0,
    0.5,
    math.nan,
    math.inf,
    "1e308",
    [0, 0],
    {},
    "",
]
HOSTILE_PATH = ["9" * 30, str(2**63), "-1", "0", "..", "%00", " ", "1e308"]
ROW_FIELDS = ("entity_id", "entity_kind", "status", "persons")
scalars = st.one_of(
    st.sampled_from(HOSTILE),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.booleans(),
    st.none(),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
query_values = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12), st.integers().map(str))

FILE_BODIES = [
    b"household_id,status,persons\nH-1,red,1e308\n",
    b"event_id,lon,lat\nE1,nan,inf\n",
    b'{"type": "FeatureCollection", "features": [{"type": "Feature"}]}',
    b"<OGRVRTDataSource/>",
    b"SQLite format 3\x00",
    b"PK\x03\x04",
    b'<?xml version="1.0"?><kml><Placemark/></kml>',
]


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.shp", b"\x00\x00\x27\x0a" + b"\x00" * 96)
        archive.writestr("a.shx", b"\x00\x00\x27\x0a" + b"\x00" * 20 + b"\x7f\xff\xff\xff")
    return buffer.getvalue()


files = st.tuples(
    st.sampled_from(
        [".csv", ".xlsx", ".geojson", ".json", ".gpkg", ".zip", ".kml", ".shp", ".txt", ""]
    ),
    st.one_of(st.sampled_from([*FILE_BODIES, _zip_bytes()]), st.binary(max_size=120)),
)


def _operations() -> list[tuple[str, str, dict]]:
    document = openapi_document()
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if (method, path) not in SKIPPED:
                found.append((method, path, operation))
    return found


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory, demo_db_template):
    """One app over a private demo database for the whole module, with short solves."""
    from mapserver.web import create_app

    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copy(demo_db_template, folder / "demo.sqlite")
    app = create_app(
        {
            "database_url": f"sqlite:///{folder / 'demo.sqlite'}",
            "secret_key": "fuzz",
            "max_job_time_s": 0.5,
            "job_queue": 2,
        }
    )
    app.config["TESTING"] = True
    yield app
    app.extensions["jobs"].shutdown()
    app.extensions["store"].dispose()


@pytest.fixture(scope="module")
def ids(demo_layers) -> dict[str, str]:
    """Real identifiers, so that values reach past the not-found checks."""
    grids = demo_layers["grids"]
    return {
        "small": str(grids[grids["level"] == "small"]["grid_id"].iloc[0]),
        "micro": str(grids[grids["level"] == "micro"]["grid_id"].iloc[0]),
        "building": str(demo_layers["buildings"]["building_id"].iloc[0]),
        "household": str(demo_layers["households"]["household_id"].iloc[0]),
    }


def _plausible(name: str, ids: dict[str, str]) -> list:
    """Values of a field that pass its checks (real ids, known codes, small numbers)."""
    if name in GOOD:
        return GOOD[name]
    if name in ("entity_id",):
        return [ids["household"], ids["building"]]
    if name in ("building", "buildings"):
        return [ids["building"]] if name == "building" else [[ids["building"]]]
    if name in ("grid", "parent", "parent_id", "to", "cell", "keep", "remove"):
        return [ids["small"], ids["micro"]]
    if name == "grids":
        return [[ids["small"]]]
    return []


def _targets(method: str, path: str, operation: dict) -> list[str | None]:
    """What one operation lets a client attack: each parameter, field, file, the body whole."""
    declared = operation.get("parameters", [])
    names = [p["name"] for p in declared] + EXTRA_QUERY.get(path, [])
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    if (method == "post" and "multipart/form-data" in content) or path == "/api/import":
        names += ["file", *FORM_FIELDS]
    elif method == "post":
        fields = sorted({*schema.get("properties", {}), *EXTRA_BODY.get(path, [])})
        names += [*fields, "<body>"]
        if "rows" in fields:
            names += [f"rows.{name}" for name in ROW_FIELDS]
    return [None, *names]


def _request(
    method: str, path: str, operation: dict, ids: dict[str, str], attacked: str | None
) -> st.SearchStrategy:
    """A strategy of (url, keyword arguments for the test client) for one operation.

    Each example picks one parameter or field to attack (or none); every other
    one takes a plausible value or is left out, so the attack reaches the code
    that parses it instead of stopping at a missing id.
    """
    declared = operation.get("parameters", [])
    path_names = [p["name"] for p in declared if p["in"] == "path"]
    query_names = [p["name"] for p in declared if p["in"] == "query"] + EXTRA_QUERY.get(path, [])
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    fields = sorted({*schema.get("properties", {}), *EXTRA_BODY.get(path, [])})
    multipart = (method == "post" and "multipart/form-data" in content) or path == "/api/import"
    hostile_json = st.sampled_from(HOSTILE_JSON) | json_values
    hostile_path = st.sampled_from(HOSTILE_PATH) | query_values

    def pick(draw, name: str, hostile: st.SearchStrategy, attacked: str | None):
        """The value of ``name``: hostile when attacked, else plausible (or None: left out)."""
        if name == attacked:
            return draw(hostile)
        good = _plausible(name, ids)
        return draw(st.sampled_from(good)) if good else None

    @st.composite
    def build(draw):
        url = path
        for name in path_names:
            raw = pick(draw, name, hostile_path, attacked)
            raw = ids["small"] if raw is None else raw
            url = url.replace(f"{{{name}}}", quote(str(raw), safe=""))
        query = {}
        for name in query_names:
            raw = pick(draw, name, query_values, attacked)
            if raw is not None:
                query[name] = str(raw)
        kwargs: dict = {"query_string": query}
        if multipart:
            suffix, data = draw(files) if attacked == "file" else (".csv", FILE_BODIES[0])
            form = {"file": (io.BytesIO(data), f"upload{suffix}")}
            for name in FORM_FIELDS:
                raw = pick(draw, name, query_values, attacked)
                if raw is not None:
                    form[name] = str(raw)
            kwargs.update(data=form, content_type="multipart/form-data")
        elif method == "post":
            body = {}
            for name in fields:
                raw = pick(draw, name, hostile_json, attacked)
                if raw is not None:
                    body[name] = raw
            if (attacked or "").startswith("rows."):
                row = {}
                for name in ROW_FIELDS:
                    raw = pick(
                        draw, name, hostile_json, attacked and attacked.removeprefix("rows.")
                    )
                    if raw is not None:
                        row[name] = raw
                body = {"rows": [row]}
            if attacked == "<body>":
                body = draw(json_values)
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return url, kwargs

    return build()


CASES = [
    (method, path, operation, attacked)
    for method, path, operation in OPERATIONS
    for attacked in _targets(method, path, operation)
]


@pytest.mark.parametrize(
    "method,path,operation,attacked",
    CASES,
    ids=[f"{m.upper()} {p} {a or '-'}" for m, p, _, a in CASES],
)
def test_no_server_errors(fuzz_app, ids, method, path, operation, attacked):
    client = fuzz_app.test_client()
    token = fuzz_app.extensions["store"].create_token("admin")
    headers = {"Authorization": f"Bearer {token}"}

    @settings(
        max_examples=SLOW_EXAMPLES if path in SLOW else EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(_request(method, path, operation, ids, attacked))
    def check(request):
        url, kwargs = request
        response = getattr(client, method)(url, headers=headers, **kwargs)
        assert response.status_code < 500, (method, url, kwargs, response.get_data()[:300])

    check()
