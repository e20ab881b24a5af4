"""The audit trail seen from the web: logins, writes with the client's address, the admin
page with its filters and the CSV export."""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import datetime

from mapserver.model import DISTRICT_TZ
from mapserver.services.jobs import JobWork
from mapserver.store import audit
from mapserver.store.audit import AuditFilter
from mapserver.web import audit as audit_view
from mapserver.web import i18n
from tests.conftest import DEMO_PASSWORD

ADDRESS = "10.20.30.40"


def _post_login(client, username: str, password: str) -> None:
    """Post the login form with the login page's CSRF token."""
    client.get("/login")
    with client.session_transaction() as session:
        csrf = session["csrf"]
    client.post("/login", data={"username": username, "password": password, "csrf": csrf})


def _login(client, username: str, password: str = DEMO_PASSWORD) -> str:
    _post_login(client, username, password)
    with client.session_transaction() as session:
        return session["csrf"]


def _rows(app, **where) -> list[dict]:
    return app.extensions["store"].read_audit(AuditFilter(**where))


def test_logins_and_writes_are_recorded_with_the_client_address(app, demo_layers):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    _post_login(client, "admin", "wrong")
    _post_login(client, "=cmd|' /C calc'!A0", "x")
    csrf = _login(client, "admin")
    household = demo_layers["households"]["household_id"].iloc[0]
    response = client.post(
        "/api/status",
        json={"entity_id": household, "status": "red"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 200, response.get_json()
    logins = _rows(app, kind="login")
    assert [(r["kind"], r["actor"], r["address"]) for r in logins] == [
        ("login.ok", "admin", ADDRESS),
        ("login.failed", "=cmd|' /C calc'!A0", ADDRESS),
        ("login.failed", "admin", ADDRESS),
    ]
    (status,) = _rows(app, kind="status.write", actor="admin")
    assert status["entity"] == f"household:{household}" and status["address"] == ADDRESS
    seq = status["new"]["changelog"][0]
    change = app.extensions["store"].changes_since(seq - 1).iloc[0]
    assert (change["entity_id"], change["new_status"], change["changed_by"]) == (
        household,
        "red",
        "admin",
    )


def _save_patrol_plan(store, progress):
    """A job's work (in its own process): save a plan as the user "调度"."""
    return {"plan_id": store.save_route_plan(kind="patrol", name="夜巡", data={}, user="调度")}


def test_a_job_keeps_the_address_of_the_request_that_started_it(app, admin_token):
    store = app.extensions["store"]
    with app.test_request_context(
        "/api/x",
        environ_base={"REMOTE_ADDR": ADDRESS},
        headers={"Authorization": f"Bearer {admin_token}"},
    ):
        app.preprocess_request()
        job = app.extensions["jobs"].submit("test", {}, JobWork(_save_patrol_plan))
    deadline = time.monotonic() + 30
    while store.get_job(job)["state"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.05)
    plan_id = store.get_job(job)["result"]["plan_id"]
    (row,) = _rows(app, entity=f"route_plan:{plan_id}")
    assert (row["actor"], row["address"]) == ("调度", ADDRESS)
    assert audit.current().address is None  # nothing leaks into this thread


def test_audit_page_is_for_admins_only(app, client):
    anonymous = client.get("/audit")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert client.get("/audit.csv").status_code == 302
    _login(client, "worker")
    assert client.get("/audit").status_code == 403
    assert client.get("/audit.csv").status_code == 403
    assert "/audit" not in client.get("/entry").get_data(as_text=True)
    _login(client, "admin")
    page = client.get("/audit?lang=zh")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "操作审计" in html and 'href="/audit"' in html and "登录成功" in html


def test_page_filters_and_refuses_a_bad_date(app, client):
    store = app.extensions["store"]
    store.record_audit("login.failed", entity="user:mallory", actor="mallory")
    _login(client, "admin")
    html = client.get("/audit?who=mallory").get_data(as_text=True)
    assert "user:mallory" in html and "user:admin" not in html
    table = client.get("/audit?kind=login&lang=en").get_data(as_text=True).split("audit-rows")[1]
    assert "<td>Failed login</td>" in table and "<td>Login</td>" in table
    assert "<td>Layer import</td>" not in table
    assert "<td>Layer import</td>" in client.get("/audit?lang=en").get_data(as_text=True)
    assert "user:mallory" not in client.get("/audit?to=2000-01-01").get_data(as_text=True)
    bad = client.get("/audit?from=someday")
    assert bad.status_code == 400
    assert "筛选条件有误: 日期“someday”无法识别" in bad.get_data(as_text=True)
    # times are the district's clock: the newest row's time as UTC+8 is on the page
    newest = store.read_audit(AuditFilter(), limit=1)[0]["at"]
    local = datetime.fromisoformat(newest).astimezone(DISTRICT_TZ)
    assert f"<td>{local:%Y-%m-%d %H:%M:%S}</td>" in client.get("/audit").get_data(as_text=True)
    assert client.get("/audit.csv?to=31/12/2026").status_code == 400


def test_csv_export_has_a_bom_chinese_and_only_the_filtered_rows(app, client):
    store = app.extensions["store"]
    store.record_audit("login.failed", entity="user:=SUM(A1)", actor="=SUM(A1)")
    store.record_audit("grid.save", entity="grid:欧阳", new={"label": "新方案"}, actor="规划员")
    _login(client, "admin")
    response = client.get("/audit.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert list(rows[0]) == list(audit.COLUMNS)
    everything = list(store.iter_audit(AuditFilter()))
    assert [int(r["seq"]) for r in rows] == [r["seq"] for r in everything]
    grid = next(r for r in rows if r["kind"] == "grid.save")
    assert grid["actor"] == "规划员" and grid["new"] == '{"label": "新方案"}'
    forged = next(r for r in rows if r["kind"] == "login.failed")
    assert forged["actor"] == "'=SUM(A1)" and forged["entity"] == "user:=SUM(A1)"
    only = client.get("/audit.csv?who=规划员").get_data().decode("utf-8-sig")
    assert [r["actor"] for r in csv.DictReader(io.StringIO(only))] == ["规划员"]


def test_every_kind_has_a_label_in_both_languages():
    for kind in audit.KINDS:
        entry = i18n.STRINGS[f"audit_kind_{kind}"]
        assert entry["zh"] and entry["en"] and entry["zh"] != entry["en"]


def test_planner_publish_names_the_user_of_the_request(app, client, admin_token, demo_layers):
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    auth = {"Authorization": f"Bearer {admin_token}"}
    grids = demo_layers["grids"]
    parent = str(grids[grids["level"] == "small"]["grid_id"].iloc[0])
    assignment = client.get(f"/api/planner/{parent}", headers=auth).get_json()["assignment"]
    saved = client.post(
        f"/api/planner/{parent}/versions",
        json={"base_version": None, "assignment": assignment},
        headers=auth,
    )
    version = saved.get_json()["version"]
    assert client.post(f"/api/planner/versions/{version}/publish", headers=auth).status_code == 200
    rows = _rows(app, kind="grid")
    assert [(r["kind"], r["actor"], r["address"], r["new"]["version"]) for r in rows] == [
        ("grid.publish", "admin", ADDRESS, version),
        ("grid.save", "admin", ADDRESS, version),
    ]
    assert {r["entity"] for r in rows} == {f"grid:{parent}"}


def test_road_closures_name_the_admin_not_the_service(app, client, admin_token, demo_layers):
    edges = demo_layers["road_edges"]
    street = edges[(edges["road_class"] == "street") & ~edges["closed"]].iloc[0]
    point = street.geometry.interpolate(0.5, normalized=True)
    feature = {"type": "Feature", "properties": {}, "geometry": point.__geo_interface__}
    response = client.post(
        "/api/roads/closures",
        json={"type": "FeatureCollection", "features": [feature]},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert response.status_code == 200
    row = _rows(app, kind="import.layers")[0]
    assert row["actor"] == "admin" and row["new"]["as"] == "closures"
    assert row["new"]["rows"] == {"road_edges": len(edges)}
    assert row["address"] == "127.0.0.1"


def test_older_entries_page_by_sequence(app, client, monkeypatch):
    monkeypatch.setattr(audit_view, "PAGE_ROWS", 2)
    _login(client, "admin")
    everything = [r["seq"] for r in _rows(app)]
    seen = []
    url = "/audit?lang=en"
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += [int(s) for s in re.findall(r"<tr>\s*<td>(\d+)</td>", html)]
        link = re.search(r'id="audit-older" href="([^"]+)"', html)
        url = link.group(1).replace("&amp;", "&") if link else None
        assert url is None or "lang=en" in url
    assert seen == everything and len(seen) > 2


def test_user_page_changes_name_the_admin_and_address(app, client, admin_token):
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    auth = {"Authorization": f"Bearer {admin_token}"}
    body = {"username": "赵六", "password": "pw-赵六-1", "role": "driver"}
    assert client.post("/api/users", json=body, headers=auth).status_code == 201
    changed = client.patch("/api/users/赵六", json={"role": "dispatcher"}, headers=auth)
    assert changed.status_code == 200
    reset = client.patch("/api/users/赵六", json={"password": "pw-赵六-2"}, headers=auth)
    assert reset.status_code == 200
    assert client.delete("/api/users/赵六", headers=auth).status_code == 200
    rows = _rows(app, entity="user:赵六")
    assert [(r["kind"], r["actor"], r["address"]) for r in rows] == [
        ("user.remove", "admin", ADDRESS),
        ("user.update", "admin", ADDRESS),
        ("user.update", "admin", ADDRESS),
        ("user.create", "admin", ADDRESS),
    ]
    assert rows[2]["new"]["role"] == "dispatcher" and rows[1]["new"]["password"] == "changed"
    assert "pw-赵六" not in str(app.extensions["store"].table_rows("audit_log"))


def _audit_detail_keys() -> set[str]:
    """Every literal key of an ``old=``/``new=`` dict given to an audit call in the store."""
    import ast
    from pathlib import Path

    import mapserver

    keys: set[str] = set()
    for path in Path(mapserver.__file__).parent.joinpath("store").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            is_detail = isinstance(node, ast.keyword) and node.arg in ("old", "new")
            if is_detail and isinstance(node.value, ast.Dict):
                keys |= {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
    return keys


def test_every_detail_key_of_an_audit_row_has_a_label():
    """The audit page shows details in words: no key of a stored detail is left raw."""
    keys = _audit_detail_keys()
    assert {"version", "cells", "driver"} <= keys  # the walk finds the store's details
    missing = [
        key
        for key in sorted(keys)
        if not any(
            f"{prefix}{key}" in i18n.STRINGS for prefix in ("audit_key_", "layer_", "field_")
        )
    ]
    assert not missing
    for key in keys:
        assert audit_view.in_words({key: 1}, "zh") != f"{key}：1"
