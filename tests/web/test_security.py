"""Who may write what, and bad requests getting clear answers rather than server errors."""

from __future__ import annotations

import sqlalchemy as sa


def _login(client, username: str, password: str = "demo2020") -> str:
    client.get("/login")
    with client.session_transaction() as session:
        csrf = session["csrf"]
    client.post("/login", data={"username": username, "password": password, "csrf": csrf})
    with client.session_transaction() as session:
        return session["csrf"]


def _small(demo_layers) -> str:
    grids = demo_layers["grids"]
    return str(grids[grids["level"] == "small"]["grid_id"].iloc[0])


def test_worker_without_grid_writes_nothing(app, client, demo_layers):
    store = app.extensions["store"]
    store.create_user("nogrid", "pw", role="worker")
    token = store.create_token("nogrid")
    household = demo_layers["households"]["household_id"].iloc[0]
    response = client.post(
        "/api/status",
        json={"entity_id": household, "status": "red"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert "outside grid" in response.get_json()["issues"][0]["reason"]


def test_role_change_takes_effect_on_an_open_session(app, client, demo_layers):
    csrf = _login(client, "admin")
    store = app.extensions["store"]
    users = store.tables["users"]
    with store.engine.begin() as conn:  # a role change that keeps the password (and session)
        conn.execute(
            sa.update(users)
            .where(users.c.username == "admin")
            .values(role="worker", grid_id=_small(demo_layers))
        )
    far = demo_layers["households"]["household_id"].iloc[-1]
    response = client.post(
        "/api/status", json={"entity_id": far, "status": "red"}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 400


def test_bogus_auth_header_does_not_skip_csrf(client, demo_layers):
    _login(client, "admin")
    household = demo_layers["households"]["household_id"].iloc[0]
    response = client.post(
        "/api/status",
        json={"entity_id": household, "status": "red"},
        headers={"Authorization": "Basic eA=="},
    )
    assert response.status_code == 403


def test_workers_cannot_save_plans(app, client, demo_layers):
    token = app.extensions["store"].create_token("worker")
    parent = _small(demo_layers)
    response = client.post(
        f"/api/planner/{parent}/versions",
        json={"base_version": None, "assignment": {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403


def test_login_does_not_redirect_off_site(client):
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        client.get("/login")
        with client.session_transaction() as session:
            csrf = session["csrf"]
        response = client.post(
            f"/login?next={target}",
            data={"username": "admin", "password": "demo2020", "csrf": csrf},
        )
        assert response.status_code == 302
        assert response.headers["Location"] == "/"


def test_malformed_values_get_400_not_500(app, client, demo_layers):
    auth = {"Authorization": f"Bearer {app.extensions['store'].create_token('admin')}"}
    parent = _small(demo_layers)
    cases = [
        ("post", f"/api/planner/{parent}/versions", {"base_version": "abc", "assignment": {}}),
        ("post", f"/api/planner/{parent}/edit", {"op": "move", "assignment": [1]}),
        ("post", f"/api/planner/{parent}/people", {"assignment": {}, "per_volunteer": [1]}),
        ("post", "/api/patrol/plans", [1]),
        ("post", "/api/cordon", {"grids": 5}),
        ("get", "/api/entrances?polygon=POLYGON((0 0", None),
    ]
    for method, url, body in cases:
        response = getattr(client, method)(url, json=body, headers=auth)
        assert response.status_code == 400, (url, response.status_code)
        assert response.get_json()["message"]


def test_rollback_of_a_broken_version_leaves_nothing(app, client, demo_layers):
    store = app.extensions["store"]
    auth = {"Authorization": f"Bearer {store.create_token('admin')}"}
    parent = _small(demo_layers)
    broken = store.save_plan(
        parent, base_version=None, level="micro", cells=[], assignment={}, user="t"
    )
    before = store.table_rows("plan_versions")
    response = client.post(
        f"/api/planner/{parent}/rollback", json={"version": broken}, headers=auth
    )
    assert response.status_code == 400
    assert store.table_rows("plan_versions") == before


def test_household_list_needs_login_and_own_grid(app, client, demo_layers):
    store = app.extensions["store"]
    worker = store.get_user("worker")
    buildings = demo_layers["buildings"]
    own = buildings.loc[buildings["grid_id"] == worker.grid_id, "building_id"].iloc[0]
    other = buildings.loc[buildings["grid_id"] != worker.grid_id, "building_id"].iloc[0]
    assert client.get(f"/api/households?building={own}").status_code == 401
    _login(client, "worker")
    listed = client.get(f"/api/households?building={own}").get_json()["households"]
    assert listed and all(h["household_id"].startswith(own) for h in listed)
    assert client.get(f"/api/households?building={other}").status_code == 403
