"""The audit log: who changed what, when, from where, with old and new values (append-only).

Every change the store makes (status writes, imports, grid plans, route plans,
stop marks, users and tokens) appends one row here in the change's own
transaction; logins append one row each. Nothing in the application updates or
deletes audit rows: there is no such code path, and on PostgreSQL a trigger
refuses UPDATE, DELETE and TRUNCATE of the table (a whole-store restore may lift
it for its own transaction with :func:`allow_rewrite`).

Bulk changes are not copied row by row: a status batch or an import writes one
audit row that names the range of change-log sequence numbers (``changelog``
holds old -> new and ``changed_by`` of every row) and the ``import_log`` entry.

Who and from where: store methods pass the actor they already know (``user``);
the web layer binds the request's client address (and a way to name the
logged-in user) with :func:`bind` for the length of a request.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

import sqlalchemy as sa

from mapserver.model import DISTRICT_TZ
from mapserver.store.writes import utc_now

T = TypeVar("T")
TABLE = "audit_log"
MAX_JSON_CHARS = 2000
SYSTEM_ACTOR = "system"

# Event kinds, as written in ``kind``; a filter on "user" matches every "user.*".
KINDS: tuple[str, ...] = (
    "status.write",
    "import.layers",
    "import.events",
    "grid.save",
    "grid.publish",
    "grid.rollback",
    "route_plan.create",
    "route_plan.rename",
    "route_plan.archive",
    "route_plan.delete",
    "stop.mark",
    "route.assign",
    "login.ok",
    "login.failed",
    "user.create",
    "user.update",
    "user.remove",
    "token.create",
    "token.revoke",
    "store.restore",
)
COLUMNS: tuple[str, ...] = ("seq", "at", "actor", "address", "kind", "entity", "old", "new")


@dataclass(frozen=True)
class AuditContext:
    """Who is acting and from which address, for the writes of one request or job.

    ``actor`` is called when a write has no explicit actor (e.g. a user change
    made on the admin page); it returns a username or None.
    """

    address: str | None = None
    actor: Callable[[], str | None] | None = None

    def actor_name(self) -> str | None:
        """The acting user's name, or None when nobody is bound."""
        return None if self.actor is None else self.actor()


_NOBODY = AuditContext()
_CONTEXT: ContextVar[AuditContext | None] = ContextVar("mapserver_audit", default=None)


def bind(context: AuditContext) -> None:
    """Use ``context`` for the audit rows written from now on in this thread/task."""
    _CONTEXT.set(context)


def clear() -> None:
    """Forget the bound context (end of a request or job)."""
    _CONTEXT.set(None)


@contextlib.contextmanager
def bound(context: AuditContext) -> Iterator[None]:
    """Use ``context`` for the audit rows written inside the block, then the one before."""
    token = _CONTEXT.set(context)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current() -> AuditContext:
    """The bound context."""
    return _CONTEXT.get() or _NOBODY


def snapshot() -> AuditContext:
    """The bound context with its actor resolved now, to carry into a worker thread."""
    context = current()
    name = context.actor_name()
    return AuditContext(address=context.address, actor=lambda: name)


def carry(func: Callable[..., T]) -> Callable[..., T]:
    """Wrap ``func`` to run with this thread's audit context (e.g. in a job's worker thread)."""
    context = snapshot()

    @functools.wraps(func)
    def run(*args: object, **kwargs: object) -> T:
        bind(context)
        try:
            return func(*args, **kwargs)
        finally:
            clear()

    return run


_PG_GUARD = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('mapserver.audit_rewrite', true), '') = 'on' THEN
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
  END IF;
  RAISE EXCEPTION USING MESSAGE = 'audit_log is append-only: ' || TG_OP || ' refused';
END $$
"""


def protect(conn: sa.Connection) -> None:
    """On PostgreSQL, add the triggers that refuse UPDATE, DELETE and TRUNCATE (once)."""
    if conn.dialect.name != "postgresql":
        return
    have = conn.exec_driver_sql(
        f"SELECT count(*) FROM pg_trigger WHERE tgrelid = '{TABLE}'::regclass"
        " AND tgname IN ('audit_log_append_only_rows', 'audit_log_append_only_truncate')"
    ).scalar_one()
    if have >= 2:
        return
    conn.exec_driver_sql(_PG_GUARD)
    for suffix, when in (("rows", "UPDATE OR DELETE"), ("truncate", "TRUNCATE")):
        name = f"audit_log_append_only_{suffix}"
        level = "ROW" if suffix == "rows" else "STATEMENT"
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {TABLE}")
        conn.exec_driver_sql(
            f"CREATE TRIGGER {name} BEFORE {when} ON {TABLE} "
            f"FOR EACH {level} EXECUTE FUNCTION audit_log_append_only()"
        )


def allow_rewrite(conn: sa.Connection) -> None:
    """Let this transaction delete and re-insert audit rows: a whole-store restore only.

    On PostgreSQL it sets ``mapserver.audit_rewrite`` for the transaction, which
    the append-only triggers honour; SQLite has no trigger to lift. The guard
    stops the application's own code paths, not a database owner.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL mapserver.audit_rewrite = 'on'")


