"""Every GET endpoint of the OpenAPI description answers strict JSON (no NaN, no Infinity),
on the demo and on a district made by ``mapserver init --osm`` from a real extract."""

from __future__ import annotations

import json
import math
import re
import sqlite3
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
import pytest

from mapserver.cli import main as cli_main
from mapserver.mvt import decode_tile
from mapserver.services.delivery import DeliveryRequest, DeliveryService
from mapserver.store import open_store
from mapserver.web import create_app
from mapserver.web.jsonout import NonFiniteJSONError, finite_or_null, non_finite_paths

DEMO_PASSWORD = "demo2020"  # the demo admin's password (tests/conftest.py)
FILES = {  # answers that are files, not JSON: how each begins
    "application/pdf": b"%PDF",
    "image/png": b"\x89PNG",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": b"PK",
    "text/html": b"<!DOCTYPE html>",
    "text/csv": "\ufeff".encode(),
}


def _refuse(constant: str) -> None:
    msg = f"{constant} is not JSON"
    raise ValueError(msg)


def strict_loads(text: str):
    """``json.loads`` that refuses NaN, Infinity and -Infinity, as a browser's JSON.parse does."""
    return json.loads(text, parse_constant=_refuse)


def test_strict_loads_refuses_what_python_writes():
    assert strict_loads('{"a": null}') == {"a": None}
    for bad in ('{"name": NaN}', "[Infinity]", "[-Infinity]"):
        with pytest.raises(ValueError, match="is not JSON"):
            strict_loads(bad)


def test_provider_raises_under_test_and_writes_null_in_production(app):
    payload = {"features": [{"properties": {"name": math.nan, "n": 3}}], "max": math.inf}
    assert non_finite_paths(payload) == ["$.features[0].properties.name", "$.max"]
    nulls = {"features": [{"properties": {"name": None, "n": 3}}], "max": None}
    assert finite_or_null(payload) == nulls
    with pytest.raises(NonFiniteJSONError, match=r"features\[0\]\.properties\.name"):
        app.json.dumps(payload)
    app.testing = False
    assert strict_loads(app.json.dumps(payload)) == nulls
    assert strict_loads(app.json.dumps({"n": 1.5})) == {"n": 1.5}


def _login(client) -> None:
    client.get("/login")
    with client.session_transaction() as session:
        csrf = session["csrf"]
    form = {"username": "admin", "password": DEMO_PASSWORD, "csrf": csrf}
    response = client.post("/login", data=form)
    assert response.status_code == 302


def _post_job(client, auth: dict, path: str, body: dict, wait_job) -> dict:
    response = client.post(path, json=body, headers=auth)
    assert response.status_code == 202, response.get_data(as_text=True)
    job_id = strict_loads(response.get_data(as_text=True))["job_id"]
    return {"job_id": job_id, **wait_job(client, job_id)}


def _leaf_parents(grids: pd.DataFrame) -> list[str]:
    """Grids whose children are leaves (planner parents), in file order."""
    leaves = set(grids["grid_id"]) - set(grids["parent_id"].dropna())
    parents = set(grids.loc[grids["grid_id"].isin(leaves), "parent_id"].dropna())
    return [g for g in grids["grid_id"] if g in parents]


def _with_delivery_plan(template: Path, target: Path) -> Path:
    """A copy of ``template`` with one delivery plan for four buildings, solved once."""
    _copy_sqlite(template, target)
    store = open_store(f"sqlite:///{target}")
    grids, buildings = store.read_grids(), store.read_buildings()
    cells = grids.loc[grids["parent_id"] == _leaf_parents(grids)[0], "grid_id"]
    chosen = buildings.loc[buildings["grid_id"].isin(cells), "building_id"].head(4)
    orders = pd.DataFrame({"building_id": chosen.astype(str), "boxes": 2})
    DeliveryService(store).plan(
        DeliveryRequest(vans=1, tricycles=1, time_limit_s=1),
        user="test",
        orders_table=orders,
        orders_file="orders",
    )
    store.dispose()
    return target


