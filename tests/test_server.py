"""`mapserver serve` under gunicorn, `db init`, backup/restore commands, settings at start."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from mapserver.cli import main as cli_main
from mapserver.store import StatusRow, open_store
from tests.conftest import ROOT, _postgres_url


def _children(pid: int) -> list[int]:
    """Child process ids of ``pid`` (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(t) for t in text)
    return found


def _get(url: str, token: str, timeout: float = 20):
    """GET with the API token."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    return urllib.request.urlopen(request, timeout=timeout)


def _wait_up(url: str, token: str, process: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stdout.read()}")
        try:
            with _get(f"{url}/api/summary", token, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("server did not answer")


def _open_stream(port: int, token: str) -> socket.socket:
    """An open /api/stream connection that has received its first event."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        "GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    )
    sock.sendall(head.encode())
    received = b""
    while b"event: hello" not in received:
        chunk = sock.recv(4096)
        assert chunk, "stream closed before its first event"
        received += chunk
    return sock


def test_serve_runs_gunicorn_workers_and_streams_do_not_starve_requests(
    demo_store_url: str, free_port, tmp_path: Path
):
    port = free_port()
    store = open_store(demo_store_url)
    token = store.create_token("admin")
    store.dispose()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MAPSERVER_SECRET_KEY": "test-" + os.urandom(16).hex(),
    }
    command = [sys.executable, "-m", "mapserver.cli", "--database", demo_store_url, "serve"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--workers", "2", "--threads", "64"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    streams: list[socket.socket] = []
    try:
        _wait_up(url, token, process)
        assert len(_children(process.pid)) == 2  # gunicorn master and two workers
        streams = [_open_stream(port, token) for _ in range(50)]
        took = []
        for path in ("/api/summary", "/api/grids?level=community", "/api/changes?since=0"):
            started = time.monotonic()
            with _get(f"{url}{path}", token) as answer:
                assert answer.status == 200
                json.loads(answer.read())
            took.append(time.monotonic() - started)
        backend = demo_store_url.split(":")[0]
        figures = ", ".join(f"{t * 1000:.0f} ms" for t in took)
        print(f"{backend}, with 50 open event streams: {figures}")
        # a write through one worker reaches a stream held by either worker
        store = open_store(demo_store_url)
        household = store.read_households()["household_id"].iloc[0]
        seq = store.apply_status([StatusRow("household", household, "red")], user="t", source="api")
        store.dispose()
        streams[0].settimeout(10)
        received = b""
        while f"id: {seq}".encode() not in received:
            chunk = streams[0].recv(4096)
            assert chunk
            received += chunk
    finally:
        for sock in streams:
            sock.close()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_sqlite_files_are_private(tmp_path: Path):
    path = tmp_path / "db" / "store.sqlite"
    store = open_store(f"sqlite:///{path}")
    store.create_user("admin", "pw", role="admin")
    names = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
    assert all(p.exists() for p in names)
    assert {oct(p.stat().st_mode & 0o777) for p in names} == {"0o600"}
    store.dispose()
    path.chmod(0o644)  # made by an older version: tightened on the next open
    open_store(f"sqlite:///{path}").dispose()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with sa.create_engine(f"sqlite:///{path}").connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_db_init_creates_schema_and_postgis_on_an_empty_database(capsys):
    admin_url = sa.make_url(_postgres_url())
    name = f"mapserver_init_{os.getpid()}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        assert cli_main(["--database", url, "db", "init"]) == 0
        assert "schema ready" in capsys.readouterr().out
        assert cli_main(["--database", url, "db", "init"]) == 0  # safe to re-run
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            extensions = conn.exec_driver_sql("SELECT extname FROM pg_extension").scalars().all()
            tables = set(sa.inspect(conn).get_table_names())
        engine.dispose()
        assert "postgis" in extensions
        assert {"grids", "buildings", "status", "changelog", "users", "plan_versions"} <= tables
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_backup_and_restore_commands(demo_db_url: str, tmp_path: Path, capsys):
    backup = tmp_path / "demo-backup.zip"
    assert cli_main(["--database", demo_db_url, "backup", str(backup)]) == 0
    assert "households:" in capsys.readouterr().out
    target = f"sqlite:///{tmp_path / 'copy.sqlite'}"
    assert cli_main(["--database", target, "restore", str(backup)]) == 0
    source, copy = open_store(demo_db_url), open_store(target)
    restored, held = copy.row_counts(), source.row_counts()
    assert restored["audit_log"] == held["audit_log"] + 1  # the restore records itself
    assert {**restored, "audit_log": held["audit_log"]} == held
    assert copy.check_password("admin", "demo2020") is not None
    source.dispose()
    assert cli_main(["--database", target, "restore", str(backup)]) == 2
    assert "--force" in capsys.readouterr().err
    copy.create_user("extra", "pw", role="admin")
    copy.dispose()
    assert cli_main(["--database", target, "restore", str(backup), "--force"]) == 0
    copy = open_store(target)
    assert copy.get_user("extra") is None
    copy.dispose()


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("MAPSERVER_SHARE_THRESHOLD", "lots", "not a number"),
        ("MAPSERVER_SHARE_THRESHOLD", "7", "share in (0, 1]"),
        ("MAPSERVER_SCHEME", "hongkou7", "available: area3, hangzhou4, hongkou6"),
        ("MAPSERVER_COLOUR_RULE", "best", "one of worst, share"),
        ("MAPSERVER_BASEMAP", "google", "one of none, osm, gaode"),
        ("DATABASE_URL", "mysql://x/y", "not sqlite or postgresql"),
    ],
)
def test_a_bad_setting_stops_every_command_with_exit_2(
    monkeypatch, capsys, tmp_path, variable, value, said
):
    monkeypatch.setenv(variable, value)
    monkeypatch.chdir(tmp_path)
    assert cli_main(["export", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert variable in err and said in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "instance").exists()


def test_serve_refuses_a_scheme_that_does_not_fit_the_stored_status(
    demo_db_url: str, monkeypatch, capsys
):
    monkeypatch.setenv("MAPSERVER_SCHEME", "area3")
    assert cli_main(["--database", demo_db_url, "serve"]) == 2
    err = capsys.readouterr().err
    assert "MAPSERVER_SCHEME='area3'" in err and "red" in err and "hongkou6" in err


def test_postgres_connections_are_pooled_within_the_server_limit(store_url):
    """Each worker keeps a pool sized for its busy threads, and all workers' pools with
    their burst connections stay within PostgreSQL's default 100 connections."""
    from mapserver.cli.server import db_pool_for
    from mapserver.store.engine import OVERFLOW

    for workers in range(1, 9):
        assert 4 <= db_pool_for(workers) <= 20
        assert workers * (db_pool_for(workers) + OVERFLOW) <= 75
    store = open_store(store_url, pool_size=7)
    try:
        if store.dialect == "postgresql":
            assert store.engine.pool.size() == 7
            held = [store.engine.connect() for _ in range(7 + OVERFLOW)]
            assert store.engine.pool.checkedout() == 7 + OVERFLOW
            for conn in held:
                conn.close()
            assert store.engine.pool.checkedin() == 7  # bursts closed, the pool kept
        assert store.last_seq() == 0
    finally:
        store.dispose()
