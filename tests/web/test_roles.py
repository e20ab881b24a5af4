"""Roles scoped by the grid tree, and anonymous reading, through the real app and store."""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import replace

import pytest

from mapserver.cli import main as cli_main
from mapserver.services.delivery import DeliveryRequest, DeliveryService
from mapserver.store import open_store
from mapserver.web import create_app

PASSWORD = "secret-2026"


@pytest.fixture(scope="module")
def tree(demo_layers) -> dict:
    """Grid ids of the demo used by the tests: two communities, smalls, the worker's micro."""
    grids = demo_layers["grids"].set_index("grid_id")
    communities = sorted(grids.index[grids["level"] == "community"])
    smalls = sorted(grids.index[grids["level"] == "small"])

    def community_of(gid: str) -> str:
        while grids.at[gid, "level"] != "community":
            gid = grids.at[gid, "parent_id"]
        return gid

    mine = communities[0]
    inside = [s for s in smalls if community_of(s) == mine]
    outside = [s for s in smalls if community_of(s) != mine]
    micro = sorted(grids.index[grids["level"] == "micro"])[0]
    return {
        "community": mine,
        "small_in": inside[0],
        "small_out": outside[0],
        "micro": micro,
        "micro_parent": grids.at[micro, "parent_id"],
        "community_of": community_of,
    }


@pytest.fixture(scope="module")
def roles_db(tmp_path_factory, demo_db_template, tree) -> tuple:
    """The demo database with one delivery plan and a user of every role, built once."""
    path = tmp_path_factory.mktemp("roles") / "roles.sqlite"
    shutil.copy(demo_db_template, path)
    store = open_store(f"sqlite:///{path}")
    plan_id = DeliveryService(store).plan(
        DeliveryRequest(statuses=("red",), time_limit_s=1), user="test"
    )
    store.create_user("cmd", PASSWORD, role="commander", grid_id=tree["community"])
    store.create_user("chief", PASSWORD, role="commander")
    store.create_user("plan", PASSWORD, role="planner", grid_id=tree["community"])
    store.create_user("disp", PASSWORD, role="dispatcher")
    store.create_user("drv1", PASSWORD, role="driver")
    store.create_user("drv2", PASSWORD, role="driver")
    store.create_user("smallw", PASSWORD, role="worker", grid_id=tree["small_in"])
    store.dispose()
    return path, plan_id


@pytest.fixture
def env(roles_db, tmp_path):
    """App, anonymous client, plan id and a token header per user, on a private copy."""
    path, plan_id = roles_db
    copy = tmp_path / "roles.sqlite"
    shutil.copy(path, copy)
    app = create_app({"database_url": f"sqlite:///{copy}", "secret_key": "roles-test"})
    store = app.extensions["store"]
    names = ("admin", "worker", "cmd", "chief", "plan", "disp", "drv1", "drv2", "smallw")
    auth = {n: {"Authorization": f"Bearer {store.create_token(n)}"} for n in names}
    yield app, app.test_client(), plan_id, auth
    app.extensions["jobs"].shutdown()
    store.dispose()


def _routes(app, plan_id: str) -> list[dict]:
    return app.extensions["delivery"].get(plan_id)["plan"]["routes"]


def _fill(path: str, plan_id: str = "P") -> str:
    """An OpenAPI path with its parameters filled in."""
    values = {"plan_id": plan_id, "version_id": "1"}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "X"), path)


def _page_rules(app) -> list[str]:
    """Every page (non-API, non-asset) URL rule of the app, with parameters filled in."""
    out = []
    for rule in app.url_map.iter_rules():
        path = rule.rule
        if path.startswith(("/api/", "/static", "/vendor", "/login")) or "GET" not in rule.methods:
            continue
        out.append(re.sub(r"<(?:\w+:)?(\w+)>", "X", path))
    return out


# -- anonymous clients ---------------------------------------------------------------


def test_anonymous_client_is_refused_everywhere_when_reading_is_off(env):
    app, client, _, auth = env
    doc = client.get("/api/openapi.json", headers=auth["admin"]).get_json()
    assert client.get("/api/openapi.json").status_code == 401
    checked = 0
    for path, operations in doc["paths"].items():
        for method in operations:
            response = client.open(_fill(path), method=method.upper(), json={})
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.get_json()["code"] == "unauthorized"
            checked += 1
    assert checked >= 40
    pages = _page_rules(app)
    assert {"/", "/entry", "/upload", "/routes", "/planner", "/users"} <= set(pages)
    for page in pages:
        response = client.get(page)
        assert response.status_code == 302 and "/login" in response.location, page
    for open_path in ("/login", "/static/js/map.js", "/vendor/leaflet/leaflet.js"):
        assert client.get(open_path).status_code == 200


