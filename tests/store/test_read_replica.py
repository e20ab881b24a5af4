"""A read replica (DATABASE_READ_URL): the map reads from it, logins and writes use the
primary. The "replica" here is a second PostgreSQL database brought up to date by hand,
as streaming replication would."""

from __future__ import annotations

import time

import sqlalchemy as sa

from mapserver.config import check_settings, load_settings
from mapserver.store import StatusRow, open_store
from mapserver.web import create_app
from mapserver.web.api import MAP_MAX_AGE_S
from tests.conftest import _empty_postgres, _postgres_url


def _second_database(url: str) -> str:
    """The URL of an empty database beside ``url``'s, made once."""
    base = sa.make_url(url)
    name = f"{base.database}_replica"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if found is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    replica = base.set(database=name).render_as_string(hide_password=False)
    _empty_postgres(replica)
    return replica


def test_map_reads_come_from_the_replica_and_logins_from_the_primary(demo_layers):
    primary = _postgres_url()
    _empty_postgres(primary)
    replica = _second_database(primary)
    stores = {}
    for url in (primary, replica):
        stores[url] = open_store(url)
        stores[url].import_layers(demo_layers, user="demo")
    stores[primary].create_user("admin", "replica-test-2026", role="admin")
    token = stores[primary].create_token("admin")  # the replica holds no user at all
    app = create_app({"database_url": primary, "database_read_url": replica, "secret_key": "t"})
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    try:
        before = client.get("/api/summary")
        assert before.status_code == 200  # the token was checked on the primary
        red = before.get_json()["counts"].get("red", 0)
        household = str(demo_layers["households"]["household_id"].iloc[0])
        current = stores[primary].read_status(ids=[household])["status"].tolist()
        code = "green" if current == ["red"] else "red"
        write = client.post("/api/status", json={"entity_id": household, "status": code})
        assert write.status_code == 200, write.get_json()
        assert stores[primary].read_status(ids=[household])["status"].tolist() == [code]
        time.sleep(MAP_MAX_AGE_S + 0.1)
        assert client.get("/api/summary").get_json()["counts"].get("red", 0) == red  # not yet
        rows = [StatusRow("household", household, code)]
        stores[replica].apply_status(rows, user="replication", source="test")
        time.sleep(MAP_MAX_AGE_S + 0.1)
        after = client.get("/api/summary").get_json()["counts"].get("red", 0)
        assert after == red + (1 if code == "red" else -1)  # the replica caught up: the map too
    finally:
        app.extensions["store"].dispose()
        for store in stores.values():
            store.dispose()


def test_a_replica_needs_postgresql():
    settings = load_settings(
        database_url="sqlite:///x.sqlite", database_read_url="sqlite:///y.sqlite"
    )
    problems = check_settings(settings)
    assert any(p.startswith("DATABASE_READ_URL=") and "PostgreSQL" in p for p in problems)
