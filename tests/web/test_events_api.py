"""The event layer API on the demo district: upload (admin, CSRF), points (login), counts."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from mapserver import crs
from mapserver.status.tree import grid_ancestors


def _strict(response):
    """The response body parsed by a strict JSON parser (NaN/Infinity refused)."""

    def refuse(name):
        raise ValueError(f"{name} in JSON")

    return json.loads(response.get_data(as_text=True), parse_constant=refuse)


def _login(client, username: str) -> str:
    client.get("/login")
    with client.session_transaction() as session:
        csrf = session["csrf"]
    form = {"username": username, "password": "demo2020", "csrf": csrf}
    response = client.post("/login", data=form)
    assert response.status_code == 302
    with client.session_transaction() as session:
        return session["csrf"]


@pytest.fixture
def cases(demo_layers) -> tuple[bytes, pd.DataFrame]:
    """A GCJ-02 case list: 40 buildings' inner points over three days, one far away, one blank."""
    buildings = demo_layers["buildings"]
    micro = demo_layers["grids"].query("level == 'micro'").iloc[0]["grid_id"]  # the worker's
    own = buildings[buildings["grid_id"] == micro].head(2)
    others = buildings.drop(own.index).sample(38, random_state=3)
    picked = pd.concat([others, own]).reset_index(drop=True)
    inner = picked.geometry.representative_point()
    lon, lat = crs.wgs84_to_gcj02(inner.x.to_numpy(), inner.y.to_numpy())
    days = np.array(["2022-04-01", "2022-04-02", "2022-04-03"])[np.arange(40) % 3]
    rows = pd.DataFrame(
        {
            "病例编号": [f"C{i:03d}" for i in range(40)],
            "发生时间": days,
            "类型": "确诊",
            "经度": lon,
            "纬度": lat,
        }
    )
    extra = pd.DataFrame(
        {
            "病例编号": ["FAR", "BLANK"],
            "发生时间": ["2022-04-01", "2022-04-01"],
            "类型": "确诊",
            "经度": [100.0, None],
            "纬度": [25.0, None],
        }
    )
    table = pd.concat([rows, extra], ignore_index=True)
    return table.to_csv(index=False).encode("utf-8"), picked


def _upload(client, body: bytes, headers=None, **form):
    data = {"file": (io.BytesIO(body), "病例.csv"), "crs": "gcj02", **form}
    return client.post(
        "/api/events/upload", data=data, headers=headers or {}, content_type="multipart/form-data"
    )


def test_upload_needs_an_admin_with_csrf(client, cases, admin_token):
    body, _ = cases
    assert _upload(client, body).status_code == 401
    worker_csrf = _login(client, "worker")
    assert _upload(client, body, {"X-CSRF-Token": worker_csrf}).status_code == 403
    client.post("/logout", headers={"X-CSRF-Token": worker_csrf})
    csrf = _login(client, "admin")
    assert _upload(client, body).status_code == 403  # no CSRF token
    ok = _upload(client, body, {"X-CSRF-Token": csrf})
    assert ok.status_code == 200
    report = _strict(ok)
    assert report["counts"]["total"] == 41 and report["counts"]["skipped_rows"] == 1
    assert report["counts"]["outside"] == 1 and report["outside"][0]["event_id"] == "FAR"
    assert report["issues"][0]["row"] == 42 and report["issues"][0]["field"] == "lon/lat"
    assert report["written"] == {"rows": 41, "added": 41, "replaced": 0, "deleted": 0}
    token = {"Authorization": f"Bearer {admin_token}"}
    again = _strict(_upload(client, body, token))
    assert again["written"] == {"rows": 41, "added": 0, "replaced": 41, "deleted": 0}


def test_points_join_their_building_and_need_a_login(app, client, cases, admin_token, demo_layers):
    body, picked = cases
    token = {"Authorization": f"Bearer {admin_token}"}
    assert _upload(client, body, token).status_code == 200
    assert client.get("/api/events").status_code == 401
    everything = _strict(client.get("/api/events", headers=token))
    features = {f["id"]: f["properties"] for f in everything["features"]}
    assert len(features) == 41
    for i, building in enumerate(picked.itertuples()):
        event = features[f"C{i:03d}"]
        assert event["building_id"] == building.building_id
        assert event["building_distance_m"] == 0.0
        assert event["grid_id"] == building.grid_id
    assert features["FAR"]["grid_id"] is None and features["FAR"]["building_id"] is None
    # filters: a grid's subtree, a span of days
    community = demo_layers["grids"].query("level == 'community'")["grid_id"].iloc[0]
    below = {
        community,
        *(g for g, up in grid_ancestors(demo_layers["grids"]).items() if community in up),
    }
    in_community = _strict(client.get(f"/api/events?grid={community}", headers=token))
    expected = {f"C{i:03d}" for i, g in enumerate(picked["grid_id"]) if g in below}
    assert {f["id"] for f in in_community["features"]} == expected and expected
    one_day = _strict(client.get("/api/events?from=2022-04-02&to=2022-04-02", headers=token))
    assert {f["properties"]["day"] for f in one_day["features"]} == {"2022-04-02"}
    assert len(one_day["features"]) == 13
    assert client.get("/api/events?from=soon", headers=token).status_code == 400
    assert client.get("/api/events?grid=NO-SUCH", headers=token).status_code == 400
    # a worker sees only the events of their own grid subtree
    store = app.extensions["store"]
    worker_grid = store.get_user("worker").grid_id
    _login(client, "worker")
    mine = _strict(client.get("/api/events"))
    subtree = {
        worker_grid,
        *(g for g, up in grid_ancestors(store.read_grids()).items() if worker_grid in up),
    }
    expected = sorted(f"C{i:03d}" for i, g in enumerate(picked["grid_id"]) if g in subtree)
    assert len(expected) >= 2
    assert sorted(f["id"] for f in mine["features"]) == expected