def _suppressed_like(public: dict, full: dict) -> None:
    """Every public count equals the full one when ≥ 5 and is None when below."""
    assert public["households"] == (full["households"] if full["households"] >= 5 else None)
    for code, n in full["counts"].items():
        if public["households"] is None:
            assert public["counts"] == {}
        else:
            assert public["counts"][code] == (n if n >= 5 else None)


def test_anonymous_reading_on_shows_suppressed_grid_counts_only(env, demo_layers):
    app, client, plan_id, auth = env
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], anonymous_read=True)
    doc = client.get("/api/openapi.json").get_json()
    allowed = {"/api/config", "/api/grids", "/api/summary", "/api/changes", "/api/search"}
    allowed |= {"/api/roads", "/api/checkpoints", "/api/openapi.json", "/api/stream"}
    allowed |= {"/api/status/grids", "/api/measure", "/api/history"}
    allowed |= {"/api/totals", "/api/table", "/api/recent"}
    for path, operations in doc["paths"].items():
        for method in operations:
            if path == "/api/stream":
                continue  # an endless stream; checked below
            url = _fill(path, plan_id)
            if path.startswith("/api/geometry"):  # a building's: 401; a grid's: checked below
                url = f"/api/geometry/building/{demo_layers['buildings']['building_id'].iloc[0]}"
            response = client.open(url, method=method.upper(), json={})
            if method == "get" and path in allowed:
                assert response.status_code in (200, 400), (path, response.status_code)
            else:
                assert response.status_code == 401, (method, path, response.status_code)
    grid = demo_layers["grids"]["grid_id"].iloc[0]
    assert client.get(f"/api/geometry/grid/{grid}").status_code == 200
    stream = client.get("/api/stream", buffered=False)
    assert stream.status_code == 200
    stream.close()
    # the tiled map: shapes of grids, roads and checkpoints; never buildings
    for layer, code in (("grids", 200), ("roads", 200), ("checkpoints", 200), ("buildings", 401)):
        assert client.get(f"/api/tiles/{layer}/12/3425/1675.pbf").status_code == code, layer
    for page in _page_rules(app):
        response = client.get(page)
        if page == "/":
            assert response.status_code == 200
        else:
            assert response.status_code == 302 and "/login" in response.location, page

    # a measure: values counting fewer than 5 households withheld, the rest as an admin's
    public = client.get("/api/measure?level=micro").get_json()["grids"]
    full = client.get("/api/measure?level=micro", headers=auth["admin"]).get_json()["grids"]
    for grid_id, (value, _) in full.items():
        assert public[grid_id][0] == (value if value >= 5 else None), grid_id
    assert any(v is None for v, _ in public.values())
    # the panel's table and totals withhold counts below 5 as well
    rows = client.get("/api/table?level=micro").get_json()["rows"]
    full_rows = client.get("/api/table?level=micro", headers=auth["admin"]).get_json()["rows"]
    by_id = {r["id"]: r for r in full_rows}
    for row in rows:
        households = by_id[row["id"]]["households"]
        assert row["households"] == (households if households >= 5 else None), row["id"]
        for code, n in by_id[row["id"]]["counts"].items():
            assert row["counts"][code] == (n if n >= 5 else None), (row["id"], code)
    assert any(None in r["counts"].values() for r in rows)
    totals = client.get("/api/totals").get_json()
    full_totals = client.get("/api/totals", headers=auth["admin"]).get_json()
    for code, n in full_totals["households"].items():
        assert totals["households"][code] == (n if n >= 5 else None), code

    # grids: no names or phones, counts below 5 suppressed, the rest exact
    suppressed = 0
    for level in ("micro", "homestead", "community"):
        public = client.get(f"/api/grids?level={level}").get_json()["features"]
        full = client.get(f"/api/grids?level={level}", headers=auth["admin"]).get_json()
        full = {f["id"]: f["properties"] for f in full["features"]}
        assert any(full[f["id"]]["person"] for f in public)  # the admin sees names
        for feature in public:
            props = feature["properties"]
            assert props["person"] is None and props["phone"] is None
            _suppressed_like(props, full[feature["id"]])
            suppressed += sum(v is None for v in props["counts"].values())
            suppressed += props["households"] is None
    assert suppressed > 0  # the demo has small counts: the rule was exercised
    table = client.get("/api/status/grids?level=micro").get_json()  # the tiled map's colours
    full = client.get("/api/status/grids?level=micro", headers=auth["admin"]).get_json()
    shown = [n for row in table["rows"].values() for n in [row[1], *row[3]]]
    assert None in shown and all(n is None or n == 0 or n >= 5 for n in shown)
    assert set(table["rows"]) == set(full["rows"])
    # changes: grid counts only, no building ids
    households = demo_layers["households"]
    building = households["building_id"].iloc[0]
    rows = [
        {"entity_id": h, "status": "red"}
        for h in households.loc[households["building_id"] == building, "household_id"]
    ]
    written = client.post("/api/status", json={"rows": rows}, headers=auth["admin"])
    assert written.status_code == 200
    for _ in range(5):  # answers may be a second old: compare two of the same snapshot
        full = client.get("/api/changes?since=0", headers=auth["admin"]).get_json()
        public = client.get("/api/changes?since=0").get_json()
        if public["seq"] == full["seq"]:
            break
        time.sleep(0.5)
    assert public["seq"] == full["seq"]
    assert building in full["buildings"] and public["buildings"] == {}
    assert set(public["grids"]) == set(full["grids"])
    for gid, status in public["grids"].items():
        _suppressed_like(status, full["grids"][gid])
    hits = client.get(f"/api/search?q={building}").get_json()["results"]
    assert hits == []
    assert client.get(f"/api/search?q={building}", headers=auth["admin"]).get_json()["results"]


