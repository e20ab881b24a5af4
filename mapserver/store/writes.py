"""Write paths inside one transaction: bulk layer loads, status writes and the change log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from mapserver import model
from mapserver.errors import ValidationError, ValidationIssue
from mapserver.store.frames import layer_values

_SQLITE_CHUNK = 50_000
_IN_CHUNK = 5_000

# Each entity kind: (table, id column) whose row must exist and whose residents
# are the default ``persons`` of a status row.
ENTITY_TABLES: dict[str, tuple[str, str]] = {
    "household": ("households", "household_id"),
    "building": ("buildings", "building_id"),
}


def utc_now() -> str:
    """Return the current UTC time as an ISO 8601 string with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def bulk_insert(
    conn: sa.Connection, table: sa.Table, names: Sequence[str], columns: Sequence[list]
) -> None:
    """Insert rows given column-wise, fast: executemany on SQLite, COPY on PostgreSQL.

    On PostgreSQL, geometry values must be hex EWKB with SRID 4326.
    """
    rows = list(zip(*columns, strict=True)) if columns else []
    if not rows:
        return
    quote = conn.dialect.identifier_preparer.quote
    column_list = ", ".join(quote(n) for n in names)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {quote(table.name)} ({column_list}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in names)
    sql = f"INSERT INTO {quote(table.name)} ({column_list}) VALUES ({marks})"
    for start in range(0, len(rows), _SQLITE_CHUNK):
        conn.exec_driver_sql(sql, rows[start : start + _SQLITE_CHUNK])


def start_sequence(conn: sa.Connection, changelog: sa.Table) -> int:
    """Serialise change-log writers and return the highest sequence number so far.

    On PostgreSQL the change log is locked (EXCLUSIVE: readers go on) until the
    transaction ends, so sequence numbers become visible in commit order. SQLite
    writers are serialised by ``BEGIN IMMEDIATE``.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE changelog IN EXCLUSIVE MODE")
    return conn.execute(sa.select(sa.func.coalesce(sa.func.max(changelog.c.seq), 0))).scalar_one()


def finish_sequence(conn: sa.Connection, last: int) -> None:
    """Move PostgreSQL's serial sequence past explicitly assigned sequence numbers."""
    if conn.dialect.name == "postgresql" and last > 0:
        conn.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('changelog', 'seq'), :last)"),
            {"last": last},
        )


def chunked(values: Sequence, size: int = _IN_CHUNK):
    """Yield consecutive slices of at most ``size`` values."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _existing(
    conn: sa.Connection, tables: dict[str, sa.Table], kind: str, ids: Sequence[str]
) -> tuple[dict[str, int | None], dict[str, str]]:
    """Return residents by id of the entities that exist, and their current status."""
    table_name, id_column = ENTITY_TABLES[kind]
    table = tables[table_name]
    status = tables["status"]
    residents: dict[str, int | None] = {}
    current: dict[str, str] = {}
    joined = table.outerjoin(
        status, (status.c.entity_kind == kind) & (status.c.entity_id == table.c[id_column])
    )
    for chunk in chunked(sorted(set(ids))):
        query = (
            sa.select(table.c[id_column], table.c.residents, status.c.status)
            .select_from(joined)
            .where(table.c[id_column].in_(chunk))
        )
        for entity_id, count, code in conn.execute(query):
            residents[entity_id] = count
            if code is not None:
                current[entity_id] = code
    return residents, current


def _upsert(conn: sa.Connection, status: sa.Table, rows: list[dict]) -> None:
    """Insert or replace current status rows by (entity_kind, entity_id)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(status)
    statement = statement.on_conflict_do_update(
        index_elements=[status.c.entity_kind, status.c.entity_id],
        set_={
            name: statement.excluded[name]
            for name in ("status", "persons", "updated_at", "source", "seq")
        },
    )
    conn.execute(statement, rows)


@dataclass(frozen=True)
class StatusBatch:
    """One caller's status rows, written together with other callers' in one transaction."""

    rows: Sequence
    user: str
    source: str


