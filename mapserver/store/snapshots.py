"""Periodic snapshots of the grids' and the district's counts, so that status as of a past
moment is counted from the nearest snapshot rather than from today.

A snapshot copies every ``grid`` and ``total`` row of ``status_counts`` with the change-log
sequence number and data version it is true for; one is taken after every
:data:`SNAPSHOT_EVERY_ROWS` change-log rows. Only snapshots of the current data version are
used (an import or a published plan changes what grids hold). Snapshots older than
:data:`KEEP_ALL_DAYS` days are thinned to the last of each day.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import sqlalchemy as sa

from mapserver.status.counts import COLUMNS
from mapserver.store.engine import fetch_rows

SNAPSHOT_EVERY_ROWS = 200_000  # change-log rows between two snapshots
KEEP_ALL_DAYS = 7  # snapshots kept whole this long, then one a day


def snapshot_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """The snapshot rows and the list of snapshots (sequence number, version, time)."""
    return {
        "count_snapshots": sa.Table(
            "count_snapshots",
            metadata,
            sa.Column("seq", sa.Integer(), primary_key=True),
            sa.Column("level", sa.Text(), primary_key=True),  # grid | total
            sa.Column("entity_id", sa.Text(), primary_key=True),
            sa.Column("code", sa.Text(), primary_key=True),
            sa.Column("households", sa.Integer(), nullable=False),
            sa.Column("persons", sa.Integer(), nullable=False),
        ),
        "count_snapshot_list": sa.Table(
            "count_snapshot_list",
            metadata,
            sa.Column("seq", sa.Integer(), primary_key=True),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("taken_at", sa.Text(), nullable=False, index=True),
        ),
    }


def version_now(conn: sa.Connection, tables: dict[str, sa.Table]) -> int:
    """The data version the store is at (as :meth:`SqlStore.data_version`), on ``conn``."""
    meta = tables["meta"]
    found = conn.execute(sa.select(meta.c.value).where(meta.c.key == "data_version")).scalar()
    return int(found or 0)


def maybe_take(conn: sa.Connection, tables: dict[str, sa.Table], seq: int) -> bool:
    """Take a snapshot at ``seq`` when :data:`SNAPSHOT_EVERY_ROWS` change-log rows have
    passed since the last one of the current data version (inside a status write's
    transaction, after its counts are kept). True when one was taken."""
    version = version_now(conn, tables)
    last = latest(conn, tables, version)
    if seq - (last or 0) < SNAPSHOT_EVERY_ROWS:
        return False
    take(conn, tables, seq=seq, version=version, now=datetime.now(UTC))
    return True


def latest(conn: sa.Connection, tables: dict[str, sa.Table], version: int) -> int | None:
    """The sequence number of the newest snapshot of data version ``version``, or None."""
    listed = tables["count_snapshot_list"]
    query = sa.select(sa.func.max(listed.c.seq)).where(listed.c.version == version)
    return conn.execute(query).scalar_one()


def nearest(conn: sa.Connection, tables: dict[str, sa.Table], version: int, seq: int) -> list[int]:
    """The snapshots of ``version`` nearest to ``seq``: the newest at or before it and the
    oldest after it (either may be missing)."""
    listed = tables["count_snapshot_list"]
    mine = listed.c.version == version
    before = sa.select(sa.func.max(listed.c.seq)).where(mine, listed.c.seq <= seq)
    after = sa.select(sa.func.min(listed.c.seq)).where(mine, listed.c.seq > seq)
    found = [conn.execute(before).scalar_one(), conn.execute(after).scalar_one()]
    return [int(s) for s in found if s is not None]


def read(conn: sa.Connection, tables: dict[str, sa.Table], seq: int) -> pd.DataFrame:
    """The count rows of the snapshot at ``seq`` (columns of ``status.counts.COLUMNS``)."""
    table = tables["count_snapshots"]
    query = sa.select(*(table.c[name] for name in COLUMNS)).where(table.c.seq == seq)
    return pd.DataFrame(fetch_rows(conn, query), columns=list(COLUMNS))


def take(
    conn: sa.Connection, tables: dict[str, sa.Table], *, seq: int, version: int, now: datetime
) -> None:
    """Copy the grid and district count rows as the snapshot at ``seq`` (in the caller's
    write transaction, where no status write can move them), then thin old snapshots."""
    table, counts = tables["count_snapshots"], tables["status_counts"]
    listed = tables["count_snapshot_list"]
    if conn.execute(sa.select(listed.c.seq).where(listed.c.seq == seq)).first() is not None:
        return
    names = list(COLUMNS)
    copied = sa.select(sa.literal(seq), *(counts.c[n] for n in names)).where(
        counts.c.level != "building"
    )
    conn.execute(sa.insert(table).from_select(["seq", *names], copied))
    taken_at = now.astimezone(UTC).isoformat(timespec="milliseconds")
    conn.execute(sa.insert(listed).values(seq=seq, version=version, taken_at=taken_at))
    _thin(conn, tables, now)


def _thin(conn: sa.Connection, tables: dict[str, sa.Table], now: datetime) -> None:
    """Keep every snapshot of the last :data:`KEEP_ALL_DAYS` days, and of older days only
    the last one each day (days in UTC)."""
    listed, table = tables["count_snapshot_list"], tables["count_snapshots"]
    cutoff = (now - timedelta(days=KEEP_ALL_DAYS)).astimezone(UTC).isoformat()
    old = fetch_rows(
        conn, sa.select(listed.c.seq, listed.c.taken_at).where(listed.c.taken_at < cutoff)
    )
    last_of_day: dict[str, int] = {}
    for seq, taken_at in old:
        day = taken_at[:10]
        last_of_day[day] = max(seq, last_of_day.get(day, seq))
    dropped = sorted({seq for seq, _ in old} - set(last_of_day.values()))
    if dropped:
        conn.execute(sa.delete(table).where(table.c.seq.in_(dropped)))
        conn.execute(sa.delete(listed).where(listed.c.seq.in_(dropped)))
