"""`mapserver serve`: gunicorn over a store whose data fits the configured status scheme."""

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


def stored_codes(url: str) -> list[str]:
    """The status codes held by the store at ``url``."""
    from mapserver.store import open_store

    store = open_store(url)
    try:
        return store.status_codes()
    finally:
        store.dispose()


def scheme_problem(stored: list[str], scheme_name: str) -> str | None:
    """Say why the scheme cannot colour these status codes, or None when it can."""
    from mapserver.status.scheme import load_scheme

    known = {c.code for c in load_scheme(scheme_name).codes}
    unknown = sorted(set(stored) - known)
    if not unknown:
        return None
    return (
        f"MAPSERVER_SCHEME={scheme_name!r}: the status data holds codes "
        f"{', '.join(unknown[:8])} that {scheme_name} does not have (its codes: "
        f"{', '.join(sorted(known))}); every grid would be grey. Use the scheme the status "
        "was entered in (the demo's is hongkou6), or re-import the status in this scheme"
    )


def serve_store(
    url: str,
    host: str,
    port: int,
    *,
    workers: int,
    threads: int | None = None,
    anonymous_read: bool | None = None,
) -> int:
    """Serve the store at ``url`` under gunicorn after checking the scheme fits its data."""
    settings = load_settings(database_url=url, anonymous_read=anonymous_read)
    problem = scheme_problem(stored_codes(url), settings.scheme)
    if problem:
        print(f"设置错误 / bad setting: {problem}", file=sys.stderr)
        return 2
    return run_gunicorn(
        settings, host=host, port=port, workers=workers, threads=threads or DEFAULT_THREADS
    )


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve an existing store with gunicorn (several worker processes)."""
    url = args.database or load_settings().database_url
    return serve_store(url, args.host, args.port, workers=args.workers, threads=args.threads)


def add_serve_parser(sub) -> None:
    """The ``serve`` command."""
    serve = sub.add_parser("serve", help="serve an existing database (gunicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=default_workers(), help="server processes")
    serve.add_argument(
        "--threads", type=int, help="threads per process (each open map holds one; default 256)"
    )
    serve.set_defaults(func=cmd_serve)