def _status_issues(batch: StatusBatch, found: dict) -> list[ValidationIssue]:
    """What is wrong with a batch's rows (rows 1-based, ``file`` = the batch's source)."""
    issues: list[ValidationIssue] = []
    for number, row in enumerate(batch.rows, start=1):
        if row.entity_kind not in ENTITY_TABLES:
            reason = f"entity_kind {row.entity_kind!r} is not one of {', '.join(ENTITY_TABLES)}"
            issues.append(ValidationIssue(batch.source, number, "entity_kind", reason))
            continue
        if row.entity_id not in found[row.entity_kind][0]:
            reason = f"{row.entity_kind} {row.entity_id!r} does not exist"
            issues.append(ValidationIssue(batch.source, number, "entity_id", reason))
        if not isinstance(row.status, str) or not row.status.strip():
            issues.append(ValidationIssue(batch.source, number, "status", "status is empty"))
        if row.persons is not None and row.persons < 0:
            reason = f"persons {row.persons} is negative"
            issues.append(ValidationIssue(batch.source, number, "persons", reason))
    return issues


def apply_status_batches(
    conn: sa.Connection, tables: dict[str, sa.Table], batches: Sequence[StatusBatch]
) -> list[int | ValidationError]:
    """Check, then write the status rows of several callers and their change-log entries.

    Each batch is all or nothing: one with an unknown entity kind, an entity that
    does not exist, an empty status or negative persons writes nothing and gets a
    :class:`ValidationError` (rows 1-based, ``file`` = its source) in its place of
    the answer; the others are written in order, each with consecutive sequence
    numbers, and get their last one. One look-up of the entities and one insert of
    the change log serve every batch.
    """
    ids_by_kind: dict[str, list[str]] = {kind: [] for kind in ENTITY_TABLES}
    for batch in batches:
        for row in batch.rows:
            if row.entity_kind in ENTITY_TABLES:
                ids_by_kind[row.entity_kind].append(row.entity_id)
    found = {
        kind: _existing(conn, tables, kind, ids) if ids else ({}, {})
        for kind, ids in ids_by_kind.items()
    }
    answers: list[int | ValidationError] = []
    last = start_sequence(conn, tables["changelog"])
    now = utc_now()
    current = {(kind, i): s for kind, (_, states) in found.items() for i, s in states.items()}
    changes: list[dict] = []
    latest: dict[tuple[str, str], dict] = {}
    for batch in batches:
        issues = _status_issues(batch, found)
        if issues:
            issues.sort(key=lambda issue: issue.row or 0)
            answers.append(ValidationError(issues))
            continue
        for row in batch.rows:
            last += 1
            key = (row.entity_kind, row.entity_id)
            persons = row.persons
            if persons is None:
                persons = found[row.entity_kind][0][row.entity_id]
            changes.append(
                {
                    "seq": last,
                    "entity_kind": row.entity_kind,
                    "entity_id": row.entity_id,
                    "old_status": current.get(key),
                    "new_status": row.status,
                    "persons": persons,
                    "changed_at": now,
                    "changed_by": batch.user,
                    "source": batch.source,
                }
            )
            current[key] = row.status
            latest[key] = {
                "entity_kind": row.entity_kind,
                "entity_id": row.entity_id,
                "status": row.status,
                "persons": persons,
                "updated_at": now,
                "source": batch.source,
                "seq": last,
            }
        answers.append(last)
    if changes:
        _upsert(conn, tables["status"], list(latest.values()))
        conn.execute(sa.insert(tables["changelog"]), changes)
        finish_sequence(conn, last)
    return answers


def check_ids(names: list[str], columns: list[list], layer: str, key: Sequence[str]) -> None:
    """Raise ValidationError for missing or repeated identifiers (rows 1-based)."""
    issues: list[ValidationIssue] = []
    values = [columns[names.index(k)] for k in key]
    seen: dict[tuple, int] = {}
    for number, ident in enumerate(zip(*values, strict=True), start=1):
        if any(part is None for part in ident):
            missing = next(k for k, part in zip(key, ident, strict=True) if part is None)
            issues.append(ValidationIssue(layer, number, missing, f"{missing} is missing"))
            continue
        if ident in seen:
            shown = "/".join(ident)
            reason = f"{'/'.join(key)} {shown!r} appears twice (first at row {seen[ident]})"
            issues.append(ValidationIssue(layer, number, key[-1], reason))
        else:
            seen[ident] = number
    if issues:
        raise ValidationError(issues)


