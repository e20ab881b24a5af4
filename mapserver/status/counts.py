"""Household and person counts per status code, per building, per grid subtree and for the
whole district, in long form: one row per entity and code, as the store keeps them.

The rules are those of :func:`mapserver.status.rollup.rollup`, without a scheme: codes
are kept as written (a reader maps codes its scheme does not know to "none"), and an
entity with neither a household nor a person of a code has no row for it.

Pure functions: the store calls them inside its write transactions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from mapserver.status.scheme import NONE_CODE
from mapserver.status.tree import build_tree

TOTAL_ID = ""  # entity_id of the district's row
COLUMNS = ("level", "entity_id", "code", "households", "persons")


def _count_column(frame: pd.DataFrame, column: str) -> pd.Series:
    """A count column as int64 with missing values 0 (0 everywhere when absent)."""
    if column not in frame.columns:
        return pd.Series(0, index=frame.index, dtype=np.int64)
    return pd.to_numeric(frame[column], errors="coerce").fillna(0).astype(np.int64)


def _latest(status: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The status rows of one entity kind, the last one per entity, indexed by entity_id."""
    rows = status[status["entity_kind"] == kind]
    return rows.drop_duplicates("entity_id", keep="last").set_index("entity_id")


def building_counts(
    buildings: pd.DataFrame, households: pd.DataFrame, status: pd.DataFrame
) -> pd.DataFrame:
    """Counts per building and code (columns building_id, code, households, persons).

    A household's code is its own status row's, else its building's, else "none"; its
    persons are its status row's ``persons`` when given, else its ``residents``. A
    building with no listed households counts ``buildings.households`` households of
    its own code, with its status row's persons or else its ``residents``. Households
    of buildings not in ``buildings`` are left out.
    """
    own_b = _latest(status, "building")
    own_h = _latest(status, "household")
    known = households[households["building_id"].isin(buildings["building_id"])]
    b_code = own_b["status"].reindex(known["building_id"]).to_numpy(dtype=object)
    h_code = own_h["status"].reindex(known["household_id"]).to_numpy(dtype=object)
    code = np.where(pd.isna(h_code), b_code, h_code)
    code = np.where(pd.isna(code), NONE_CODE, code)
    h_persons = pd.to_numeric(own_h["persons"], errors="coerce").reindex(known["household_id"])
    persons = np.where(
        h_persons.isna().to_numpy(),
        _count_column(known, "residents").to_numpy(),
        h_persons.fillna(0).to_numpy(),
    ).astype(np.int64)
    listed = (
        pd.DataFrame(
            {
                "building_id": known["building_id"].to_numpy(dtype=object),
                "code": code,
                "households": 1,
                "persons": persons,
            }
        )
        .groupby(["building_id", "code"], sort=False, as_index=False)
        .sum()
    )
    alone = buildings[~buildings["building_id"].isin(known["building_id"])]
    alone_code = own_b["status"].reindex(alone["building_id"]).fillna(NONE_CODE)
    alone_own = pd.to_numeric(own_b["persons"], errors="coerce").reindex(alone["building_id"])
    unlisted = pd.DataFrame(
        {
            "building_id": alone["building_id"].to_numpy(dtype=object),
            "code": alone_code.to_numpy(dtype=object),
            "households": _count_column(alone, "households").to_numpy(),
            "persons": np.where(
                alone_own.isna().to_numpy(),
                _count_column(alone, "residents").to_numpy(),
                alone_own.fillna(0).to_numpy(),
            ).astype(np.int64),
        }
    )
    out = pd.concat([listed, unlisted], ignore_index=True)
    out = out[(out["households"] != 0) | (out["persons"] != 0)]
    return out.astype({"households": np.int64, "persons": np.int64}).reset_index(drop=True)


