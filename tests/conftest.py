"""Shared fixtures: the demo district in a store, the web app, a live server, Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import sqlalchemy as sa
from shapely.geometry import box

from mapserver.config import test_database_url
from mapserver.store import Store, open_store

ROOT = Path(__file__).resolve().parent.parent
DEMO_PASSWORD = "demo2020"
# Real data of Chinese cities (OSM, a 街道/社区/网格 tree, BD-09 points): ../shared/realdata
REALDATA = Path(os.environ.get("MAPSERVER_REALDATA", ROOT.parent / "shared" / "realdata"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_STARTED_PG: dict[str, str] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Start a throwaway PostgreSQL/PostGIS for the store tests when none is configured.

    The cluster gets its own folder and a free port, and is stopped when the run ends.
    """
    if os.environ.get("MAPSERVER_TEST_PG_URL"):
        return
    script = ROOT / ".ci" / "start_postgres.sh"
    if not script.is_file() or not Path("/usr/lib/postgresql").is_dir():
        return
    data_dir = Path(
        os.environ.get("MAPSERVER_TEST_PG_DIR", f"/tmp/mapserver-test-pg-{os.getpid()}")
    )
    port = os.environ.get("MAPSERVER_TEST_PG_PORT") or str(_free_port())
    result = subprocess.run(
        ["bash", str(script), str(data_dir), port],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in result.stdout.splitlines():
        if line.startswith("export MAPSERVER_TEST_PG_URL="):
            os.environ["MAPSERVER_TEST_PG_URL"] = line.split("=", 1)[1].strip().strip("'\"")
            _STARTED_PG["data_dir"] = str(data_dir)
    if "MAPSERVER_TEST_PG_URL" not in os.environ:
        print(f"PostgreSQL test server did not start:\n{result.stdout}\n{result.stderr}")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the PostgreSQL cluster this run started, and remove its folder."""
    data_dir = _STARTED_PG.pop("data_dir", None)
    if data_dir is None:
        return
    pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
    command = [str(pg_ctl), "-D", data_dir, "-m", "fast", "stop"]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, capture_output=True, check=False)
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The shared real-data folder; tests that need it skip when it is absent."""
    if not REALDATA.is_dir():
        pytest.skip(f"real data not found at {REALDATA} (set MAPSERVER_REALDATA)")
    return REALDATA


@pytest.fixture(scope="session")
def free_port():
    """A function returning a free local TCP port."""
    return _free_port


@pytest.fixture(scope="session")
def demo_layers() -> dict:
    """The demo district at scale 1, generated once per test session."""
    from mapserver.demo import generate_demo

    return generate_demo(seed=2020, scale=1.0)


@pytest.fixture(scope="session")
def demo_db_template(tmp_path_factory: pytest.TempPathFactory, demo_layers: dict) -> Path:
    """A SQLite file holding the demo district and its users, built once."""
    from mapserver.store import open_store

    path = tmp_path_factory.mktemp("demo-db") / "demo.sqlite"
    store = open_store(f"sqlite:///{path}")
    store.import_layers(demo_layers, user="demo")
    store.create_user("admin", DEMO_PASSWORD, role="admin")
    micro = demo_layers["grids"].query("level == 'micro'").iloc[0]
    store.create_user("worker", DEMO_PASSWORD, role="worker", grid_id=str(micro["grid_id"]))
    store.dispose()
    return path


@pytest.fixture
def demo_db_url(tmp_path: Path, demo_db_template: Path) -> str:
    """A private copy of the demo database for one test."""
    target = tmp_path / "demo.sqlite"
    shutil.copy(demo_db_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def app(demo_db_url: str):
    """The web app over a private copy of the demo database."""
    from mapserver.web import create_app

    app = create_app({"database_url": demo_db_url, "secret_key": "test"})
    app.config["TESTING"] = True
    yield app
    app.extensions["store"].dispose()


@pytest.fixture
def client(app):
    """A Flask test client."""
    return app.test_client()


def _login_form(client, username: str, password: str = DEMO_PASSWORD, *, next_path: str = ""):
    """Post the login form as a browser does: first the page (for its CSRF token), then the form.

    Returns the response of the POST.
    """
    client.get("/login")
    with client.session_transaction() as session:
        csrf = session["csrf"]
    data = {"username": username, "password": password, "csrf": csrf}
    return client.post(f"/login{next_path}", data=data)


@pytest.fixture
def login():
    """A function (client, username, password=demo password) -> the session's CSRF token
    after logging in through the login form."""

    def _login(client, username: str, password: str = DEMO_PASSWORD) -> str:
        response = _login_form(client, username, password)
        assert response.status_code == 302, response.get_data(as_text=True)
        with client.session_transaction() as session:
            return session["csrf"]

    return _login


@pytest.fixture
def admin_token(app) -> str:
    """An API token of the demo admin."""
    return app.extensions["store"].create_token("admin")


@pytest.fixture
def viewer(app, admin_token):
    """A test client sending the demo admin's API token with every request (reading
    needs a login unless anonymous reading is on)."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {admin_token}"
    return client


class LiveServer:
    """A real HTTP server for one app, in a background thread."""

    def __init__(self, app) -> None:
        from werkzeug.serving import make_server

        self.port = _free_port()
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    """The app served over HTTP on a free local port."""
    with LiveServer(app) as server:
        yield server


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required in CI (apt-get install chromium)")
        pytest.skip("Debian chromium not installed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def offline_page(browser):
    """A page that can reach only 127.0.0.1: every other request is aborted."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    blocked: list[str] = []

    def _route(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "http://localhost", "data:", "blob:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    context.route("**/*", _route)
    page = context.new_page()
    page.blocked = blocked  # type: ignore[attr-defined]
    yield page
    context.close()


def _wait_for_job(client, job_id: str, timeout: float = 60.0) -> dict:
    # reading a job needs a login: poll with an admin token of the client's own app
    token = client.application.extensions["store"].create_token("admin")
    auth = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}", headers=auth).get_json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


@pytest.fixture(scope="session")
def wait_job():
    """A function (client, job id) -> the finished job, polling /api/jobs/<id>."""
    return _wait_for_job


# -- stores on both backends (SQLite file, PostgreSQL/PostGIS) and a tiny district ---------
def _postgres_url() -> str:
    """Return the PostgreSQL test URL, skipping (locally) or failing (CI) without one."""
    url = test_database_url()
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail("MAPSERVER_TEST_PG_URL is not set: CI must run the PostgreSQL store tests")
    pytest.skip("MAPSERVER_TEST_PG_URL is not set (run .ci/start_postgres.sh to get one)")


def _empty_postgres(url: str) -> None:
    """Drop every table of the public schema so each test starts from nothing."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
            names = conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'spatial_ref_sys'"
            ).scalars()
            for name in list(names):
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}" CASCADE')
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """The URL of an empty store: a SQLite file, or the test PostgreSQL emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'store.sqlite'}"
    url = _postgres_url()
    _empty_postgres(url)
    return url


@pytest.fixture
def store(store_url: str):
    """An empty store with its schema, on each backend."""
    opened = open_store(store_url)
    yield opened
    opened.dispose()


@pytest.fixture
def district() -> dict[str, pd.DataFrame]:
    """A tiny deterministic district: 3 grids in a tree, 4 buildings, 10 households, status.

    Coordinates are degrees (EPSG:4326) near Shanghai's Hongkou district.
    """
    x0, y0 = 121.48, 31.26
    grids = gpd.GeoDataFrame(
        {
            "grid_id": ["G", "G-1", "G-2"],
            "parent_id": [None, "G", "G"],
            "level": ["community", "micro", "micro"],
            "name": ["欧阳居委", "微网格一", "微网格二"],
            "person": ["王芳", "李强", None],
            "phone": ["13800000000", None, None],
            "target_households": [None, 5, 5],
            "area_class": ["controlled", "sealed", "none"],
            "version": [1, 1, 1],
        },
        geometry=[
            box(x0, y0, x0 + 0.02, y0 + 0.01),
            box(x0, y0, x0 + 0.01, y0 + 0.01),
            box(x0 + 0.01, y0, x0 + 0.02, y0 + 0.01),
        ],
        crs="EPSG:4326",
    )
    footprints = [
        box(x0 + 0.001, y0 + 0.001, x0 + 0.002, y0 + 0.002),
        box(x0 + 0.006, y0 + 0.006, x0 + 0.008, y0 + 0.007),
        box(x0 + 0.012, y0 + 0.002, x0 + 0.013, y0 + 0.004),
        box(x0 + 0.017, y0 + 0.007, x0 + 0.019, y0 + 0.009),
    ]
    buildings = gpd.GeoDataFrame(
        {
            "building_id": ["B1", "B2", "B3", "B4"],
            "grid_id": ["G-1", "G-1", "G-2", "G-2"],
            "name": ["1号楼", "2号楼", "3号楼", "4号楼"],
            "address": ["欧阳路1号", None, "欧阳路3号", None],
            "compound_id": ["C1", "C1", None, None],
            "units": [1, 2, 1, 1],
            "households": [3, 3, 2, 2],
            "residents": [7, 6, 4, 5],
            "gate_node": ["N1", "N1", "N2", None],
        },
        geometry=footprints,
        crs="EPSG:4326",
    )
    household_buildings = ["B1"] * 3 + ["B2"] * 3 + ["B3"] * 2 + ["B4"] * 2
    households = pd.DataFrame(
        {
            "household_id": [f"H{i:02d}" for i in range(1, 11)],
            "building_id": household_buildings,
            "unit": ["1", "1", "1", "1", "2", "2", "1", "1", "1", "1"],
            "room": ["101", "102", "201", "101", "101", "201", "101", "102", "101", "201"],
            "residents": [2, 3, 2, 1, 3, 2, 2, 2, 3, 2],
        }
    )
    status = pd.DataFrame(
        {
            "entity_kind": ["household"] * 4 + ["building"],
            "entity_id": ["H01", "H02", "H04", "H07", "B4"],
            "status": ["green", "red", "yellow", "blue", "green"],
            "persons": [2, 3, None, 2, 5],
            "updated_at": ["2020-02-01T08:00:00+00:00"] * 5,
            "source": ["import"] * 5,
        }
    )
    return {"grids": grids, "buildings": buildings, "households": households, "status": status}


@pytest.fixture
def loaded(store: Store, district: dict[str, pd.DataFrame]) -> Store:
    """A store holding the tiny district."""
    store.import_layers(district, user="loader")
    return store


@pytest.fixture(params=["sqlite", "postgresql"])
def demo_store_url(request: pytest.FixtureRequest, demo_db_url: str, demo_layers: dict) -> str:
    """The demo district with its users, on each backend (PostgreSQL emptied first)."""
    if request.param == "sqlite":
        return demo_db_url
    url = _postgres_url()
    _empty_postgres(url)
    store = open_store(url)
    store.import_layers(demo_layers, user="demo")
    store.create_user("admin", DEMO_PASSWORD, role="admin")
    store.dispose()
    return url


@pytest.fixture
def open_map():
    """Open the command map at ``url`` in a page, logging in as admin when asked, and wait
    until it has drawn."""

    def _open(page, url: str) -> None:
        page.goto(url)
        if "/login" in page.url:
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", DEMO_PASSWORD)
            page.click("button[type=submit]")
        page.wait_for_selector("body[data-ready='1']", timeout=20_000)

    return _open