def import_status(
    conn: sa.Connection,
    tables: dict[str, sa.Table],
    frame: pd.DataFrame,
    *,
    user: str,
    merge: bool = False,
) -> tuple[int, int]:
    """Write imported status rows and log each one (old -> new, source "import").

    ``merge`` replaces the status of the entities in the frame and keeps all
    others; without it the current status is replaced whole.

    ``entity_kind`` defaults to ``household``, ``updated_at`` to now. Every row
    goes to the change log, and so does each entity a replacing import drops (no new
    status). Returns (the last sequence number before the import, the import's last):
    its rows take those after the first up to the second.
    """
    dialect = conn.dialect.name
    names, columns = layer_values(frame, "status", dialect=dialect)
    column = {name: values for name, values in zip(names, columns, strict=True)}
    n = len(frame)
    kinds = [k if k is not None else "household" for k in column["entity_kind"]]
    column["entity_kind"] = kinds
    issues = [
        ValidationIssue(
            "status", i, "entity_kind", f"entity_kind {k!r} is not one of household, building"
        )
        for i, k in enumerate(kinds, start=1)
        if k not in ENTITY_TABLES
    ]
    issues += [
        ValidationIssue("status", i, "status", "status is missing")
        for i, s in enumerate(column["status"], start=1)
        if s is None or not s.strip()
    ]
    if issues:
        raise ValidationError(issues)
    check_ids(names, [column[name] for name in names], "status", ("entity_kind", "entity_id"))

    status = tables["status"]
    query = sa.select(status.c.entity_kind, status.c.entity_id, status.c.status)
    if merge:
        old = {}
        for kind in ENTITY_TABLES:
            ids = [i for k, i in zip(kinds, column["entity_id"], strict=True) if k == kind]
            for chunk in chunked(ids):
                where = (status.c.entity_kind == kind) & status.c.entity_id.in_(chunk)
                old.update({(k, i): s for k, i, s in conn.execute(query.where(where))})
    else:
        old = {(k, i): s for k, i, s in conn.execute(query)}
    first = start_sequence(conn, tables["changelog"])
    now = utc_now()
    seqs = list(range(first + 1, first + n + 1))
    column["updated_at"] = [u if u is not None else now for u in column["updated_at"]]
    column["source"] = ["import"] * n
    column["seq"] = seqs
    if merge:
        for kind in ENTITY_TABLES:
            ids = [i for k, i in zip(kinds, column["entity_id"], strict=True) if k == kind]
            for chunk in chunked(ids):
                conn.execute(
                    sa.delete(status).where(
                        status.c.entity_kind == kind, status.c.entity_id.in_(chunk)
                    )
                )
    else:
        conn.execute(sa.delete(status))
    bulk_insert(conn, status, names, [column[name] for name in names])
    log_names = list(model.CHANGELOG_COLUMNS)
    log = {
        "seq": seqs,
        "entity_kind": kinds,
        "entity_id": column["entity_id"],
        "old_status": [old.get(key) for key in zip(kinds, column["entity_id"], strict=True)],
        "new_status": column["status"],
        "persons": column["persons"],
        "changed_at": [now] * n,
        "changed_by": [user] * n,
        "source": ["import"] * n,
    }
    if not merge:  # what the new table drops: a row with no new status (for history)
        dropped = sorted(set(old) - set(zip(kinds, column["entity_id"], strict=True)))
        after = range(first + n + 1, first + n + len(dropped) + 1)
        log["seq"] = [*seqs, *after]
        log["entity_kind"] = [*kinds, *(k for k, _ in dropped)]
        log["entity_id"] = [*column["entity_id"], *(i for _, i in dropped)]
        log["old_status"] = [*log["old_status"], *(old[key] for key in dropped)]
        for name in ("new_status", "persons"):
            log[name] = [*log[name], *([None] * len(dropped))]
        for name, value in (("changed_at", now), ("changed_by", user), ("source", "import")):
            log[name] = [*log[name], *([value] * len(dropped))]
    bulk_insert(conn, tables["changelog"], log_names, [log[name] for name in log_names])
    last = first + len(log["seq"])
    finish_sequence(conn, last)
    return first, last


def fill_persons(conn: sa.Connection, tables: dict[str, sa.Table], *, after_seq: int) -> None:
    """Set missing ``persons`` of status rows (and their log rows after ``after_seq``)
    to the residents of their household or building."""
    for kind, (table_name, id_column) in ENTITY_TABLES.items():
        entity = tables[table_name]
        for target, id_name, extra in (
            (tables["status"], "entity_id", None),
            (tables["changelog"], "entity_id", tables["changelog"].c.seq > after_seq),
        ):
            residents = (
                sa.select(entity.c.residents)
                .where(entity.c[id_column] == target.c[id_name])
                .scalar_subquery()
            )
            condition = sa.and_(target.c.entity_kind == kind, target.c.persons.is_(None))
            if extra is not None:
                condition = sa.and_(condition, extra)
            conn.execute(sa.update(target).where(condition).values(persons=residents))
