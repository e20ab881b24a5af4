"""Command line of the server's life: ``serve`` (gunicorn), ``db init``, ``backup``, ``restore``."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

from mapserver.config import Settings, load_settings
from mapserver.store.engine import OVERFLOW

# Per worker: each open map holds one for its event stream, so workers × threads must
# exceed the maps open at once (2 workers × 100 refused streams beyond 200 open maps:
# bench/load.py with 200 viewers timed streams out). An idle thread costs little memory.
DEFAULT_THREADS = 256


def default_workers() -> int:
    """Worker processes by default: one per CPU core, at least 2 and at most 8 (each runs
    Python under one lock, and more processes than cores only repeat the live feed's work
    per process: ``bench/load.py`` answered faster with 2 workers than 4 on 2 cores)."""
    return max(2, min(8, os.cpu_count() or 1))


def db_pool_for(workers: int) -> int:
    """PostgreSQL connections per worker when ``MAPSERVER_DB_POOL`` does not say: pools and
    their burst connections share 75 (PostgreSQL allows 100 by default; the rest is left to
    the command line and the administrator), between 4 and 20 per worker."""
    return max(4, min(20, 75 // max(1, workers) - OVERFLOW))


def run_gunicorn(
    settings: Settings, *, host: str, port: int, workers: int, threads: int = DEFAULT_THREADS
) -> int:
    """Serve the app with gunicorn: ``workers`` processes of ``threads`` threads (gthread).

    Server-sent event streams (``/api/stream``) each hold a thread, not a worker,
    so open maps do not starve other requests while fewer than ``workers × threads``
    connections are open. Each worker builds its own app (no database connection
    crosses a fork).
    """
    from gunicorn.app.base import BaseApplication

    class _Application(BaseApplication):
        """Gunicorn running ``create_served_app(settings)`` in each worker."""

        def load_config(self) -> None:
            options = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "worker_class": "gthread",
                "threads": threads,
                "timeout": 120,
                "graceful_timeout": 10,
                "keepalive": 5,
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "warning",
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            from mapserver.web import create_served_app

            return create_served_app(served)

    served = settings if settings.db_pool else replace(settings, db_pool=db_pool_for(workers))

    print(
        f"作战图 / command map: http://{host}:{port}/  "
        f"(gunicorn, {workers} workers × {threads} threads)",
        flush=True,
    )
    _Application().run()
    return 0


def cmd_db_init(args: argparse.Namespace) -> int:
    """Create the schema (and PostGIS on PostgreSQL) on an empty or existing database."""
    import sqlalchemy as sa

    from mapserver.store import Store

    url = args.database or load_settings().database_url
    store = Store(url)
    try:
        store.create_schema()
    except sa.exc.SQLAlchemyError as err:
        reason = str(getattr(err, "orig", err)).strip().splitlines()[0]
        print(
            f"无法建立数据库结构 / could not create the schema on {store!r}: {reason}",
            file=sys.stderr,
        )
        if "postgis" in reason.lower():
            print(
                "  PostGIS 需要安装并由超级用户启用 / PostGIS must be installed and the role "
                "allowed to CREATE EXTENSION postgis (or a superuser runs it once)",
                file=sys.stderr,
            )
        return 2
    finally:
        store.dispose()
    print(f"数据库就绪 / schema ready: {store!r}, {len(store.tables)} tables")
    return 0


def cmd_db_recount(args: argparse.Namespace) -> int:
    """Recount the stored status counts from the layers and the status table (a repair)."""
    import time

    from mapserver.store import open_store

    store = open_store(args.database or load_settings().database_url)
    try:
        started = time.perf_counter()
        rows = store.recount()
    finally:
        store.dispose()
    seconds = time.perf_counter() - started
    print(f"已重新统计 / recounted: {rows:,} count rows in {seconds:.1f} s")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Write the whole store to one backup file."""
    from mapserver.store import open_store
    from mapserver.store.backup import backup_store

    store = open_store(args.database or load_settings().database_url)
    try:
        counts = backup_store(store, args.file)
    finally:
        store.dispose()
    total = sum(counts.values())
    print(f"已备份 / backed up {total} rows of {len(counts)} tables to {args.file}")
    for name, n in counts.items():
        if n:
            print(f"  {name}: {n}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Replace the whole store with a backup file (all or nothing)."""
    from mapserver.store import open_store
    from mapserver.store.backup import BackupError, read_manifest, restore_store

    try:
        manifest = read_manifest(args.file)
    except BackupError as err:
        print(f"无法恢复 / cannot restore: {err}", file=sys.stderr)
        return 2
    store = open_store(args.database or load_settings().database_url)
    try:
        held = sum(store.row_counts().values())
        if held and not args.force:
            print(
                f"数据库非空，未恢复 / the store {store!r} holds {held} rows; "
                "restore replaces them all: add --force",
                file=sys.stderr,
            )
            return 2
        counts = restore_store(store, args.file)
    except BackupError as err:
        print(f"无法恢复，未改动 / cannot restore, nothing changed: {err}", file=sys.stderr)
        return 2
    finally:
        store.dispose()
    print(
        f"已恢复 / restored {sum(counts.values())} rows of {len(counts)} tables "
        f"from {args.file} ({manifest['source']} backup of {manifest['created_at']}); "
        "restart the app servers on this store"
    )
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add ``db init``, ``db recount``, ``backup`` and ``restore`` to the ``mapserver``
    command."""
    db = sub.add_parser("db", help="database administration")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    init = db_sub.add_parser(
        "init", help="create the schema (and PostGIS) on an empty database; safe to re-run"
    )
    init.set_defaults(func=cmd_db_init)
    recount = db_sub.add_parser(
        "recount",
        help="recount the stored status counts per building and grid (writes keep them "
        "current; a repair after editing tables by hand)",
    )
    recount.set_defaults(func=cmd_db_recount)

    backup = sub.add_parser("backup", help="write the whole store to one file (zip)")
    backup.add_argument("file")
    backup.set_defaults(func=cmd_backup)

    restore = sub.add_parser("restore", help="replace the whole store with a backup file")
    restore.add_argument("file")
    restore.add_argument(
        "--force", action="store_true", help="replace a store that already holds rows"
    )
    restore.set_defaults(func=cmd_restore)