# -- roles ---------------------------------------------------------------------------


def _ok(response, code: int = 200) -> dict:
    assert response.status_code == code, response.get_data(as_text=True)
    return response.get_json()


def test_commander_reads_everything_in_their_area_and_writes_nothing(env, tree, demo_layers):
    _, client, plan_id, auth = env
    buildings = demo_layers["buildings"]
    community_of = tree["community_of"]
    inside = buildings[buildings["grid_id"].map(community_of) == tree["community"]]
    outside = buildings[buildings["grid_id"].map(community_of) != tree["community"]]
    cmd = auth["cmd"]
    shown = _ok(client.get("/api/buildings?bbox=-180,-90,180,90", headers=cmd))["features"]
    assert {f["id"] for f in shown} == set(inside["building_id"]) - {None}
    b_in, b_out = inside["building_id"].iloc[0], outside["building_id"].iloc[0]
    assert _ok(client.get(f"/api/households?building={b_in}", headers=cmd))["households"]
    assert client.get(f"/api/households?building={b_out}", headers=cmd).status_code == 403
    assert client.get(f"/api/households?building={b_out}", headers=auth["chief"]).status_code == 200
    _ok(client.get("/api/delivery/plans", headers=cmd))
    _ok(client.get(f"/api/delivery/plans/{plan_id}", headers=cmd))
    _ok(client.get(f"/api/planner/{tree['small_in']}", headers=cmd))
    assert client.get(f"/api/planner/{tree['small_out']}", headers=cmd).status_code == 403
    row = {"entity_id": demo_layers["households"]["household_id"].iloc[0], "status": "red"}
    assert client.post("/api/status", json=row, headers=cmd).status_code == 403
    assert client.post("/api/delivery/plans", json={}, headers=cmd).status_code == 403
    assert client.get("/api/import/log", headers=cmd).status_code == 403
    assert client.get("/api/users", headers=cmd).status_code == 403
    # grids outside the area: no names, suppressed counts; inside: everything
    grids = _ok(client.get("/api/grids?level=small", headers=cmd))["features"]
    for feature in grids:
        inside_area = community_of(feature["id"]) == tree["community"]
        assert feature["properties"].get("suppressed", False) is not inside_area


