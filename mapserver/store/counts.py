"""Status counts kept in the store: households and persons per status code, per building,
per grid subtree and for the whole district (``status_counts``), changed in the same
transaction as every status write, import, published plan and restore.

A status write recounts only the buildings it touches and moves their grids (and every
ancestor) and the district by the difference; anything that changes the layers or the
whole status table recounts everything (:func:`recount_all`, also the repair command
``mapserver db recount``). The rules are those of :mod:`mapserver.status.counts`.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa

from mapserver.status.counts import (
    COLUMNS,
    TOTAL_ID,
    all_counts,
    count_buildings,
)
from mapserver.store.engine import fetch_rows
from mapserver.store.writes import bulk_insert, chunked

TABLE = "status_counts"
_CHUNK = 5_000  # ids per IN list
Moves = dict[tuple[str, str, str], list[int]]  # (level, entity, code) -> [households, persons]


def _lock(conn: sa.Connection) -> None:
    """Serialise count writers on PostgreSQL behind the change log's lock, which every
    status write takes first (SQLite writers are serialised already)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE changelog IN EXCLUSIVE MODE")


def ensure_counted(conn: sa.Connection, tables: dict[str, sa.Table]) -> None:
    """Count a store that has buildings but no count rows yet (made before counts were
    kept, or restored from such a backup)."""
    if conn.execute(sa.select(tables[TABLE].c.level).limit(1)).first() is not None:
        return
    if conn.execute(sa.select(tables["buildings"].c.building_id).limit(1)).first() is None:
        return
    recount_all(conn, tables)


def recount_status_rows(conn: sa.Connection, tables: dict[str, sa.Table], rows: list) -> None:
    """Recount the buildings that written status rows touch (``entity_kind`` "household":
    its building; "building": itself) and move everything above them."""
    households = {r.entity_id for r in rows if r.entity_kind == "household"}
    buildings = {r.entity_id for r in rows if r.entity_kind == "building"}
    recount_buildings(conn, tables, buildings, households_of=households)


def _frame(conn: sa.Connection, query: sa.Select) -> pd.DataFrame:
    """A query's rows as a frame, from the driver's plain tuples (SQLAlchemy rows made
    pandas look up every column by name: 6 of a 7.6 s recount at 100,000 households)."""
    columns = [column.name for column in query.selected_columns]
    return pd.DataFrame(fetch_rows(conn, query), columns=columns)


def recount_all(conn: sa.Connection, tables: dict[str, sa.Table]) -> int:
    """Replace every count row by a full recount of the layers and the status table;
    returns the rows written. Runs in the caller's transaction."""
    _lock(conn)
    grids = _frame(conn, sa.select(tables["grids"].c.grid_id, tables["grids"].c.parent_id))
    b = tables["buildings"]
    buildings = _frame(conn, sa.select(b.c.building_id, b.c.grid_id, b.c.households, b.c.residents))
    h = tables["households"]
    households = _frame(conn, sa.select(h.c.household_id, h.c.building_id, h.c.residents))
    s = tables["status"]
    status = _frame(
        conn, sa.select(s.c.entity_kind, s.c.entity_id, s.c.status, s.c.persons).order_by(s.c.seq)
    )
    counts = all_counts(grids, buildings, households, status)
    table = tables[TABLE]
    conn.execute(sa.delete(table))
    columns = [
        counts[name].tolist()  # Python ints and strings: every driver binds them
        for name in COLUMNS
    ]
    bulk_insert(conn, table, list(COLUMNS), columns)
    return len(counts)


