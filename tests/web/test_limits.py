"""Limits: request size (413), bounded numbers (400 naming the field), jobs (clamp, 429)."""

from __future__ import annotations

import threading

import pytest

from mapserver.services.jobs import JobQueueFull, JobRunner
from mapserver.store import open_store


@pytest.fixture
def small_app(demo_db_url):
    """The app with tight limits: 10 KB requests, 1 s solves, 3 vans, 2 queued jobs."""
    from mapserver.web import create_app

    app = create_app(
        {
            "database_url": demo_db_url,
            "secret_key": "test",
            "max_request_mb": 0.01,
            "max_job_time_s": 1.0,
            "max_vehicles": 3,
            "job_queue": 2,
        }
    )
    app.config["TESTING"] = True
    yield app
    app.extensions["store"].dispose()


def _auth(app) -> dict:
    return {"Authorization": f"Bearer {app.extensions['store'].create_token('admin')}"}


def _grid(demo_layers, level: str) -> str:
    grids = demo_layers["grids"]
    return str(grids[grids["level"] == level]["grid_id"].iloc[0])


def test_default_request_limit_is_100_mb(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 100 * 1024 * 1024


def test_large_body_gets_413_with_a_json_message(small_app):
    client = small_app.test_client()
    body = b"household_id,status\n" + b"H-1,red\n" * 4_000  # 32 KB > 10 KB
    import io

    response = client.post(
        "/api/status/upload",
        data={"file": (io.BytesIO(body), "status.csv")},
        headers=_auth(small_app),
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    answer = response.get_json()
    assert answer["code"] == "request_too_large" and "0.01 MB" in answer["message"]
    english = client.post(
        "/api/status?lang=en", data=body, headers=_auth(small_app), content_type="text/csv"
    )
    assert english.status_code == 413 and "at most 0.01 MB" in english.get_json()["message"]


def _cases(demo_layers) -> list[tuple[str, str, object, str]]:
    small = _grid(demo_layers, "small")
    closure = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Point", "coordinates": [121.5, 31.2]},
            }
        ],
    }
    return [
        ("get", "/api/changes?since=1e23", None, "since"),
        ("get", "/api/changes?since=-1", None, "since"),
        ("get", f"/api/changes?since={2**70}", None, "since"),
        ("post", "/api/roads/closures?buffer_m=1e12", closure, "buffer_m"),
        ("post", "/api/roads/closures?buffer_m=-3", closure, "buffer_m"),
        ("get", f"/api/cordon?grid={small}&max_outward_m=1e9", None, "max_outward_m"),
        ("get", f"/api/entrances?grid={small}&tolerance_m=nan", None, "tolerance_m"),
        ("get", f"/api/cordon/tradeoff?grid={small}&household_cost=inf", None, "household_cost"),
        ("post", f"/api/planner/{small}/people", {"per_volunteer": [0, 0]}, "per_volunteer"),
        ("post", f"/api/planner/{small}/people", {"per_volunteer": [5, 3]}, "per_volunteer"),
        ("post", f"/api/planner/{small}/versions", {"base_version": 1e308}, "base_version"),
        ("post", f"/api/planner/{small}/rollback", {"version": -1}, "version"),
        ("get", "/api/planner/compare?a=1e99&b=1", None, "a"),
        ("post", "/api/delivery/plans", {"vans": 100_000}, "vans"),
        ("post", "/api/delivery/plans", {"tricycles": -1}, "tricycles"),
        ("post", "/api/delivery/plans", {"time_limit_s": 1e9}, "time_limit_s"),
        ("post", "/api/delivery/plans", {"trips": 0}, "trips"),
        ("post", "/api/delivery/plans", {"boxes_per_household": 1e308}, "boxes_per_household"),
        ("post", "/api/patrol/plans", {"grids": [small], "teams": 1000}, "teams"),
        ("post", "/api/patrol/plans", {"grids": [small], "shift_h": 0}, "shift_h"),
        ("get", "/api/grids?bbox=0,0,1e400,1", None, "bbox"),
        ("get", "/api/buildings?bbox=0,0,500,1", None, "bbox"),
    ]


def test_every_bounded_number_out_of_range_gives_400_naming_field_and_range(
    app, client, demo_layers
):
    auth = _auth(app)
    for method, url, body, field in _cases(demo_layers):
        response = getattr(client, method)(url, json=body, headers=auth)
        assert response.status_code == 400, (url, body, response.status_code)
        issues = response.get_json()["issues"]
        assert issues[0]["field"] == field, (url, issues)
        reason = issues[0]["reason"]
        if field not in ("bbox",) and "minimum" not in reason:
            assert "allowed" in reason or "not a" in reason, (url, reason)


def test_numbers_in_range_are_still_accepted(app, client, demo_layers):
    auth = _auth(app)
    small = _grid(demo_layers, "small")
    assert client.get("/api/changes?since=0", headers=auth).status_code == 200
    assert client.get("/api/changes?since=3.0", headers=auth).status_code == 200
    response = client.post(
        f"/api/planner/{small}/people",
        json={"assignment": {}, "per_volunteer": [3, 5]},
        headers=auth,
    )
    assert response.status_code == 200