def _json(value: object) -> str | None:
    """Small JSON text of a value; a long one is cut and marked."""
    if value is None:
        return None
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if len(text) > MAX_JSON_CHARS:
        text = json.dumps({"truncated": text[: MAX_JSON_CHARS - 100]}, ensure_ascii=False)
    return text


def record(
    conn: sa.Connection,
    audit_table: sa.Table,
    *,
    kind: str,
    entity: str | None = None,
    old: object = None,
    new: object = None,
    actor: str | None = None,
) -> int:
    """Append one audit row in the caller's transaction; returns its seq.

    Parameters
    ----------
    kind
        One of :data:`KINDS`.
    entity
        What changed, as ``"type:id"`` (``"user:li"``, ``"grid:G-1"``,
        ``"changelog:101-180"``).
    old, new
        JSON-ready values before and after (kept small: cut past
        :data:`MAX_JSON_CHARS` characters).
    actor
        Who acted; default the bound context's user, else ``"system"``.
    """
    if kind not in KINDS:
        msg = f"audit kind {kind!r} is not one of {', '.join(KINDS)}"
        raise ValueError(msg)
    context = current()
    who = actor or context.actor_name() or SYSTEM_ACTOR
    result = conn.execute(
        sa.insert(audit_table).values(
            at=utc_now(),
            actor=str(who)[:200],
            address=context.address,
            kind=kind,
            entity=None if entity is None else str(entity)[:500],
            old=_json(old),
            new=_json(new),
        )
    )
    return int(result.inserted_primary_key[0])


def seq_range(first: int, last: int) -> str:
    """The entity name of a run of change-log rows."""
    return f"changelog:{first}-{last}"


@dataclass(frozen=True)
class AuditFilter:
    """Which audit rows to read; every field is optional.

    ``actor`` matches exactly; ``kind`` matches a kind or a family (``"user"``
    matches ``"user.create"``); ``entity`` matches any part of the entity;
    ``since``/``until`` are UTC dates (inclusive) or ISO times (with an offset, or UTC).
    """

    actor: str | None = None
    kind: str | None = None
    entity: str | None = None
    since: str | None = None
    until: str | None = None

    def conditions(self, t: sa.Table) -> list[sa.ColumnElement]:
        """SQL conditions of this filter on the audit table."""
        out: list[sa.ColumnElement] = []
        if self.actor:
            out.append(t.c.actor == self.actor)
        if self.kind:
            out.append(sa.or_(t.c.kind == self.kind, t.c.kind.startswith(f"{self.kind}.")))
        if self.entity:
            out.append(t.c.entity.contains(self.entity, autoescape=True))
        if self.since:
            out.append(t.c.at >= _instant(self.since, "since"))
        if self.until:
            out.append(t.c.at < _instant(self.until, "until", end=True))
        return out


def _instant(text: str, field: str, *, end: bool = False) -> str:
    """A date or time as the ISO text (UTC) ``at`` compares against. Dates and times
    without a zone are the district's (a date's end: the next day's start there)."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
            moment = datetime.combine(day, time(), DISTRICT_TZ)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=DISTRICT_TZ)
        return moment.astimezone(UTC).isoformat(timespec="milliseconds")
    except ValueError:
        msg = f"{field} {text!r} is not a date (YYYY-MM-DD) or an ISO time"
        raise ValueError(msg) from None


def _row(r: Mapping) -> dict:
    out = dict(r)
    for key in ("old", "new"):
        out[key] = None if out[key] is None else json.loads(out[key])
    return out


def read(
    conn: sa.Connection,
    audit_table: sa.Table,
    where: AuditFilter,
    *,
    limit: int = 200,
    before: int | None = None,
) -> list[dict]:
    """Audit rows matching ``where``, newest first, at most ``limit``, below seq ``before``."""
    conditions = where.conditions(audit_table)
    if before is not None:
        conditions.append(audit_table.c.seq < int(before))
    query = (
        sa.select(audit_table)
        .where(*conditions)
        .order_by(audit_table.c.seq.desc())
        .limit(max(1, min(int(limit), 10_000)))
    )
    return [_row(r) for r in conn.execute(query).mappings()]


def iterate(
    engine: sa.Engine, audit_table: sa.Table, where: AuditFilter, *, batch: int = 5000
) -> Iterator[dict]:
    """Every audit row matching ``where``, oldest first, read in batches (for exports)."""
    after = 0
    conditions = where.conditions(audit_table)
    while True:
        query = (
            sa.select(audit_table)
            .where(*conditions, audit_table.c.seq > after)
            .order_by(audit_table.c.seq)
            .limit(batch)
        )
        with engine.connect() as conn:
            rows = [_row(r) for r in conn.execute(query).mappings()]
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1]["seq"]