def _real_ids(app, client, wait_job) -> dict:
    """Real ids for every path and query parameter: grids, a building, plans, versions, a job."""
    store = app.extensions["store"]
    auth = {"Authorization": f"Bearer {store.create_token('admin')}"}
    grids = store.read_grids()
    buildings = store.read_buildings()
    unnamed = buildings[buildings["name"].isna()]
    building = str((unnamed if len(unnamed) else buildings)["building_id"].iloc[0])
    plans = strict_loads(client.get("/api/delivery/plans").get_data(as_text=True))["plans"]
    delivery = plans[0]["plan_id"]
    plan = strict_loads(client.get(f"/api/delivery/plans/{delivery}").get_data(as_text=True))
    route = plan["plan"]["routes"][0]["route_id"]
    # the first parent grid whose streets can all be patrolled (some real ones cannot yet)
    parents = _leaf_parents(grids)
    for parent in parents[:10]:
        patrol = _post_job(
            client, auth, "/api/patrol/plans", {"kind": "streets", "grids": [parent]}, wait_job
        )
        if patrol["state"] == "done":
            break
    assert patrol["state"] == "done", patrol
    opened = strict_loads(client.get(f"/api/planner/{parent}").get_data(as_text=True))
    versions = []
    for _ in range(2):
        saved = client.post(
            f"/api/planner/{parent}/versions",
            json={"base_version": (versions or [None])[-1], "assignment": opened["assignment"]},
            headers=auth,
        )
        assert saved.status_code == 201, saved.get_data(as_text=True)
        versions.append(saved.get_json()["version"])
    minx, miny, maxx, maxy = grids.loc[grids["grid_id"] == parent, "geometry"].iloc[0].bounds
    return {
        "path": {
            "job_id": patrol["job_id"],
            "parent_id": parent,
            "version_id": versions[0],
            "route_id": route,
            "delivery_plan_id": delivery,
            "patrol_plan_id": patrol["result"]["plan_id"],
        },
        "query": {
            "level": str(grids.loc[grids["grid_id"] == parent, "level"].iloc[0]),
            "parent": parent,
            "grid": parent,
            "building": building,
            "q": building[-4:],
            "since": "0",
            "a": str(versions[0]),
            "b": str(versions[1]),
            "bbox": f"{minx},{miny},{maxx},{maxy}",
            "coords": "gcj02",
        },
        "grid_id": parent,
    }


def _path_values(path: str, ids: dict) -> dict:
    values = dict(ids["path"])
    values.update(kind="grid", entity_id=ids["grid_id"], name="grids", z=0, x=0, y=0)
    values.update(layer="status")
    values["plan_id"] = values["patrol_plan_id" if "/patrol/" in path else "delivery_plan_id"]
    return values


def _first_event(client) -> str:
    """The data line of the first server-sent event of ``/api/stream``."""
    response = client.get("/api/stream?since=0", buffered=False)
    assert response.status_code == 200
    chunks = response.response
    try:
        first = next(iter(chunks)).decode()
    finally:
        response.close()
    return next(line[6:] for line in first.splitlines() if line.startswith("data: "))


def _check_every_get(app, wait_job) -> list[str]:
    """Call every GET of the OpenAPI description logged in as admin, bare and with real
    parameters; return the URLs called. Fails on a non-strict answer or an undocumented
    status."""
    client = app.test_client()
    _login(client)
    ids = _real_ids(app, client, wait_job)
    document = strict_loads(client.get("/api/openapi.json").get_data(as_text=True))
    called = []
    for path, item in document["paths"].items():
        operation = item.get("get")
        if operation is None:
            continue
        if path == "/api/stream":
            assert "seq" in strict_loads(_first_event(client))
            called.append(path)
            continue
        params = operation.get("parameters", [])
        url = path.format(**_path_values(path, ids))
        query = {
            p["name"]: ids["query"].get(p["name"], p["schema"].get("default"))
            for p in params
            if p["in"] == "query"
        }
        query = {
            k: str(v).lower() if isinstance(v, bool) else v
            for k, v in query.items()
            if v is not None
        }
        documented = {int(code) for code in operation["responses"]} | {200}
        for full in (url, f"{url}?{urlencode(query)}" if query else None):
            if full is None:
                continue
            response = client.get(full)
            if response.mimetype == "application/vnd.mapbox-vector-tile":  # not JSON: a tile
                assert response.status_code == 200 and "grids" in decode_tile(response.data)
                called.append(full)
                continue
            if response.mimetype in FILES:  # a wall map, a workbook, an offline page
                assert response.status_code == 200, (full, response.status_code)
                assert response.data.startswith(FILES[response.mimetype]), full
                called.append(full)
                continue
            text = response.get_data(as_text=True)
            if full == url and query:
                assert response.status_code in documented, (full, response.status_code, text)
            else:
                assert response.status_code == 200, (full, response.status_code, text)
            body = strict_loads(text)
            assert isinstance(body, dict), full
            called.append(full)
    path = ids["path"]
    for page in (  # pages that embed plan data with |tojson
        f"/driver/{path['delivery_plan_id']}/{path['route_id']}",
        f"/patrol/{path['patrol_plan_id']}",
    ):
        html = client.get(page).get_data(as_text=True)
        pattern = r"window\.MS_(?:ROUTE|PATROL) = (.*?);(?:</script>)?$"
        embedded = re.findall(pattern, html, flags=re.M)
        assert embedded, page
        for data in embedded:
            assert "geojson" in strict_loads(data), page
        called.append(page)
    return called