def test_planner_edits_only_inside_their_area(env, tree):
    _, client, _, auth = env
    planner = auth["plan"]
    for parent, code in ((tree["small_in"], 200), (tree["small_out"], 403)):
        opened = client.get(f"/api/planner/{parent}", headers=auth["admin"]).get_json()
        body = {"base_version": None, "assignment": opened["assignment"]}
        assert client.get(f"/api/planner/{parent}", headers=planner).status_code == code
        saved = client.post(f"/api/planner/{parent}/versions", json=body, headers=planner)
        assert saved.status_code == (201 if code == 200 else 403), saved.get_json()
        people = client.post(
            f"/api/planner/{parent}/people",
            json={"assignment": opened["assignment"], "volunteers": [f"v{i}" for i in range(60)]},
            headers=planner,
        )
        assert people.status_code == code
        propose = client.post(f"/api/planner/{parent}/propose", json={}, headers=planner)
        assert propose.status_code == (202 if code == 200 else 403)
    version = saved_version = client.post(
        f"/api/planner/{tree['small_out']}/versions",
        json={
            "base_version": None,
            "assignment": client.get(
                f"/api/planner/{tree['small_out']}", headers=auth["admin"]
            ).get_json()["assignment"],
        },
        headers=auth["admin"],
    ).get_json()["version"]
    assert saved_version
    assert (
        client.post(f"/api/planner/versions/{version}/publish", headers=planner).status_code == 403
    )
    assert client.get(f"/api/planner/versions/{version}/export", headers=planner).status_code == 403
    assert client.post("/api/delivery/plans", json={}, headers=planner).status_code == 403
    assert client.get("/api/delivery/progress", headers=planner).status_code == 403


def test_worker_people_lists_only_their_grid(env, tree, demo_layers):
    _, client, _, auth = env
    own, other = tree["small_in"], tree["small_out"]
    opened = client.get(f"/api/planner/{own}", headers=auth["smallw"]).get_json()
    volunteers = [f"v{i}" for i in range(60)]
    data = _ok(
        client.post(
            f"/api/planner/{own}/people",
            json={"assignment": opened["assignment"], "volunteers": volunteers},
            headers=auth["smallw"],
        )
    )
    listed = {h for hs in data["volunteers"].values() for h in hs}
    households = demo_layers["households"].merge(
        demo_layers["buildings"][["building_id", "grid_id"]], on="building_id"
    )
    own_cells = set(opened["assignment"].values())
    held = set(households.loc[households["grid_id"].isin(own_cells), "household_id"])
    assert listed and listed == held
    other_assignment = client.get(f"/api/planner/{other}", headers=auth["admin"]).get_json()
    refused = client.post(
        f"/api/planner/{other}/people",
        json={"assignment": other_assignment["assignment"], "volunteers": volunteers},
        headers=auth["smallw"],
    )
    assert refused.status_code == 403
    # the demo worker (one micro-grid) may not list its parent's households either
    parent = tree["micro_parent"]
    assert client.get(f"/api/planner/{parent}", headers=auth["worker"]).status_code == 403
    # a worker reads only their grid's buildings and writes no plans or routes
    shown = _ok(client.get("/api/buildings?bbox=-180,-90,180,90", headers=auth["worker"]))
    assert {f["properties"]["grid_id"] for f in shown["features"]} == {tree["micro"]}
    assert client.get("/api/delivery/plans", headers=auth["worker"]).status_code == 403
    body = {"base_version": None, "assignment": opened["assignment"]}
    saved = client.post(f"/api/planner/{own}/versions", json=body, headers=auth["smallw"])
    assert saved.status_code == 403


