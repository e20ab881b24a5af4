"""Server-side login sessions, API token lifetimes and the failed-login lockout."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from mapserver.store import auth


def iso(moment: datetime) -> str:
    """Return a moment as the store's ISO 8601 UTC text, which sorts in time order."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def open_session(
    conn: sa.Connection,
    table: sa.Table,
    username: str,
    password_hash: str,
    *,
    hours: float,
    now: datetime,
) -> str:
    """Record a new session of ``username`` valid for ``hours``; return its id.

    Only the SHA-256 digest of the id is stored, with a tag of the user's password hash
    (see :func:`session_username`). Sessions past their end are dropped.
    """
    conn.execute(sa.delete(table).where(table.c.expires_at <= iso(now)))
    session_id = auth.new_token()
    values = {
        "session": auth.token_digest(session_id),
        "username": username,
        "password_tag": auth.token_digest(password_hash),
        "created_at": iso(now),
        "expires_at": iso(now + timedelta(hours=hours)),
    }
    conn.execute(sa.insert(table), values)
    return session_id


def session_username(
    conn: sa.Connection, tables: Mapping[str, sa.Table], session_id: str, *, now: datetime
) -> str | None:
    """Return the user of a live session, else None.

    Live: opened, not closed, not expired, and the user's password unchanged since
    (whatever changed it), with the user still there.
    """
    table, users = tables["sessions"], tables["users"]
    query = (
        sa.select(table.c.username, table.c.password_tag, users.c.password_hash)
        .join(users, users.c.username == table.c.username)
        .where(table.c.session == auth.token_digest(session_id), table.c.expires_at > iso(now))
    )
    row = conn.execute(query).first()
    if row is None or auth.token_digest(row.password_hash) != row.password_tag:
        return None
    return row.username


def token_expired(created_at: str, *, max_age_days: float, now: datetime) -> bool:
    """Return whether a token created at ``created_at`` (ISO text) is older than its lifetime."""
    created = datetime.fromisoformat(created_at)
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return now - created >= timedelta(days=max_age_days)


def lock_seconds(
    conn: sa.Connection, table: sa.Table, keys: Iterable[str], *, now: datetime
) -> float:
    """Return how many seconds the longest lock on any of ``keys`` still lasts (0: none)."""
    query = sa.select(table.c.locked_until).where(
        table.c.key.in_(list(keys)), table.c.locked_until > iso(now)
    )
    ends = [datetime.fromisoformat(until) for until in conn.execute(query).scalars()]
    return max(((end - now).total_seconds() for end in ends), default=0.0)


def record_failure(
    conn: sa.Connection,
    table: sa.Table,
    limits: Mapping[str, int],
    *,
    window_s: float,
    now: datetime,
) -> None:
    """Count one failed login against each key; a key reaching its limit is locked.

    Parameters
    ----------
    limits
        Key (``user:<name>``, ``addr:<address>``) -> failures that lock it.
    window_s
        Failures older than this (seconds) are forgotten; a lock lasts as long.
    """
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    fresh = [{"key": key, "failures": 0, "first_at": iso(now)} for key in limits]
    conn.execute(insert(table).on_conflict_do_nothing(index_elements=[table.c.key]), fresh)
    rows = conn.execute(
        sa.select(table.c.key, table.c.failures, table.c.first_at)
        .where(table.c.key.in_(list(limits)))
        .with_for_update()
    ).all()
    for key, failures, first_at in rows:
        values: dict[str, object] = {"failures": failures + 1}
        if now - datetime.fromisoformat(first_at) >= timedelta(seconds=window_s):
            values = {"failures": 1, "first_at": iso(now)}
        if values["failures"] >= limits[key]:
            values["locked_until"] = iso(now + timedelta(seconds=window_s))
        conn.execute(sa.update(table).where(table.c.key == key).values(**values))


def clear_failures(conn: sa.Connection, table: sa.Table, keys: Iterable[str]) -> None:
    """Forget the failed logins (and any lock) of ``keys``."""
    conn.execute(sa.delete(table).where(table.c.key.in_(list(keys))))