def count_buildings(
    buildings: Iterable[Sequence], households: Iterable[Sequence], status: Mapping
) -> dict[tuple[str, str], tuple[int, int]]:
    """:func:`building_counts` for a few buildings, on plain rows (no frames).

    ``buildings``: (building_id, grid_id, households, residents) rows; ``households``:
    (household_id, building_id, residents) rows of those buildings; ``status``:
    (entity_kind, entity_id) -> (code, persons or None). Returns (building_id, code) ->
    (households, persons), without empty entries.
    """
    out: dict[tuple[str, str], list[int]] = {}
    listed: set[str] = set()
    own = {row[0]: status.get(("building", row[0])) for row in buildings}
    for household_id, building_id, residents in households:
        if building_id not in own:
            continue
        listed.add(building_id)
        mine, theirs = status.get(("household", household_id)), own[building_id]
        code = mine[0] if mine else (theirs[0] if theirs else NONE_CODE)
        persons = mine[1] if mine and mine[1] is not None else (residents or 0)
        held = out.setdefault((building_id, code), [0, 0])
        held[0] += 1
        held[1] += int(persons)
    for building_id, _grid, count, residents in buildings:
        if building_id in listed:
            continue
        theirs = own[building_id]
        code = theirs[0] if theirs else NONE_CODE
        persons = theirs[1] if theirs and theirs[1] is not None else (residents or 0)
        held = out.setdefault((building_id, code), [0, 0])
        held[0] += int(count or 0)
        held[1] += int(persons)
    return {key: (h, p) for key, (h, p) in out.items() if h or p}


def grid_counts(counts: pd.DataFrame, buildings: pd.DataFrame, grids: pd.DataFrame) -> pd.DataFrame:
    """Counts per grid subtree and code (columns grid_id, code, households, persons): the
    building counts of every building whose grid is the grid or one of its descendants."""
    tree = build_tree(grids)
    grid_of = buildings.set_index("building_id")["grid_id"]
    position = tree.position(grid_of.reindex(counts["building_id"]).to_numpy(dtype=object))
    placed = counts.assign(pos=position)[position >= 0]
    level = placed.groupby(["pos", "code"], as_index=False)[["households", "persons"]].sum()
    parts = []
    for depth in range(int(tree.depth.max(initial=0)), -1, -1):
        at = level[tree.depth[level["pos"].to_numpy()] == depth]
        parts.append(at)
        if depth == 0:
            break
        up = at.assign(pos=tree.parent[at["pos"].to_numpy()])
        rest = level[tree.depth[level["pos"].to_numpy()] != depth]
        level = pd.concat([rest, up[up["pos"] >= 0]], ignore_index=True)
        level = level.groupby(["pos", "code"], as_index=False)[["households", "persons"]].sum()
    out = pd.concat(parts, ignore_index=True)
    out.insert(0, "grid_id", np.asarray(tree.ids, dtype=object)[out["pos"].to_numpy()])
    return out.drop(columns="pos").reset_index(drop=True)


def total_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """The district's counts per code (columns code, households, persons)."""
    return counts.groupby("code", as_index=False)[["households", "persons"]].sum()


def all_counts(
    grids: pd.DataFrame, buildings: pd.DataFrame, households: pd.DataFrame, status: pd.DataFrame
) -> pd.DataFrame:
    """Every count row (columns of :data:`COLUMNS`): buildings, grid subtrees, the total."""
    per_building = building_counts(buildings, households, status)
    per_grid = grid_counts(per_building, buildings, grids)
    total = total_counts(per_building)
    return pd.concat(
        [
            per_building.rename(columns={"building_id": "entity_id"}).assign(level="building"),
            per_grid.rename(columns={"grid_id": "entity_id"}).assign(level="grid"),
            total.assign(level="total", entity_id=TOTAL_ID),
        ],
        ignore_index=True,
    )[list(COLUMNS)]


def wide_counts(
    rows: pd.DataFrame, codes: Sequence[str], index: pd.Index
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long count rows (columns entity_id, code, households, persons) as two frames, the
    households' and the persons', indexed by ``index`` with one int64 column per code of
    ``codes`` and a last one for "none" (the columns of a :class:`~mapserver.status.rollup.
    Rollup`). Codes not in ``codes`` are added to "none"; entities not in ``index`` are
    left out; entities without rows count 0."""
    columns = pd.Index([*codes, NONE_CODE])
    shape = (len(index), len(columns))
    households = np.zeros(shape, dtype=np.int64)
    persons = np.zeros(shape, dtype=np.int64)
    if len(rows):
        at = index.get_indexer(rows["entity_id"].to_numpy(dtype=object))
        col = pd.Index(codes, dtype=object).get_indexer(rows["code"].to_numpy(dtype=object))
        col[col < 0] = len(codes)
        keep = at >= 0
        where = (at[keep], col[keep])
        np.add.at(households, where, rows["households"].to_numpy(dtype=np.int64)[keep])
        np.add.at(persons, where, rows["persons"].to_numpy(dtype=np.int64)[keep])
    return (
        pd.DataFrame(households, index=index, columns=columns),
        pd.DataFrame(persons, index=index, columns=columns),
    )