def test_driver_reads_and_marks_only_assigned_routes(env):
    app, client, plan_id, auth = env
    routes = _routes(app, plan_id)
    assert len(routes) >= 2
    mine, theirs = routes[0], routes[1]
    base = f"/api/delivery/plans/{plan_id}/routes"
    # only a dispatcher (or admin) assigns, and only to a user with role driver
    assign = {"driver": "drv1"}
    assert (
        client.post(
            f"{base}/{mine['route_id']}/driver", json=assign, headers=auth["drv1"]
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"{base}/{mine['route_id']}/driver", json={"driver": "cmd"}, headers=auth["disp"]
        ).status_code
        == 400
    )
    _ok(client.post(f"{base}/{mine['route_id']}/driver", json=assign, headers=auth["disp"]))
    _ok(
        client.post(
            f"{base}/{theirs['route_id']}/driver", json={"driver": "drv2"}, headers=auth["disp"]
        )
    )
    drv = auth["drv1"]
    assert _ok(client.get(f"{base}/{mine['route_id']}", headers=drv))["driver"] == "drv1"
    assert client.get(f"{base}/{theirs['route_id']}", headers=drv).status_code == 403
    stop_mine = mine["stops"][0]["stop_id"]
    stop_theirs = theirs["stops"][0]["stop_id"]
    marked = client.post(
        f"{base}/{mine['route_id']}/stops/{stop_mine}", json={"state": "delivered"}, headers=drv
    )
    assert marked.status_code == 200
    refused = client.post(
        f"{base}/{theirs['route_id']}/stops/{stop_theirs}", json={"state": "delivered"}, headers=drv
    )
    assert refused.status_code == 403
    states = app.extensions["store"].stop_states(plan_id)
    assert (mine["route_id"], stop_mine) in states and (
        theirs["route_id"],
        stop_theirs,
    ) not in states
    for path in (
        f"/driver/{plan_id}/{theirs['route_id']}",
        f"/driver/{plan_id}/{theirs['route_id']}.gpx",
        f"/driver/{plan_id}/{theirs['route_id']}/manifest",
    ):
        assert client.get(path, headers=drv).status_code == 403
        assert (
            client.get(path.replace(theirs["route_id"], mine["route_id"]), headers=drv).status_code
            == 200
        )
    assert client.get("/api/delivery/plans", headers=drv).status_code == 403
    assert client.get("/api/delivery/progress", headers=drv).status_code == 403
    assert client.get("/api/buildings", headers=drv).status_code == 403
    page = client.get("/routes", headers=drv).get_data(as_text=True)
    assert f'/driver/{plan_id}/{mine["route_id"]}"' in page
    assert f'/driver/{plan_id}/{theirs["route_id"]}"' not in page
    # unassigned: the driver loses the route at once
    _ok(
        client.post(
            f"{base}/{mine['route_id']}/driver", json={"driver": None}, headers=auth["disp"]
        )
    )
    assert client.get(f"{base}/{mine['route_id']}", headers=drv).status_code == 403


def test_dispatcher_plans_but_edits_no_grids_or_status(env, tree, demo_layers):
    _, client, plan_id, auth = env
    disp = auth["disp"]
    bad = client.post("/api/delivery/plans", json={"vans": "many"}, headers=disp)
    assert bad.status_code == 400  # past the role check, refused for its content
    _ok(client.get("/api/delivery/progress", headers=disp))
    assert (
        client.post(
            f"/api/delivery/plans/{plan_id}/replan", json={"now": "25:00"}, headers=disp
        ).status_code
        == 400
    )
    assert client.post("/api/patrol/plans", json={"kind": "x"}, headers=disp).status_code == 400
    assert client.get(f"/api/planner/{tree['small_in']}", headers=disp).status_code == 403
    row = {"entity_id": demo_layers["households"]["household_id"].iloc[0], "status": "red"}
    assert client.post("/api/status", json=row, headers=disp).status_code == 403
    assert client.post("/api/import", headers=disp).status_code == 403


def test_menus_show_only_what_the_role_can_use(env):
    _, client, _, auth = env
    links = {
        "entry": 'href="/entry"',
        "upload": 'href="/upload"',
        "routes": 'href="/routes"',
        "planner": 'href="/planner"',
        "users": 'href="/users"',
    }
    expected = {
        "admin": {"entry", "upload", "routes", "planner", "users"},
        "worker": {"entry"},
        "cmd": {"routes", "planner"},
        "plan": {"planner"},
        "disp": {"routes"},
        "drv1": {"routes"},
    }
    for name, wanted in expected.items():
        page = client.get("/", headers=auth[name]).get_data(as_text=True)
        assert {k for k, link in links.items() if link in page} == wanted, name


