"""Reads for status as of a past moment: the change-log sequence number of a moment, and
the counts then and now of the buildings that changed since (rules in
:mod:`mapserver.status.history`)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa

from mapserver.status.counts import COLUMNS, count_buildings
from mapserver.status.history import count_moves, moved, status_as_of
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


def counts_as_of(
    conn: sa.Connection, tables: dict[str, sa.Table], seq: int
) -> tuple[int, pd.DataFrame]:
    """(the latest seq, count rows of every grid and the district as of ``seq``), read on
    ``conn`` (the caller makes it one consistent snapshot)."""
    log, counts = tables["changelog"], tables["status_counts"]
    last = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(log.c.seq), 0))).scalar_one())
    query = sa.select(*(counts.c[name] for name in COLUMNS)).where(counts.c.level != "building")
    today = pd.DataFrame(fetch_rows(conn, query), columns=list(COLUMNS))
    if seq >= last:
        return last, today
    _, touched = buildings_changed(conn, tables, seq, last)
    then, now, grid_of = counts_then_and_now(conn, tables, seq, touched)
    return last, moved(today, count_moves(now, then, grid_chains(conn, tables["grids"], grid_of)))


def counts_then_and_now(
    conn: sa.Connection, tables: dict[str, sa.Table], seq: int, building_ids: Iterable[str]
) -> tuple[Counts, Counts, dict[str, str | None]]:
    """Counts of ``building_ids`` as of ``seq`` and now, by the store's rules, and each
    building's grid. Reads the buildings, their households, their entities' status rows and
    change-log rows (every row of those entities: bounded by what changed there)."""
    b, h, s = tables["buildings"], tables["households"], tables["status"]
    log, counts = tables["changelog"], tables["status_counts"]
    ids = sorted(set(building_ids))
    buildings: list = []
    households: list = []
    now: Counts = {}
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
        rows = conn.execute(
            sa.select(counts.c.entity_id, counts.c.code, counts.c.households, counts.c.persons)
            .where(counts.c.level == "building")
            .where(counts.c.entity_id.in_(chunk))
        )
        now.update({(e, c): (int(hh), int(pp)) for e, c, hh, pp in rows})
    keys = [("building", row[0]) for row in buildings]
    keys += [("household", row[0]) for row in households]
    today: dict[tuple[str, str], tuple[str, int | None]] = {}
    log_rows: list = []
    for kind in ("building", "household"):
        wanted = sorted(i for k, i in keys if k == kind)
        for chunk in chunked(wanted):
            today.update(
                {
                    (kind, e): (code, p)
                    for e, code, p in conn.execute(
                        sa.select(s.c.entity_id, s.c.status, s.c.persons).where(
                            s.c.entity_kind == kind, s.c.entity_id.in_(chunk)
                        )
                    )
                }
            )
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
    then = count_buildings(buildings, households, status_as_of(seq, today, log_rows))
    return then, now, {row[0]: row[1] for row in buildings}
