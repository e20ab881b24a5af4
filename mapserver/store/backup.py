"""Whole-store backup and restore: one zip of JSON lines per table, portable across backends."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import shapely
import sqlalchemy as sa

from mapserver.store import audit
from mapserver.store.counts import recount_all
from mapserver.store.frames import selectable
from mapserver.store.writes import bulk_insert, utc_now

if TYPE_CHECKING:
    from mapserver.store.sql import Store

FORMAT = "mapserver-backup"
FORMAT_VERSION = 1
_CHUNK = 10_000


class BackupError(ValueError):
    """A backup file that cannot be restored here; the message names the file and why."""


def _kind(column: sa.Column) -> str:
    """How a column's values travel: ``geometry`` (WKB hex), ``bytes`` (base64) or ``plain``."""
    if column.name == "geometry":
        return "geometry"
    if isinstance(column.type, sa.LargeBinary):
        return "bytes"
    return "plain"


def _selected(store: Store, table: sa.Table) -> list[sa.ColumnElement]:
    """The table's columns to read, geometry as WKB on both backends."""
    return selectable(table, store.dialect)


def _encode(value: object, kind: str) -> object:
    """A JSON-ready value of one cell."""
    if value is None or kind == "plain":
        return value
    raw = bytes(value)  # type: ignore[arg-type]
    return raw.hex() if kind == "geometry" else base64.b64encode(raw).decode("ascii")


def _decode(value: object, kind: str, dialect: str) -> object:
    """The value to insert for one cell read from a backup."""
    if value is None or kind == "plain":
        return value
    if kind == "bytes":
        return base64.b64decode(str(value))
    if dialect == "postgresql":
        geometry = shapely.set_srid(shapely.from_wkb(str(value)), 4326)
        return shapely.to_wkb(geometry, hex=True, include_srid=True)
    return bytes.fromhex(str(value))


def _tables(store: Store) -> list[sa.Table]:
    """Every table of the store in dependency order."""
    return list(store.metadata.sorted_tables)


def backup_store(store: Store, path: str | Path) -> dict[str, int]:
    """Write the whole store (every table, all rows) to one zip file.

    The file holds ``manifest.json`` (format, version, source backend, time, tables
    with their columns and row counts) and ``tables/<name>.jsonl``: one JSON array
    per row, geometry as WKB hex (EPSG:4326), binary columns as base64. All tables
    are read in one transaction, so the copy is consistent while servers write.

    Returns
    -------
    Rows written per table.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    manifest: dict = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "created_at": utc_now(),
        "source": store.dialect,
        "tables": {},
    }
    partial = path.with_name(path.name + ".partial")
    with (
        zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        store.engine.connect() as conn,
    ):
        if store.dialect == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        else:
            # the read transaction's snapshot starts at its first read
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master")
        for table in _tables(store):
            columns = list(table.columns)
            kinds = [_kind(c) for c in columns]
            order = list(table.primary_key.columns)
            query = sa.select(*_selected(store, table)).order_by(*order)
            n = 0
            with archive.open(f"tables/{table.name}.jsonl", "w") as raw:
                out = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
                result = conn.execution_options(yield_per=_CHUNK).execute(query)
                for row in result:
                    cells = [_encode(v, k) for v, k in zip(row, kinds, strict=True)]
                    out.write(json.dumps(cells, ensure_ascii=False) + "\n")
                    n += 1
                out.flush()
                out.detach()
            counts[table.name] = n
            manifest["tables"][table.name] = {
                "columns": [c.name for c in columns],
                "kinds": kinds,
                "rows": n,
            }
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
    partial.replace(path)
    return counts


def read_manifest(path: str | Path) -> dict:
    """The manifest of a backup file; BackupError when it is not one this version reads."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read("manifest.json").decode("utf-8"))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as err:
        msg = f"{path}: not a mapserver backup ({err})"
        raise BackupError(msg) from err
    if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
        msg = (
            f"{path}: format {manifest.get('format')!r} version {manifest.get('version')!r}; "
            f"this mapserver reads {FORMAT!r} version {FORMAT_VERSION}"
        )
        raise BackupError(msg)
    return manifest