def recount_buildings(
    conn: sa.Connection,
    tables: dict[str, sa.Table],
    building_ids: Iterable[str],
    *,
    households_of: Iterable[str] = (),
) -> None:
    """Recount the given buildings (and those holding the households ``households_of``)
    and move their grid subtrees and the district by the difference. Runs in the
    caller's transaction, after its status rows are written; on PostgreSQL the caller
    holds the change log's lock (a status write takes it first).

    Plain rows rather than frames: a write touches a few buildings, and building frames
    for them cost ten times the write (80 ms against 4 ms on SQLite)."""
    b, h, s = tables["buildings"], tables["households"], tables["status"]
    table = tables[TABLE]
    wanted = sorted(set(building_ids))
    holding = sorted(set(households_of))
    buildings: list = []
    for start in range(0, max(len(wanted), len(holding)), _CHUNK):
        owners = sa.select(h.c.building_id).where(
            h.c.household_id.in_(holding[start : start + _CHUNK])
        )
        buildings += conn.execute(
            sa.select(b.c.building_id, b.c.grid_id, b.c.households, b.c.residents).where(
                sa.or_(
                    b.c.building_id.in_(wanted[start : start + _CHUNK]),
                    b.c.building_id.in_(owners.scalar_subquery()),
                )
            )
        ).all()
    buildings = list({row[0]: row for row in buildings}.values())  # once each
    ids = sorted(row[0] for row in buildings)
    if not ids:
        return
    households: list = []
    old: dict[tuple[str, str], tuple[int, int]] = {}
    for chunk in chunked(ids):
        households += conn.execute(
            sa.select(h.c.household_id, h.c.building_id, h.c.residents).where(
                h.c.building_id.in_(chunk)
            )
        ).all()
        # the buildings' own rows go: the recount writes them again
        gone = (
            sa.delete(table)
            .where(table.c.level == "building")
            .where(table.c.entity_id.in_(chunk))
            .returning(table.c.entity_id, table.c.code, table.c.households, table.c.persons)
        )
        old.update({(e, c): (hh, pp) for e, c, hh, pp in conn.execute(gone)})
    status: dict[tuple[str, str], tuple[str, int | None]] = {}
    own = [r[0] for r in households]
    for start in range(0, max(len(own), len(ids)), _CHUNK):  # by kind and id: the key
        query = sa.select(s.c.entity_kind, s.c.entity_id, s.c.status, s.c.persons).where(
            sa.or_(
                (s.c.entity_kind == "household") & s.c.entity_id.in_(own[start : start + _CHUNK]),
                (s.c.entity_kind == "building") & s.c.entity_id.in_(ids[start : start + _CHUNK]),
            )
        )
        status.update({(k, e): (code, p) for k, e, code, p in conn.execute(query)})
    new = count_buildings(buildings, households, status)
    delta = {
        key: (
            new.get(key, (0, 0))[0] - old.get(key, (0, 0))[0],
            new.get(key, (0, 0))[1] - old.get(key, (0, 0))[1],
        )
        for key in {*new, *old}
    }
    delta = {key: moved for key, moved in delta.items() if moved != (0, 0)}
    if new:
        conn.execute(
            sa.insert(table),
            [
                {"level": "building", "entity_id": e, "code": c, "households": hh, "persons": pp}
                for (e, c), (hh, pp) in sorted(new.items())
            ],
        )
    if not delta:
        return
    # every grid above them and the district: moved by the difference
    chains = grid_chains(conn, tables["grids"], {row[0]: row[1] for row in buildings})
    moved: Moves = {}
    for (building, code), (dh, dp) in delta.items():
        targets = [("grid", grid) for grid in chains.get(building, [])]
        for level, entity in [*targets, ("total", TOTAL_ID)]:
            held = moved.setdefault((level, entity, code), [0, 0])
            held[0] += dh
            held[1] += dp
    _add(conn, table, moved)


def grid_chains(
    conn: sa.Connection, grids: sa.Table, grid_of: dict[str, str | None]
) -> dict[str, list[str]]:
    """Each building's grid and every grid above it (building id -> grid ids), in one
    recursive query."""
    start = sorted({g for g in grid_of.values() if g})
    parent: dict[str, str | None] = {}
    for chunk in chunked(start):
        chain = (
            sa.select(grids.c.grid_id, grids.c.parent_id)
            .where(grids.c.grid_id.in_(chunk))
            .cte("chain", recursive=True)
        )
        chain = chain.union(
            sa.select(grids.c.grid_id, grids.c.parent_id).join(
                chain, grids.c.grid_id == chain.c.parent_id
            )
        )
        parent.update(dict(conn.execute(sa.select(chain.c.grid_id, chain.c.parent_id)).all()))
    chains: dict[str, list[str]] = {}
    for building, grid in grid_of.items():
        path: list[str] = []
        seen: set[str] = set()
        while grid and grid in parent and grid not in seen:  # unknown grid: no chain
            path.append(grid)
            seen.add(grid)
            grid = parent[grid]
        chains[building] = path
    return chains


def _add(conn: sa.Connection, table: sa.Table, moved: Moves) -> None:
    """Add households and persons to count rows (created when missing); drop emptied rows."""
    rows = [
        {"level": level, "entity_id": entity, "code": code, "households": h, "persons": p}
        for (level, entity, code), (h, p) in sorted(moved.items())  # one lock order
        if h or p
    ]
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.level, table.c.entity_id, table.c.code],
        set_={
            "households": table.c.households + statement.excluded.households,
            "persons": table.c.persons + statement.excluded.persons,
        },
    )
    conn.execute(statement, rows)
    grids = sorted({row["entity_id"] for row in rows if row["level"] == "grid"})
    for start in range(0, max(len(grids), 1), _CHUNK):  # rows emptied by this change
        conn.execute(
            sa.delete(table)
            .where(table.c.households == 0, table.c.persons == 0)
            .where(
                sa.or_(
                    (table.c.level == "grid")
                    & table.c.entity_id.in_(grids[start : start + _CHUNK]),
                    table.c.level == "total",
                )
            )
        )


def read_counts(
    conn: sa.Connection,
    table: sa.Table,
    *,
    level: str | None = None,
    ids: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Count rows (columns of :data:`COLUMNS`), of one level and some entities if given."""
    query = sa.select(*(table.c[name] for name in COLUMNS))
    if level is not None:
        query = query.where(table.c.level == level)
    if ids is None:
        return _frame(conn, query.order_by(table.c.level, table.c.entity_id, table.c.code))
    chosen = sorted(set(ids))
    frames = [_frame(conn, query.where(table.c.entity_id.in_(c))) for c in chunked(chosen)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COLUMNS))
