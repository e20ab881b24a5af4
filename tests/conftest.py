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

import pytest

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


@pytest.fixture
def admin_token(app) -> str:
    """An API token of the demo admin."""
    return app.extensions["store"].create_token("admin")


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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").get_json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


@pytest.fixture(scope="session")
def wait_job():
    """A function (client, job id) -> the finished job, polling /api/jobs/<id>."""
    return _wait_for_job
