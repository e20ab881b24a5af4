"""`mapserver db init`, `db recount`, `backup` and `restore`: the store's administration."""

from __future__ import annotations

import argparse
import sys

from mapserver.cli.common import store_of
from mapserver.config import load_settings


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

    with store_of(args) as store:
        started = time.perf_counter()
        rows = store.recount()
    seconds = time.perf_counter() - started
    print(f"已重新统计 / recounted: {rows:,} count rows in {seconds:.1f} s")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Write the whole store to one backup file."""
    from mapserver.store.backup import backup_store

    with store_of(args) as store:
        counts = backup_store(store, args.file)
    total = sum(counts.values())
    print(f"已备份 / backed up {total} rows of {len(counts)} tables to {args.file}")
    for name, n in counts.items():
        if n:
            print(f"  {name}: {n}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Replace the whole store with a backup file (all or nothing)."""
    from mapserver.store.backup import BackupError, read_manifest, restore_store

    try:
        manifest = read_manifest(args.file)
    except BackupError as err:
        print(f"无法恢复 / cannot restore: {err}", file=sys.stderr)
        return 2
    with store_of(args) as store:
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
    print(
        f"已恢复 / restored {sum(counts.values())} rows of {len(counts)} tables "
        f"from {args.file} ({manifest['source']} backup of {manifest['created_at']}); "
        "restart the app servers on this store"
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
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
