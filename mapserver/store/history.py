"""Reads for status as of a past moment: the change-log sequence number of a moment, the
buildings a stretch of the change log touches, and the counts of those buildings at both
ends (rules in :mod:`mapserver.status.history`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd
import sqlalchemy as sa

from mapserver.status.counts import COLUMNS, count_buildings
from mapserver.status.history import count_moves, moved, status_as_of
from mapserver.store import snapshots
from mapserver.store.counts import grid_chains
from mapserver.store.engine import fetch_rows
from mapserver.store.writes import chunked

Counts = dict[tuple[str, str], tuple[int, int]]  # (building_id, code) -> (households, persons)


def seq_at(conn: sa.Connection, changelog: sa.Table, moment: str) -> int:
    """The last change-log sequence number written at or before ``moment`` (ISO 8601, UTC),
    0 when none was."""
    query = sa.select(sa.func.coalesce(sa.func.max(changelog.c.seq), 0)).where(
        changelog.c.changed_at <= moment
    )
    return int(conn.execute(query).scalar_one())


def span(conn: sa.Connection, changelog: sa.Table) -> dict:
    """When the change log begins and ends (ISO 8601 UTC, None when empty) and its last seq."""
    query = sa.select(
        sa.func.min(changelog.c.changed_at),
        sa.func.max(changelog.c.changed_at),
        sa.func.coalesce(sa.func.max(changelog.c.seq), 0),
    )
    first, last, seq = conn.execute(query).one()
    return {"first": first, "last": last, "seq": int(seq)}


def buildings_changed(
    conn: sa.Connection, tables: dict[str, sa.Table], since: int, upto: int
) -> tuple[int, dict[str, str | None]]:
    """(change-log rows, building -> grid of the buildings whose counts they can move) for
    ``since < seq <= upto``: a household's building or a building itself, one query."""
    log, h, b = tables["changelog"], tables["households"], tables["buildings"]
    within = (log.c.seq > int(since)) & (log.c.seq <= int(upto))
    of_households = (
        sa.select(h.c.building_id)
        .select_from(log.join(h, h.c.household_id == log.c.entity_id))
        .where(within, log.c.entity_kind == "household")
    )
    own = sa.select(log.c.entity_id).where(within, log.c.entity_kind == "building")
    touched = sa.union(of_households, own).subquery()
    query = sa.select(b.c.building_id, b.c.grid_id).where(
        b.c.building_id.in_(sa.select(touched.c[0]))
    )
    count = conn.execute(sa.select(sa.func.count()).where(within)).scalar_one()
    if not count:
        return 0, {}
    return int(count), dict(sorted(fetch_rows(conn, query)))


def _today(conn: sa.Connection, counts: sa.Table) -> pd.DataFrame:
    query = sa.select(*(counts.c[n] for n in COLUMNS)).where(counts.c.level != "building")
    return pd.DataFrame(fetch_rows(conn, query), columns=list(COLUMNS))


def counts_as_of(
    conn: sa.Connection, tables: dict[str, sa.Table], seq: int, version: int
) -> tuple[int, pd.DataFrame]:
    """(the latest seq, count rows of every grid and the district as of ``seq``), read on
    ``conn`` (the caller makes it one consistent snapshot of the database).

    Counted from the nearest known state: today's counts, or a snapshot of data version
    ``version`` (:mod:`mapserver.store.snapshots`) before or after ``seq``, whichever has
    the fewest change-log rows between it and ``seq``; only the buildings those rows touch
    are counted again, at both ends."""
    log = tables["changelog"]
    last = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(log.c.seq), 0))).scalar_one())
    if seq >= last:
        return last, _today(conn, tables["status_counts"])
    base_seq = last
    for near in snapshots.nearest(conn, tables, version, seq):
        if abs(seq - near) < abs(base_seq - seq):
            base_seq = near
    if base_seq == last:
        base = _today(conn, tables["status_counts"])
    else:
        base = snapshots.read(conn, tables, base_seq)
    low, high = sorted((seq, base_seq))
    _, touched = buildings_changed(conn, tables, low, high)
    (then, before), grid_of = counts_at(conn, tables, (seq, base_seq), touched)
    chains = grid_chains(conn, tables["grids"], grid_of)
    return last, moved(base, count_moves(before, then, chains))


def counts_at(
    conn: sa.Connection,
    tables: dict[str, sa.Table],
    seqs: Sequence[int],
    building_ids: Iterable[str],
) -> tuple[list[Counts], dict[str, str | None]]:
    """Counts of ``building_ids`` as of each of ``seqs``, by the store's rules, and each
    building's grid. Reads the buildings, their households, their entities' status rows and
    change-log rows (every row of those entities: bounded by what changed there)."""
    b, h, s = tables["buildings"], tables["households"], tables["status"]
    log = tables["changelog"]
    ids = sorted(set(building_ids))
    buildings: list = []
    households: list = []
    for chunk in chunked(ids):
        buildings += conn.execute(
            sa.select(b.c.building_id, b.c.grid_id, b.c.households, b.c.residents).where(
                b.c.building_id.in_(chunk)
            )
        ).all()
        households += conn.execute(
            sa.select(h.c.household_id, h.c.building_id, h.c.residents).where(
                h.c.building_id.in_(chunk)
            )
        ).all()
    keys = [("building", row[0]) for row in buildings]
    keys += [("household", row[0]) for row in households]
    today: dict[tuple[str, str], tuple[str, int | None]] = {}
    log_rows: list = []
    for kind in ("building", "household"):
        wanted = sorted(i for k, i in keys if k == kind)
        for chunk in chunked(wanted):
            status = sa.select(s.c.entity_id, s.c.status, s.c.persons).where(
                s.c.entity_kind == kind, s.c.entity_id.in_(chunk)
            )
            today.update({(kind, e): (code, p) for e, code, p in conn.execute(status)})
            log_rows += conn.execute(
                sa.select(
                    log.c.seq,
                    log.c.entity_kind,
                    log.c.entity_id,
                    log.c.old_status,
                    log.c.new_status,
                    log.c.persons,
                ).where(log.c.entity_kind == kind, log.c.entity_id.in_(chunk))
            ).all()
    found = [
        count_buildings(buildings, households, status_as_of(seq, today, log_rows)) for seq in seqs
    ]
    return found, {row[0]: row[1] for row in buildings}