def _rows(archive: zipfile.ZipFile, name: str) -> Iterator[list]:
    """The rows of one table in a backup, one JSON array per line."""
    with archive.open(f"tables/{name}.jsonl") as raw:
        for line in io.TextIOWrapper(raw, encoding="utf-8"):
            if line.strip():
                yield json.loads(line)


def _check_fits(store: Store, manifest: dict, path: Path) -> None:
    """Refuse a backup holding tables or columns this version of the store does not know."""
    known = {t.name: {c.name for c in t.columns} for t in _tables(store)}
    problems = []
    for name, info in manifest["tables"].items():
        if name not in known:
            problems.append(f"table {name!r} is unknown here")
            continue
        extra = sorted(set(info["columns"]) - known[name])
        if extra:
            problems.append(f"table {name!r}: columns {', '.join(extra)} are unknown here")
    if problems:
        msg = f"{path}: written by another version of mapserver: {'; '.join(problems)}"
        raise BackupError(msg)


def _reset_sequences(conn: sa.Connection, tables: list[sa.Table]) -> None:
    """Move PostgreSQL serial sequences past the restored ids (SQLite does this itself)."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, sa.Integer):
            continue
        sequence = conn.exec_driver_sql(
            "SELECT pg_get_serial_sequence(%s, %s)", (table.name, keys[0].name)
        ).scalar()
        if sequence is None:
            continue
        top = conn.execute(sa.select(sa.func.max(keys[0]))).scalar()
        if top is None:
            conn.exec_driver_sql("SELECT setval(%s, 1, false)", (sequence,))
        else:
            conn.exec_driver_sql("SELECT setval(%s, %s, true)", (sequence, int(top)))


def restore_store(store: Store, path: str | Path) -> dict[str, int]:
    """Replace the whole store with a backup's rows, in one transaction (all or nothing).

    Works across backends (a SQLite backup into PostgreSQL and back). Tables the
    backup lacks are emptied; columns it lacks are NULL. App servers on the store
    should be restarted afterwards (their caches and clients' change-log positions
    refer to the old data).

    Returns
    -------
    Rows restored per table.
    """
    path = Path(path)
    manifest = read_manifest(path)
    _check_fits(store, manifest, path)
    tables = _tables(store)
    counts: dict[str, int] = {}
    with (
        zipfile.ZipFile(path) as archive,
        store.engine.execution_options(mapserver_write=True).begin() as conn,
    ):
        if store.dialect == "postgresql":
            names = ", ".join(conn.dialect.identifier_preparer.quote(t.name) for t in tables)
            conn.exec_driver_sql(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")
        audit.allow_rewrite(conn)  # the append-only audit log is replaced too, here only
        for table in reversed(tables):
            conn.execute(sa.delete(table))
        for table in tables:
            info = manifest["tables"].get(table.name)
            counts[table.name] = 0
            if info is None:
                continue
            names = info["columns"]
            kinds = info["kinds"]
            batch: list[list] = []
            for row in _rows(archive, table.name):
                batch.append(
                    [_decode(v, k, store.dialect) for v, k in zip(row, kinds, strict=True)]
                )
                if len(batch) >= _CHUNK:
                    bulk_insert(conn, table, names, [list(c) for c in zip(*batch, strict=True)])
                    counts[table.name] += len(batch)
                    batch = []
            if batch:
                bulk_insert(conn, table, names, [list(c) for c in zip(*batch, strict=True)])
                counts[table.name] += len(batch)
            if counts[table.name] != info["rows"]:
                msg = (
                    f"{path}: table {table.name} holds {counts[table.name]} rows, "
                    f"the manifest says {info['rows']}; nothing restored"
                )
                raise BackupError(msg)
        _reset_sequences(conn, tables)
        recount_all(conn, store.tables)  # derived rows: counted again, never trusted
        audit.record(  # after the restored history: who replaced the store, from what
            conn,
            store.tables["audit_log"],
            kind="store.restore",
            entity=f"backup:{path.name}",
            new={
                "source": manifest.get("source"),
                "created_at": manifest.get("created_at"),
                "rows": sum(counts.values()),
            },
        )
    return counts