def test_summary_counts_per_grid_level_day_and_household_rate(
    client, cases, admin_token, demo_layers
):
    body, picked = cases
    assert _upload(client, body, {"Authorization": f"Bearer {admin_token}"}).status_code == 200
    grids = demo_layers["grids"]
    ancestors = grid_ancestors(grids)
    level = dict(zip(grids["grid_id"], grids["level"], strict=True))
    buildings = demo_layers["buildings"]
    for wanted in ("community", "big", "micro"):
        answer = client.get(
            f"/api/events/summary?level={wanted}&by=day",
            headers={"Authorization": f"Bearer {admin_token}"},
        )
        assert answer.status_code == 200
        summary = _strict(answer)
        expected: dict[str, int] = {}
        for grid_id in picked["grid_id"]:
            for g in [grid_id, *ancestors[grid_id]]:
                if level[g] == wanted:
                    expected[g] = expected.get(g, 0) + 1
        got = {g["grid_id"]: g["events"] for g in summary["grids"] if g["events"]}
        assert got == expected
        for row in summary["grids"]:
            under = {row["grid_id"], *(g for g, up in ancestors.items() if row["grid_id"] in up)}
            households = int(buildings.loc[buildings["grid_id"].isin(under), "households"].sum())
            assert row["households"] == households
            if households:
                assert row["per_1000"] == pytest.approx(row["events"] * 1000 / households, abs=1e-3)
            else:
                assert row["per_1000"] is None
            assert row["colour_count"].startswith("#") and row["colour_rate"].startswith("#")
        for grid_id, days in summary["by_day"].items():
            assert sum(d["events"] for d in days) == expected[grid_id]
    assert summary["total"] == 41 and summary["outside"] == 1
    assert {d["day"]: d["events"] for d in summary["days"]} == {
        "2022-04-01": 15,
        "2022-04-02": 13,
        "2022-04-03": 13,
    }
    bad = client.get(
        "/api/events/summary?parent=NO-SUCH-GRID",
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert bad.status_code == 400 and bad.get_json()["issues"][0]["field"] == "parent"


def test_replace_form_field_replaces_the_layer(client, cases, admin_token):
    body, _ = cases
    token = {"Authorization": f"Bearer {admin_token}"}
    _upload(client, body, token)
    one = "病例编号,经度,纬度\nONLY,100.0,25.0\n".encode()
    report = _strict(_upload(client, one, token, replace="true"))
    assert report["written"] == {"rows": 1, "added": 1, "replaced": 0, "deleted": 41}
    features = _strict(client.get("/api/events", headers=token))["features"]
    assert [f["id"] for f in features] == ["ONLY"]
    audit = _strict(client.get("/api/import/log", headers=token))["imports"]
    assert [a["mode"] for a in audit[:2]] == ['{"events": "replace"}', '{"events": "merge"}']
    assert audit[0]["files"] == ["病例.csv"] and audit[0]["summary"]["join"]["outside"] == 1


def test_bad_uploads_write_nothing_and_name_the_problem(app, client, admin_token):
    token = {"Authorization": f"Bearer {admin_token}"}
    no_coords = "名称,地址\n甲,某路\n".encode()
    answer = _upload(client, no_coords, token)
    assert answer.status_code == 400
    issue = answer.get_json()["issues"][0]
    assert issue["file"] == "病例.csv" and issue["field"] == "lon/lat"
    bad_distance = _upload(client, b"lon,lat\n120,30\n", token, max_distance_m="-5")
    assert bad_distance.status_code == 400
    assert app.extensions["store"].table_rows("events") == []


def test_openapi_describes_the_event_endpoints(viewer):
    paths = viewer.get("/api/openapi.json").get_json()["paths"]
    for path in ("/api/events", "/api/events/summary", "/api/events/upload"):
        assert path in paths
    assert "security" in paths["/api/events"]["get"]
