"""Database engines (SQLite in WAL mode, PostgreSQL via psycopg 3) and fast row fetching."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

FILE_MODE = 0o600  # the store holds personal data: owner read/write only
OVERFLOW = 5  # PostgreSQL connections opened for a burst beyond the pool, closed after


def make_engine(url: str, *, pool_size: int | None = None) -> sa.Engine:
    """Create the engine: SQLite in WAL mode with a busy timeout, or PostgreSQL via psycopg 3.

    Parameters
    ----------
    url
        ``sqlite:///path`` (parent folder created), ``sqlite://`` (in memory, one
        shared connection) or ``postgresql[+psycopg]://...``.
    pool_size
        PostgreSQL connections kept open (default 10); SQLite keeps one per thread.

    Returns
    -------
    The engine. On SQLite, connections run with ``execution_options(mapserver_write=True)``
    open their transactions with ``BEGIN IMMEDIATE`` (the write lock at once).
    """
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        # No ping before each checkout (a tenth of a map request's time went to it): after
        # a database restart the first request on a dead connection fails with a 503,
        # and SQLAlchemy then replaces the whole pool (a disconnect invalidates it).
        # A pool large enough for the busy threads of one process: a connection opened
        # beyond it is closed again when returned, and a new PostgreSQL backend per
        # request costs more than the request (``bench/load.py``: p95 8.9 s -> 0.4 s).
        return sa.create_engine(
            parsed, pool_recycle=1800, pool_size=pool_size or 10, max_overflow=OVERFLOW
        )
    database = parsed.database or ""
    in_memory = database in ("", ":memory:")
    if in_memory:
        engine = sa.create_engine(
            parsed, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        if not database.startswith("file:"):
            _private_file(Path(database).expanduser())
        # one connection per serving thread (see cli.server.DEFAULT_THREADS): SQLite
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


class WriterGate:
    """One writer at a time on a SQLite file, waited for in line rather than by polling.

    SQLite's busy handler makes a blocked writer sleep and retry with growing pauses,
    so under many writes a second from several server processes some writes wait the
    whole busy timeout and fail. Here a writer first takes its process's lock, then an
    advisory lock on ``<database>.writelock`` (the kernel wakes the next waiter when it
    is released), and only then opens its transaction: the database lock is free by
    then. Other programs writing the file without the gate are still covered by the
    busy timeout. PostgreSQL needs no gate.
    """

    def __init__(self, database: Path) -> None:
        self.path = Path(f"{database}.writelock")
        self._local = threading.RLock()  # a nested write waits on SQLite, as before
        self._depth = 0
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked worker opens its own
            self._fd = os.open(self.path, os.O_CREAT | os.O_RDWR, FILE_MODE)
            self._pid = os.getpid()
        return self._fd

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the gate for one write transaction."""
        with self._local:
            self._depth += 1
            try:
                if self._depth == 1:
                    fcntl.flock(self._file(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    if self._depth == 1:
                        fcntl.flock(self._file(), fcntl.LOCK_UN)
            finally:
                self._depth -= 1

    def close(self) -> None:
        """Close the lock file (a later write opens it again)."""
        with self._local:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None


def writer_gate(engine: sa.Engine) -> WriterGate | None:
    """The gate for a SQLite file engine (None in memory and on PostgreSQL)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return WriterGate(Path(database).expanduser())
