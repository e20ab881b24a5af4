"""Delivery and patrol through the API, the driver pages and the command line."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from mapserver.cli import main as cli_main
from mapserver.errors import ValidationError
from mapserver.services.delivery import DeliveryRequest, DeliveryService
from mapserver.store import StatusRow, audit, open_store
from mapserver.web import create_app

GPX = "{http://www.topografix.com/GPX/1/1}"


@pytest.fixture(scope="module")
def planned_db(tmp_path_factory, demo_db_template):
    """The demo database with one morning delivery plan, solved once for the module."""
    path = tmp_path_factory.mktemp("routes") / "planned.sqlite"
    shutil.copy(demo_db_template, path)
    store = open_store(f"sqlite:///{path}")
    plan_id = DeliveryService(store).plan(
        DeliveryRequest(statuses=("red",), time_limit_s=1), user="test"
    )
    store.dispose()
    return path, plan_id


@pytest.fixture
def routes_client(planned_db, tmp_path):
    path, plan_id = planned_db
    copy = tmp_path / "copy.sqlite"
    shutil.copy(path, copy)
    app = create_app({"database_url": f"sqlite:///{copy}", "secret_key": "t"})
    token = app.extensions["store"].create_token("admin")
    client = app.test_client()  # reads carry the admin's token; writes send it explicitly
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    yield client, plan_id, {"Authorization": f"Bearer {token}"}
    app.extensions["jobs"].shutdown()
    app.extensions["store"].dispose()


def test_plan_serves_every_order_once(routes_client, demo_layers):
    client, plan_id, _ = routes_client
    plan = client.get(f"/api/delivery/plans/{plan_id}").get_json()["plan"]
    drops = [d["order_id"] for r in plan["routes"] for s in r["stops"] for d in s["drops"]]
    assert len(drops) == len(set(drops)) > 0
    for route in plan["routes"]:
        assert route["load"] <= route["capacity"]
        assert sum(s["demand"] for s in route["stops"]) == route["load"]
        etas = [s["eta_s"] for s in route["stops"]]
        assert etas == sorted(etas)
        assert route["start_s"] >= 7 * 3600 and route["end_s"] <= 11 * 3600
    sealed = demo_layers["grids"].query("area_class == 'sealed'")
    assert len(sealed) and any(s["sealed"] for r in plan["routes"] for s in r["stops"])


def test_new_plan_as_a_job_and_bad_requests(routes_client, wait_job):
    client, _, auth = routes_client
    anonymous = {"Authorization": ""}
    assert client.post("/api/delivery/plans", json={}, headers=anonymous).status_code == 401
    bad = client.post("/api/delivery/plans", json={"vans": "many", "colour": 1}, headers=auth)
    assert bad.status_code == 400
    assert {i["field"] for i in bad.get_json()["issues"]} == {"vans", "colour"}
    too_small = client.post(
        "/api/delivery/plans",
        json={"vans": 0, "tricycles": 1, "statuses": ["red"], "time_limit_s": 1},
        headers=auth,
    )
    job = wait_job(client, too_small.get_json()["job_id"])
    assert job["state"] == "failed" and "boxes" in job["error"]


def test_driver_page_gpx_manifest_and_marks(routes_client):
    client, plan_id, auth = routes_client
    plan = client.get(f"/api/delivery/plans/{plan_id}").get_json()["plan"]
    route = max(plan["routes"], key=lambda r: len(r["stops"]))
    rid = route["route_id"]
    gpx = ET.fromstring(client.get(f"/driver/{plan_id}/{rid}.gpx").data)
    assert len(gpx.findall(f"{GPX}wpt")) == len(route["stops"])
    assert len(gpx.findall(f".//{GPX}trkpt")) > len(route["stops"])
    assert client.get(f"/driver/{plan_id}/{rid}/manifest").status_code == 200
    first, second = route["stops"][0]["stop_id"], route["stops"][1]["stop_id"]
    url = f"/api/delivery/plans/{plan_id}/routes/{rid}/stops"
    assert (
        client.post(f"{url}/{first}", json={"state": "delivered"}, headers=auth).status_code == 200
    )
    no_reason = client.post(f"{url}/{second}", json={"state": "failed"}, headers=auth)
    assert no_reason.status_code == 400
    ok = client.post(
        f"{url}/{second}", json={"state": "failed", "reason": "无人接收"}, headers=auth
    )
    assert ok.status_code == 200
    progress = client.get("/api/delivery/progress").get_json()
    assert progress["counts"]["delivered"] == 1 and progress["counts"]["failed"] == 1
    assert client.post(f"{url}/NOPE", json={"state": "delivered"}, headers=auth).status_code == 404


def test_replan_leaves_out_delivered_stops(routes_client, wait_job):
    client, plan_id, auth = routes_client
    plan = client.get(f"/api/delivery/plans/{plan_id}").get_json()["plan"]
    route = max(plan["routes"], key=lambda r: len(r["stops"]))
    done = [s["stop_id"] for s in route["stops"][:3]]
    for stop in done:
        client.post(
            f"/api/delivery/plans/{plan_id}/routes/{route['route_id']}/stops/{stop}",
            json={"state": "delivered"},
            headers=auth,
        )
    job = wait_job(
        client,
        client.post(
            f"/api/delivery/plans/{plan_id}/replan", json={"now": "08:30"}, headers=auth
        ).get_json()["job_id"],
    )
    assert job["state"] == "done", job
    new = client.get(f"/api/delivery/plans/{job['result']['plan_id']}").get_json()["plan"]
    left = {s["stop_id"] for r in new["routes"] for s in r["stops"]}
    before = {s["stop_id"] for r in plan["routes"] for s in r["stops"]}
    assert left == before - set(done)


def test_patrol_streets_and_checkpoints(routes_client, demo_layers, wait_job):
    client, _, auth = routes_client
    big = demo_layers["grids"].query("level == 'big'")["grid_id"].iloc[0]
    job = wait_job(
        client,
        client.post(
            "/api/patrol/plans", json={"kind": "streets", "grids": [big], "teams": 2}, headers=auth
        ).get_json()["job_id"],
    )
    assert job["state"] == "done", job
    plan_id = job["result"]["plan_id"]
    plan = client.get(f"/api/patrol/plans/{plan_id}").get_json()
    summary = plan["summary"]
    assert len(summary["team_routes"]) == 2 and summary["within_shift"]
    assert summary["total_km"] >= summary["street_km"] > 0
    assert client.get(f"/patrol/{plan_id}").status_code == 200
    gpx = ET.fromstring(client.get(f"/patrol/{plan_id}/1.gpx").data)
    assert gpx.findall(f".//{GPX}trkpt")
    bad = client.post("/api/patrol/plans", json={"kind": "streets"}, headers=auth)
    assert bad.status_code == 400


def test_cli_deliver_and_patrol(demo_db_url, tmp_path, capsys):
    out = tmp_path / "gpx"
    assert (
        cli_main(
            [
                "--database",
                demo_db_url,
                "deliver",
                "--status",
                "red",
                "--time-limit",
                "1",
                "--gpx-dir",
                str(out),
            ]
        )
        == 0
    )
    assert list(out.glob("*.gpx"))
    assert (
        cli_main(
            [
                "--database",
                demo_db_url,
                "patrol",
                "--checkpoints",
                "--teams",
                "2",
                "--gpx",
                str(tmp_path / "cp.gpx"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "route" in printed and "team" in printed
    assert cli_main(["--database", demo_db_url, "deliver", "--vans", "0", "--tricycles", "0"]) == 2


def test_uploaded_orders_replace_the_rule(routes_client, demo_layers, tmp_path, wait_job):
    client, _, auth = routes_client
    ids = demo_layers["buildings"]["building_id"].iloc[[0, 40, 400]].tolist()
    rows = [{"building_id": b, "boxes": 2, "kind": "food"} for b in ids]
    job = wait_job(
        client,
        client.post(
            "/api/delivery/plans", json={"orders": rows, "time_limit_s": 1}, headers=auth
        ).get_json()["job_id"],
    )
    assert job["state"] == "done", job
    plan = client.get(f"/api/delivery/plans/{job['result']['plan_id']}").get_json()["plan"]
    served = sorted(
        d["building_id"] for r in plan["routes"] for s in r["stops"] for d in s["drops"]
    )
    assert served == sorted(ids)
    bad = [*rows, {"building_id": "NO-SUCH", "boxes": 1, "kind": "food"}]
    job = wait_job(
        client,
        client.post(
            "/api/delivery/plans", json={"orders": bad, "time_limit_s": 1}, headers=auth
        ).get_json()["job_id"],
    )
    assert job["state"] == "failed" and "row 4" in job["error"] and "NO-SUCH" in job["error"]


def _driver_pages(path, plan_id: str, route_ids: list[str]) -> str:
    """The driver pages of the routes, as served from the database file at ``path``."""
    app = create_app({"database_url": f"sqlite:///{path}", "secret_key": "t"})
    auth = {"Authorization": f"Bearer {app.extensions['store'].create_token('admin')}"}
    try:
        client = app.test_client()
        return "".join(
            client.get(f"/driver/{plan_id}/{r}", headers=auth).get_data(as_text=True)
            for r in route_ids
        )
    finally:
        app.extensions["jobs"].shutdown()
        app.extensions["store"].dispose()


def test_building_larger_than_any_vehicle_is_served_in_loads(demo_db_template, tmp_path):
    path = tmp_path / "big.sqlite"
    shutil.copy(demo_db_template, path)
    store = open_store(f"sqlite:///{path}")
    service = DeliveryService(store)
    table = pd.DataFrame({"building_id": ["B0001", "B0002"], "boxes": [277, 5]})
    plan_id = service.plan(
        DeliveryRequest(vans=3, tricycles=0, time_limit_s=1),
        user="test",
        orders_table=table,
    )
    plan = service.get(plan_id)["plan"]
    store.dispose()
    assert plan["feasible"]
    loads = [
        (d["part"], d["parts"], d["boxes"])
        for r in plan["routes"]
        for s in r["stops"]
        for d in s["drops"]
        if d["order_id"] == "R1"
    ]
    assert sorted(loads) == [(1, 3, 120), (2, 3, 120), (3, 3, 37)]
    for route in plan["routes"]:
        assert route["load"] <= route["capacity"] == 120
    stops = [
        s
        for r in plan["routes"]
        for s in r["stops"]
        if any(d["order_id"] == "R1" for d in s["drops"])
    ]
    assert sorted((s["part"], s["parts"]) for s in stops) == [(1, 3), (2, 3), (3, 3)]
    boxes = [d["boxes"] for r in plan["routes"] for s in r["stops"] for d in s["drops"]]
    assert sum(boxes) == 282
    pages = _driver_pages(path, plan_id, [r["route_id"] for r in plan["routes"]])
    assert all(f"第 {k}/3 车" in pages for k in (1, 2, 3))


def test_one_van_carries_a_big_building_in_several_trips(demo_db_template, tmp_path):
    path = tmp_path / "trips.sqlite"
    shutil.copy(demo_db_template, path)
    store = open_store(f"sqlite:///{path}")
    service = DeliveryService(store)
    table = pd.DataFrame({"building_id": ["B0001"], "boxes": [277]})
    with pytest.raises(ValidationError, match="allow more trips"):
        service.plan(
            DeliveryRequest(vans=1, tricycles=0, time_limit_s=1), user="t", orders_table=table
        )
    plan_id = service.plan(
        DeliveryRequest(vans=1, tricycles=0, trips=3, time_limit_s=1),
        user="test",
        orders_table=table,
    )
    plan = service.get(plan_id)["plan"]
    manifest = service.manifest(plan_id, "van-1")
    store.dispose()
    (route,) = plan["routes"]
    assert plan["feasible"] and route["trips"] == 3 and route["boxes"] == 277
    assert sorted(route["trip_loads"]) == [37, 120, 120]
    assert sorted(s["trip"] for s in route["stops"]) == [1, 2, 3]
    assert sorted(row["trip"] for row in manifest) == [1, 2, 3]
    assert sum(row["boxes"] for row in manifest) == 277
    pages = _driver_pages(path, plan_id, ["van-1"])
    assert "回仓装货 · 第 2 趟" in pages and "回仓装货 · 第 3 趟" in pages


def test_building_marked_red_without_household_rows_is_delivered(
    demo_db_template, demo_layers, tmp_path
):
    path = tmp_path / "building-status.sqlite"
    shutil.copy(demo_db_template, path)
    store = open_store(f"sqlite:///{path}")
    buildings = demo_layers["buildings"].set_index("building_id")
    target = "B0040"
    households = demo_layers["households"]
    store.import_layers({"households": households[households["building_id"] != target]})
    store.apply_status([StatusRow("building", target, "red")], user="t", source="test")
    service = DeliveryService(store)
    plan_id = service.plan(
        DeliveryRequest(rule="status", statuses=("red",), time_limit_s=1), user="t"
    )
    plan = service.get(plan_id)["plan"]
    store.dispose()
    drops = [d for r in plan["routes"] for s in r["stops"] for d in s["drops"]]
    mine = [d for d in drops if d["building_id"] == target]
    assert sum(d["boxes"] for d in mine) == int(buildings.loc[target, "households"]) > 0
    assert len({d["building_id"] for d in drops}) > 1  # the red households elsewhere too


def test_dispatcher_names_renames_and_deletes_a_plan(routes_client, wait_job, demo_layers):
    client, plan_id, auth = routes_client
    bad = client.post("/api/delivery/plans", json={"area_classes": ["quarantine"]}, headers=auth)
    assert bad.status_code == 400 and bad.get_json()["issues"][0]["field"] == "area_classes"
    started = client.post(
        "/api/delivery/plans",
        json={
            "name": "三号楼片区应急配送",
            "area_classes": ["controlled"],
            "statuses": [],
            "vans": 6,
            "trips": 6,
            "time_limit_s": 1,
        },
        headers=auth,
    )
    job = wait_job(client, started.get_json()["job_id"])
    assert job["state"] == "done", job
    plans = client.get("/api/delivery/plans").get_json()["plans"]
    named = next(p for p in plans if p["name"] == "三号楼片区应急配送")
    served = {
        d["building_id"]
        for r in client.get(f"/api/delivery/plans/{named['plan_id']}").get_json()["plan"]["routes"]
        for s in r["stops"]
        for d in s["drops"]
    }
    grids = demo_layers["grids"].set_index("grid_id")
    buildings = demo_layers["buildings"].set_index("building_id")
    for building in served:  # only households of controlled areas
        grid, classes = buildings.at[building, "grid_id"], []
        while isinstance(grid, str) and grid in grids.index:
            classes.append(grids.at[grid, "area_class"])
            grid = grids.at[grid, "parent_id"]
        assert "controlled" in classes, building
    renamed = client.post(
        f"/api/delivery/plans/{plan_id}/name", json={"name": "早班 A 线"}, headers=auth
    )
    assert renamed.status_code == 200
    assert (
        client.post(
            f"/api/delivery/plans/{plan_id}/name", json={"name": ""}, headers=auth
        ).status_code
        == 400
    )
    listed = {
        p["plan_id"]: p["name"] for p in client.get("/api/delivery/plans").get_json()["plans"]
    }
    assert listed[plan_id] == "早班 A 线"
    assert client.delete(f"/api/delivery/plans/{plan_id}", headers=auth).status_code == 200
    assert client.get(f"/api/delivery/plans/{plan_id}").status_code == 404
    assert client.delete(f"/api/delivery/plans/{plan_id}", headers=auth).status_code == 404
    store = client.application.extensions["store"]
    rows = store.read_audit(audit.AuditFilter(kind="route_plan.delete"))
    assert [r["entity"] for r in rows] == [f"route_plan:{plan_id}"]
    assert store.read_audit(audit.AuditFilter(kind="route_plan.rename"))[0]["new"] == {
        "name": "早班 A 线"
    }


def test_patrol_plans_are_listed_per_grid(routes_client, demo_layers, wait_job):
    client, _, auth = routes_client
    bigs = demo_layers["grids"].query("level == 'big'")["grid_id"].tolist()
    job = wait_job(
        client,
        client.post(
            "/api/patrol/plans", json={"kind": "streets", "grids": [bigs[0]]}, headers=auth
        ).get_json()["job_id"],
    )
    assert job["state"] == "done", job
    streets = job["result"]["plan_id"]
    page = client.get("/routes").get_data(as_text=True)
    assert f'href="/patrol/{streets}"' in page  # reachable from the page, not a printed URL
    grids = demo_layers["grids"].set_index("grid_id")
    mine = client.get(f"/routes?grid={bigs[0]}").get_data(as_text=True)
    assert f'href="/patrol/{streets}"' in mine and grids.at[bigs[0], "name"] in mine
    micro = grids[grids["parent_id"].isin(grids[grids["parent_id"] == bigs[0]].index)].index[
        0
    ]  # a grid below it: its patrols too
    assert f'href="/patrol/{streets}"' in client.get(f"/routes?grid={micro}").get_data(as_text=True)
    other = client.get(f"/routes?grid={bigs[-1]}").get_data(as_text=True)
    assert f'href="/patrol/{streets}"' not in other


def test_a_plan_is_archived_and_restored(routes_client):
    client, plan_id, auth = routes_client
    assert client.post(
        f"/api/delivery/plans/{plan_id}/archive", json={"archived": True}, headers=auth
    ).get_json() == {"plan_id": plan_id, "archived": True}
    listed = {
        p["plan_id"]: p["archived"] for p in client.get("/api/delivery/plans").get_json()["plans"]
    }
    assert listed[plan_id] is True
    page = client.get("/routes").get_data(as_text=True)
    away = page.split('id="archived"', 1)
    assert len(away) == 2 and f'data-plan="{plan_id}"' in away[1]  # listed apart
    assert f'<article class="plan" data-plan="{plan_id}"' not in away[0]
    client.post(f"/api/delivery/plans/{plan_id}/archive", json={"archived": False}, headers=auth)
    listed = {
        p["plan_id"]: p["archived"] for p in client.get("/api/delivery/plans").get_json()["plans"]
    }
    assert listed[plan_id] is False
    assert client.get(f"/api/delivery/plans/{plan_id}").status_code == 200  # never lost
    assert client.post("/api/delivery/plans/nope/archive", json={}, headers=auth).status_code == 404