def _copy_sqlite(source: Path, target: Path) -> None:
    """Copy a SQLite store by the backup API: consistent even while the write-ahead log of a
    still-open connection holds recent rows."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


@pytest.fixture(scope="module")
def osm_db_template(tmp_path_factory, realdata) -> Path:
    """A district made by ``mapserver init --osm`` on the Nanjing extract, with an admin."""
    path = tmp_path_factory.mktemp("osm-init") / "nanjing.sqlite"
    url = f"sqlite:///{path}"
    osm = realdata / "nanjing-xinjiekou.osm"
    assert cli_main(["--database", url, "init", "--osm", str(osm)]) == 0
    store = open_store(url)
    store.create_user("admin", DEMO_PASSWORD, role="admin")
    assert store.read_buildings()["name"].isna().any()  # the case that sent NaN
    store.dispose()
    return _with_delivery_plan(path, path.with_name("planned.sqlite"))


@pytest.fixture(scope="module")
def demo_planned_template(tmp_path_factory, demo_db_template) -> Path:
    """The demo district with one delivery plan."""
    folder = tmp_path_factory.mktemp("demo-planned")
    return _with_delivery_plan(demo_db_template, folder / "demo.sqlite")


@pytest.mark.parametrize("district", ["demo_planned_template", "osm_db_template"])
def test_every_get_endpoint_answers_strict_json(district, request, tmp_path, wait_job):
    copy = tmp_path / "copy.sqlite"
    _copy_sqlite(request.getfixturevalue(district), copy)
    app = create_app({"database_url": f"sqlite:///{copy}", "secret_key": "t"})
    app.config["TESTING"] = True
    try:
        called = _check_every_get(app, wait_job)
    finally:
        app.extensions["jobs"].shutdown()
        app.extensions["store"].dispose()
    assert any(u.startswith("/api/buildings?") for u in called)
    assert any(u.startswith("/api/delivery/plans/") and "/routes/" in u for u in called)
    assert any(u.startswith("/api/planner/versions/") for u in called)


def test_buildings_without_a_name_answer_null(app, client, demo_layers):
    """Most OSM buildings have no name: the map, search and planner say null, never NaN."""
    store = app.extensions["store"]
    grids = demo_layers["grids"]
    leaf = grids.loc[grids["level"] == "micro", ["grid_id", "parent_id"]].iloc[0]
    buildings = store.read_buildings(grid_ids=[leaf["grid_id"]])
    store.import_layers(
        {"buildings": buildings.assign(name=None, address=None)}, user="test", mode="merge"
    )
    unnamed = set(buildings["building_id"])
    pages = {
        f"/api/buildings?grid={leaf['grid_id']}": lambda body: body["features"],
        f"/api/search?q={sorted(unnamed)[0]}": lambda body: body["results"],
        f"/api/planner/{leaf['parent_id']}": lambda body: body["buildings"]["features"],
    }
    _login(client)
    for url, items in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        found = [
            item.get("properties", item)
            for item in items(strict_loads(response.get_data(as_text=True)))
        ]
        names = {x["id"]: x["name"] for x in found if x["id"] in unnamed}
        assert names and set(names.values()) == {None}, url