def test_admin_manages_users_in_the_api(env, tree):
    app, client, _, auth = env
    admin = auth["admin"]
    users = {u["username"]: u for u in _ok(client.get("/api/users", headers=admin))["users"]}
    assert users["cmd"] == {"username": "cmd", "role": "commander", "grid_id": tree["community"]}
    assert all("password" not in str(u) for u in users.values())
    new = {"username": "w9", "password": "pw-9", "role": "worker", "grid_id": "NO-SUCH"}
    refused = client.post("/api/users", json=new, headers=admin)
    assert refused.status_code == 400 and refused.get_json()["issues"][0]["field"] == "grid_id"
    _ok(client.post("/api/users", json={**new, "grid_id": tree["micro"]}, headers=admin), 201)
    assert (
        client.post("/api/users", json={**new, "grid_id": None}, headers=admin).status_code == 409
    )
    assert client.post("/api/users", json={**new, "role": "boss"}, headers=admin).status_code == 400
    changed = _ok(
        client.patch("/api/users/w9", json={"role": "commander", "grid_id": None}, headers=admin)
    )
    assert changed == {"username": "w9", "role": "commander", "grid_id": None}
    _ok(client.patch("/api/users/w9", json={"password": "pw-10"}, headers=admin))
    store = app.extensions["store"]
    assert store.check_password("w9", "pw-10") and not store.check_password("w9", "pw-9")
    assert client.post("/api/users", json=new, headers=auth["cmd"]).status_code == 403
    assert client.delete("/api/users/admin", headers=admin).status_code == 400
    _ok(client.delete("/api/users/w9", headers=admin))
    assert store.get_user("w9") is None
    assert client.delete("/api/users/w9", headers=admin).status_code == 404
    # a removed user's token stops working
    assert client.get("/api/summary", headers=auth["drv2"]).status_code == 200
    _ok(client.delete("/api/users/drv2", headers=admin))
    assert client.get("/api/summary", headers=auth["drv2"]).status_code == 401
    page = client.get("/users", headers=admin).get_data(as_text=True)
    assert "用户管理" in page and "cmd" in page
    assert client.get("/users", headers=auth["cmd"]).status_code == 403


def test_user_commands_on_the_command_line(demo_db_url, demo_layers, capsys, roles_db):
    micro = str(demo_layers["grids"].query("level == 'micro'")["grid_id"].iloc[2])
    db = ["--database", demo_db_url]
    assert cli_main([*db, "user", "add", "d1", "pw", "--role", "driver"]) == 0
    assert cli_main([*db, "user", "add", "p1", "pw", "--role", "planner", "--grid", "NOPE"]) == 2
    assert "NOPE" in capsys.readouterr().err
    assert cli_main([*db, "user", "c1", "pw", "--role", "commander", "--grid", micro]) == 0
    assert cli_main([*db, "user", "role", "c1", "dispatcher", "--no-grid"]) == 0
    assert cli_main([*db, "user", "role", "c1", "planner", "--grid", "NOPE"]) == 2
    assert cli_main([*db, "user", "password", "c1", "pw2"]) == 0
    capsys.readouterr()
    assert cli_main([*db, "user", "list"]) == 0
    listed = capsys.readouterr().out
    assert "c1\tdispatcher\t-" in listed and "d1\tdriver\t-" in listed
    assert cli_main([*db, "user", "remove", "d1"]) == 0
    assert cli_main([*db, "user", "remove", "d1"]) == 2
    store = open_store(demo_db_url)
    assert store.get_user("d1") is None
    assert store.check_password("c1", "pw2").role == "dispatcher"
    store.dispose()
    # assign a route of a stored plan to a driver
    path, plan_id = roles_db
    url = f"sqlite:///{path}"
    store = open_store(url)
    route = store.get_route_plan(plan_id)["data"]["plan"]["routes"][0]["route_id"]
    store.dispose()
    assert cli_main(["--database", url, "user", "assign", plan_id, route, "cmd"]) == 2
    assert cli_main(["--database", url, "user", "assign", plan_id, "NO-ROUTE", "drv1"]) == 2
    assert cli_main(["--database", url, "user", "assign", plan_id, route, "drv1"]) == 0
    store = open_store(url)
    assert store.route_drivers(plan_id) == {route: "drv1"}
    store.assign_driver(plan_id, route, None)  # the module's database stays as it was
    store.dispose()


def test_anonymous_reading_is_a_setting_off_by_default(monkeypatch, demo_db_url):
    from mapserver.config import load_settings

    monkeypatch.delenv("MAPSERVER_ANONYMOUS_READ", raising=False)
    assert load_settings().anonymous_read is False
    monkeypatch.setenv("MAPSERVER_ANONYMOUS_READ", "1")
    assert load_settings().anonymous_read is True
    app = create_app({"database_url": demo_db_url, "secret_key": "s"})
    try:
        assert app.test_client().get("/api/grids?level=community").status_code == 200
    finally:
        app.extensions["jobs"].shutdown()
        app.extensions["store"].dispose()
    monkeypatch.setenv("MAPSERVER_ANONYMOUS_READ", "0")
    assert load_settings().anonymous_read is False