def test_event_distance_is_bounded(app, client):
    import io

    data = {
        "file": (io.BytesIO(b"event_id,lon,lat\nE1,121.5,31.2\n"), "cases.csv"),
        "max_distance_m": "1e12",
    }
    response = client.post(
        "/api/events/upload", data=data, headers=_auth(app), content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert response.get_json()["issues"][0]["field"] == "max_distance_m"


def test_vehicle_counts_follow_the_setting_and_time_limit_is_clamped(small_app, wait_job):
    client = small_app.test_client()
    auth = _auth(small_app)
    refused = client.post("/api/delivery/plans", json={"vans": 4}, headers=auth)
    assert refused.status_code == 400
    assert "allowed 0 to 3" in refused.get_json()["issues"][0]["reason"]
    started = client.post(
        "/api/delivery/plans", json={"vans": 3, "time_limit_s": 600}, headers=auth
    )
    assert started.status_code == 202
    job = wait_job(client, started.get_json()["job_id"], timeout=120)
    assert job["params"]["time_limit_s"] == 1.0


def test_stops_the_service_builds_from_the_status_are_bounded_too(demo_db_url, wait_job):
    """A run planned from the live status (no uploaded orders) over ``max_stops`` fails its
    job with the count and the limit, before any solving; the CLI uses the same setting."""
    from mapserver.web import create_app

    app = create_app({"database_url": demo_db_url, "secret_key": "test", "max_stops": 3})
    try:
        client = app.test_client()
        started = client.post("/api/delivery/plans", json={"statuses": ["red"]}, headers=_auth(app))
        assert started.status_code == 202
        job = wait_job(client, started.get_json()["job_id"], timeout=60)
        assert job["state"] == "failed"
        assert "at most 3 per run" in job["error"] and "MAPSERVER_MAX_STOPS" in job["error"]
        assert app.extensions["store"].list_route_plans(kind="delivery") == []
    finally:
        app.extensions["store"].dispose()


def test_cli_deliver_refuses_more_stops_than_the_setting(demo_db_url, monkeypatch, capsys):
    from mapserver.cli import main as cli_main

    monkeypatch.setenv("MAPSERVER_MAX_STOPS", "3")
    code = cli_main(["--database", demo_db_url, "deliver", "--status", "red"])
    assert code == 2
    assert "at most 3 per run" in capsys.readouterr().err


def test_one_job_per_user_and_a_bounded_queue(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    runner = JobRunner(store, workers=1, max_queue=2)
    release = threading.Event()
    done = threading.Event()

    def blocked(progress):
        release.wait(30)
        return {}

    runner.submit("test", {}, blocked, user="a")
    with pytest.raises(JobQueueFull) as busy:
        runner.submit("test", {}, blocked, user="a")
    assert busy.value.key == "job_running" and busy.value.values == {"user": "a"}
    runner.submit("test", {}, blocked, user="b")
    with pytest.raises(JobQueueFull) as full:
        runner.submit("test", {}, blocked, user="c")
    assert full.value.key == "job_queue_full"
    release.set()
    runner.shutdown()
    runner = JobRunner(store, workers=1, max_queue=2)
    runner.submit("test", {}, lambda progress: done.set() or {}, user="a")  # a's slot is free
    assert done.wait(10)
    runner.shutdown()
    store.dispose()


def test_busy_user_gets_429(app, client, demo_layers):
    release = threading.Event()
    jobs = app.extensions["jobs"]
    jobs.submit("test", {}, lambda progress: release.wait(30) and {}, user="admin")
    try:
        response = client.post(
            "/api/patrol/plans?lang=en",
            json={"grids": [_grid(demo_layers, "small")]},
            headers=_auth(app),
        )
        assert response.status_code == 429
        answer = response.get_json()
        assert answer["code"] == "too_many_jobs" and "admin" in answer["message"]
    finally:
        release.set()


def test_vrt_upload_is_refused_without_leaking_the_file_it_names(app, client, tmp_path):
    import io
    import sqlite3

    secret = tmp_path / "secret.sqlite"
    with sqlite3.connect(secret) as con:
        con.execute("CREATE TABLE users (username TEXT, hash TEXT)")
        con.execute("INSERT INTO users VALUES ('admin', 'pbkdf2:SECRETHASH')")
    vrt = (
        f'<OGRVRTDataSource><OGRVRTLayer name="users"><SrcDataSource>{secret}</SrcDataSource>'
        "<SrcSQL>SELECT * FROM users</SrcSQL></OGRVRTLayer></OGRVRTDataSource>"
    )
    store = app.extensions["store"]
    before = len(store.read_grids())
    response = client.post(
        "/api/import",
        data={"file": (io.BytesIO(vrt.encode()), "grids.geojson"), "replace": "1"},
        headers=_auth(app),
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "grids.geojson" in text and "not GeoJSON" in text
    assert "SECRETHASH" not in text and "OGRVRT" not in text
    assert len(store.read_grids()) == before
