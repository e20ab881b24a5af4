"""Database engines (SQLite in WAL mode, PostgreSQL via psycopg 3) and fast row fetching."""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

FILE_MODE = 0o600  # the store holds personal data: owner read/write only


def make_engine(url: str) -> sa.Engine:
    """Create the engine: SQLite in WAL mode with a busy timeout, or PostgreSQL via psycopg 3.

    Parameters
    ----------
    url
        ``sqlite:///path`` (parent folder created), ``sqlite://`` (in memory, one
        shared connection) or ``postgresql[+psycopg]://...``.

    Returns
    -------
    The engine. On SQLite, connections run with ``execution_options(mapserver_write=True)``
    open their transactions with ``BEGIN IMMEDIATE`` (the write lock at once).
    """
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    database = parsed.database or ""
    in_memory = database in ("", ":memory:")
    if in_memory:
        engine = sa.create_engine(
            parsed, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        if not database.startswith("file:"):
            _private_file(Path(database).expanduser())
        # one connection per serving thread (see cli_server.DEFAULT_THREADS): SQLite
        # connections are cheap, waiting 30 s for a pooled one is not
        engine = sa.create_engine(parsed, pool_size=10, max_overflow=120)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy's "begin" event (below) issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Writers take the write lock at once, so a read-then-write never fails on upgrade.
        immediate = conn.get_execution_options().get("mapserver_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _private_file(path: Path) -> None:
    """Create the SQLite file (and its folder) readable by its owner only.

    SQLite gives the -wal and -shm files the mode of the database file, so they
    follow; files made by an older version are tightened here too.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, FILE_MODE))
    for suffix in ("", "-wal", "-shm", "-journal"):
        side = Path(f"{path}{suffix}")
        if side.exists() and side.stat().st_mode & 0o777 != FILE_MODE:
            side.chmod(FILE_MODE)


def fetch_rows(conn: sa.Connection, query: sa.Select) -> list[tuple]:
    """Run a query and return the driver's plain row tuples (no per-row SQLAlchemy work).

    Values are as the driver gives them: the frame builder types them by column.
    """
    result = conn.execute(query)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()
