"""Saved column mappings and the import log (who imported what, when, how)."""

from __future__ import annotations

import json

import sqlalchemy as sa

from mapserver.errors import NotFoundError
from mapserver.store.writes import utc_now


def save_mapping(
    conn: sa.Connection, table: sa.Table, name: str, layer: str, mapping: dict, *, user: str
) -> None:
    """Insert or replace the mapping saved under ``name``."""
    conn.execute(sa.delete(table).where(table.c.name == name))
    conn.execute(
        sa.insert(table).values(
            name=name,
            layer=layer,
            mapping=json.dumps(mapping, ensure_ascii=False, sort_keys=True),
            saved_by=user,
            saved_at=utc_now(),
        )
    )


def get_mapping(conn: sa.Connection, table: sa.Table, name: str) -> dict:
    """The mapping saved under ``name``: ``{"name", "layer", "mapping", ...}``."""
    row = conn.execute(sa.select(table).where(table.c.name == name)).mappings().first()
    if row is None:
        msg = f"no saved column mapping named {name!r}"
        raise NotFoundError(msg)
    return {**dict(row), "mapping": json.loads(row["mapping"])}


def list_mappings(conn: sa.Connection, table: sa.Table) -> list[dict]:
    """Every saved mapping, by name."""
    rows = conn.execute(sa.select(table).order_by(table.c.name)).mappings()
    return [{**dict(r), "mapping": json.loads(r["mapping"])} for r in rows]


def log_import(
    conn: sa.Connection, table: sa.Table, *, user: str, mode: str, files: list[str], summary: dict
) -> int:
    """Append one import to the log (in the import's own transaction); returns its id."""
    result = conn.execute(
        sa.insert(table).values(
            at=utc_now(),
            by=user,
            mode=mode,
            files=json.dumps(files, ensure_ascii=False),
            summary=json.dumps(summary, ensure_ascii=False, sort_keys=True),
        )
    )
    return int(result.inserted_primary_key[0])


def recent_imports(conn: sa.Connection, table: sa.Table, *, limit: int = 50) -> list[dict]:
    """The latest imports, newest first."""
    query = sa.select(table).order_by(table.c.import_id.desc()).limit(limit)
    return [
        {**dict(r), "files": json.loads(r["files"]), "summary": json.loads(r["summary"])}
        for r in conn.execute(query).mappings()
    ]
