"""Join status rows to households and buildings, and roll the counts up the grid tree.

Written here rather than with a library: the join is two hash look-ups and the
roll-up one ``np.bincount`` per code plus one ``np.add.at`` per tree level.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mapserver.status.colour import pick_codes
from mapserver.status.scheme import NONE_CODE, Scheme
from mapserver.status.tree import build_tree, id_array


@dataclass(frozen=True, eq=False)
class Rollup:
    """Household and person counts per status code, per building and per grid subtree.

    Attributes
    ----------
    scheme
        The scheme whose codes are the columns.
    building_households, building_persons
        Index ``building_id``; one int64 column per scheme code (file order)
        plus ``"none"``.
    grid_households, grid_persons
        Index ``grid_id``; totals over every building whose grid is the grid or
        any of its descendants.
    building_status
        Index ``building_id``; the building's own status row's code, or None.
    """

    scheme: Scheme
    building_households: pd.DataFrame
    building_persons: pd.DataFrame
    grid_households: pd.DataFrame
    grid_persons: pd.DataFrame
    building_status: pd.Series

    def building_colour_codes(self, *, rule: str = "worst", threshold: float = 0.1) -> pd.Series:
        """Return each building's colour code by ``rule`` (see ``colour.pick_codes``).

        A building counted with no households (none listed, ``households`` 0)
        takes its own status row's code.
        """
        codes = pick_codes(self.building_households, self.scheme, rule=rule, threshold=threshold)
        empty = self.building_households.sum(axis=1).to_numpy() == 0
        # assign on object arrays: a masked pandas assignment turns None into NaN
        values = codes.to_numpy(dtype=object, copy=True)
        values[empty] = self.building_status.to_numpy(dtype=object)[empty]
        return pd.Series(values, index=codes.index, dtype=object, name=codes.name)

    def grid_colour_codes(self, *, rule: str = "worst", threshold: float = 0.1) -> pd.Series:
        """Return each grid's colour code (or None) by ``rule`` (see ``colour.pick_codes``)."""
        return pick_codes(self.grid_households, self.scheme, rule=rule, threshold=threshold)

    def totals(self) -> dict[str, Any]:
        """Return the counts of the whole table of buildings (the district).

        Returns
        -------
        dict
            ``{"households": {code: n}, "persons": {code: n}, "total_households": n,
            "total_persons": n}``; codes include ``"none"``.
        """
        hh = {k: int(v) for k, v in self.building_households.sum(axis=0).items()}
        pp = {k: int(v) for k, v in self.building_persons.sum(axis=0).items()}
        return {
            "households": hh,
            "persons": pp,
            "total_households": sum(hh.values()),
            "total_persons": sum(pp.values()),
        }

    def grid_records(
        self, *, ids=None, rule: str = "worst", threshold: float = 0.1
    ) -> list[dict[str, Any]]:
        """Return one JSON-ready record per grid (all, or ``ids`` in that order).

        Each record: ``grid_id``, ``households`` and ``persons`` (``{code: n}``,
        ``"none"`` included), ``total_households``, ``total_persons``,
        ``status`` (chosen code or None) and ``colour`` (``#rrggbb``).
        """
        codes = self.grid_colour_codes(rule=rule, threshold=threshold)
        return self._records("grid_id", self.grid_households, self.grid_persons, codes, ids)

    def building_records(
        self, *, ids=None, rule: str = "worst", threshold: float = 0.1
    ) -> list[dict[str, Any]]:
        """Return one JSON-ready record per building, as :meth:`grid_records` does for grids."""
        codes = self.building_colour_codes(rule=rule, threshold=threshold)
        return self._records(
            "building_id", self.building_households, self.building_persons, codes, ids
        )

    def _records(self, key, households, persons, codes, ids) -> list[dict[str, Any]]:
        """Build the records of :meth:`grid_records` / :meth:`building_records`."""
        if ids is not None:
            ids = list(ids)
            households, persons, codes = households.loc[ids], persons.loc[ids], codes.loc[ids]
        cols = list(households.columns)
        hh = households.to_numpy().tolist()
        pp = persons.to_numpy().tolist()
        out = []
        for eid, h, p, code in zip(households.index, hh, pp, codes.tolist(), strict=True):
            out.append(
                {
                    key: eid,
                    "households": dict(zip(cols, h, strict=True)),
                    "persons": dict(zip(cols, p, strict=True)),
                    "total_households": sum(h),
                    "total_persons": sum(p),
                    "status": code,
                    "colour": self.scheme.colour(code),
                }
            )
        return out


def rollup(
    grids: pd.DataFrame,
    buildings: pd.DataFrame,
    households: pd.DataFrame,
    status: pd.DataFrame,
    scheme: Scheme,
) -> Rollup:
    """Count households and persons by status code per building and per grid subtree.

    A household's status is its own ``household`` status row if present, else
    its building's ``building`` status row if present, else none. A building
    with no rows in ``households`` counts as ``buildings.households`` households
    (0 if unknown), all with the building's status; their persons are the
    building status row's ``persons`` if given, else ``buildings.residents``.
    A listed household's persons are its own status row's ``persons`` if given,
    else its ``residents`` (0 if unknown).

    Parameters
    ----------
    grids
        Columns ``grid_id``, ``parent_id`` (the tree; other columns ignored).
    buildings
        Columns ``building_id``, ``grid_id`` (any grid, usually a leaf; a
        building with no known grid is counted for itself and in ``totals``
        only), ``households``, ``residents``.
    households
        Columns ``household_id``, ``building_id``, ``residents``; households of
        unknown buildings are left out with a warning.
    status
        Columns ``entity_kind`` (``household``/``building``), ``entity_id``,
        ``status``, ``persons`` (optional). When an entity has several rows the
        last wins. Codes not in ``scheme`` count as ``"none"``, with a warning.
    scheme
        The status scheme giving the columns.

    Returns
    -------
    Rollup

    Raises
    ------
    ValueError
        On a duplicate grid_id or building_id, or a cycle in the grid tree.
    """
    tree = build_tree(grids)
    codes = list(scheme.code_names)
    k = len(codes) + 1  # last column: none
    none = k - 1

    b_ids = pd.Index(id_array(buildings["building_id"]), dtype=object, name="building_id")
    if b_ids.has_duplicates:
        msg = f"buildings: building_id '{b_ids[b_ids.duplicated()][0]}' appears twice"
        raise ValueError(msg)
    nb = len(b_ids)
    b_hh = _int_column(buildings, "households")
    b_res = _int_column(buildings, "residents")

    hh_status, b_status = _split_status(status, codes, scheme.name)

    # building's own status code and persons (-1 = not given); index nb = "no building"
    pos = _positions(b_status.ids, b_ids.to_numpy())
    b_code = np.append(_take(b_status.code, pos, none), none)
    b_pers = np.append(_take(b_status.persons, pos, -1), -1)

    # households: building position, effective code and persons
    h_ids = id_array(households["household_id"])
    h_b = b_ids.get_indexer(id_array(households["building_id"]))
    if (h_b < 0).any():
        bad = pd.unique(households["building_id"].to_numpy()[h_b < 0])[:5]
        warnings.warn(
            f"households: {int((h_b < 0).sum())} household(s) of unknown buildings "
            f"left out (e.g. {', '.join(map(str, bad))})",
            stacklevel=2,
        )
    h_b[h_b < 0] = nb
    h_res = _int_column(households, "residents")
    own = _positions(hh_status.ids, h_ids)
    h_code = np.where(own >= 0, _take(hh_status.code, own, 0), b_code[h_b])
    own_pers = _take(hh_status.persons, own, -1)
    h_pers = np.where(own_pers >= 0, own_pers, h_res)

    keep = h_b < nb
    flat = h_b[keep] * k + h_code[keep]
    bmat_h = np.bincount(flat, minlength=nb * k).reshape(nb, k)
    bmat_p = np.bincount(flat, weights=h_pers[keep], minlength=nb * k).reshape(nb, k)
    bmat_p = np.rint(bmat_p).astype(np.int64)

    # buildings with no listed households count as households of their own status
    listed = np.bincount(h_b[keep], minlength=nb) > 0
    b_code, b_pers = b_code[:nb], b_pers[:nb]
    rows = np.flatnonzero(~listed)
    bmat_h[rows, b_code[rows]] += b_hh[rows]
    bmat_p[rows, b_code[rows]] += np.where(b_pers[rows] >= 0, b_pers[rows], b_res[rows])

    # grids: direct counts per grid, then add each level to its parents, deepest first
    b_g = tree.position(buildings["grid_id"]) if "grid_id" in buildings else np.full(nb, -1)
    ng = len(tree.ids)
    gmat_h = _sum_by(b_g, bmat_h, ng)
    gmat_p = _sum_by(b_g, bmat_p, ng)
    for d in range(int(tree.depth.max(initial=0)), 0, -1):
        at = np.flatnonzero(tree.depth == d)
        np.add.at(gmat_h, tree.parent[at], gmat_h[at])
        np.add.at(gmat_p, tree.parent[at], gmat_p[at])

    cols = pd.Index([*codes, NONE_CODE])
    g_index = pd.Index(tree.ids, dtype=object, name="grid_id")
    own_code = np.asarray([*codes, None], dtype=object)[b_code]
    return Rollup(
        scheme=scheme,
        building_households=pd.DataFrame(bmat_h, index=b_ids, columns=cols),
        building_persons=pd.DataFrame(bmat_p, index=b_ids, columns=cols),
        grid_households=pd.DataFrame(gmat_h, index=g_index, columns=cols),
        grid_persons=pd.DataFrame(gmat_p, index=g_index, columns=cols),
        building_status=pd.Series(own_code, index=b_ids, dtype=object, name="status"),
    )


def _int_column(frame: pd.DataFrame, column: str, *, missing: int = 0) -> np.ndarray:
    """Return a count column as int64, ``missing`` where empty (or when the column is absent)."""
    if column not in frame.columns:
        return np.full(len(frame), missing, dtype=np.int64)
    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values):
        values = pd.to_numeric(values, errors="coerce")
    if pd.api.types.is_integer_dtype(values) and not values.hasnans:
        return values.to_numpy(dtype=np.int64)
    return values.fillna(missing).to_numpy(dtype=np.int64)


@dataclass(frozen=True, eq=False)
class _Rows:
    """Status rows of one entity kind as arrays: ids, integer codes, persons (-1 if not given)."""

    ids: np.ndarray
    code: np.ndarray
    persons: np.ndarray


def _split_status(status: pd.DataFrame, codes: list[str], scheme_name: str) -> tuple[_Rows, _Rows]:
    """Return the (household, building) status rows; codes are positions in ``codes``.

    Codes not in the scheme become ``none`` (position ``len(codes)``), with a warning.
    """
    raw = status["status"].to_numpy(dtype=object)
    code = pd.Index(codes, dtype=object).get_indexer(raw).astype(np.int64)
    unknown = code < 0
    if unknown.any():
        bad = pd.unique(raw[unknown])[:5]
        warnings.warn(
            f"status: {int(unknown.sum())} row(s) with codes not in scheme "
            f"'{scheme_name}' counted as none (e.g. {', '.join(map(str, bad))})",
            stacklevel=3,
        )
        code[unknown] = len(codes)
    persons = _int_column(status, "persons", missing=-1)
    ids = id_array(status["entity_id"])
    if "entity_kind" in status:
        kind = status["entity_kind"].to_numpy(dtype=object)
        is_hh = kind == "household"
        is_b = kind == "building"
        hh = _Rows(ids[is_hh], code[is_hh], persons[is_hh])
        return hh, _Rows(ids[is_b], code[is_b], persons[is_b])
    empty = np.zeros(0, dtype=np.int64)
    return _Rows(ids, code, persons), _Rows(np.zeros(0, dtype=object), empty, empty)


def _positions(keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Return for each query the position of its row in ``keys`` (last one if repeated), or -1.

    Fast path when both hold the same ids in the same order (a status table
    read in the households' order): no hashing.
    """
    same = len(keys) == len(queries) and (keys[:64] == queries[:64]).all()
    if same and (keys == queries).all():
        return np.arange(len(keys))
    index = pd.Index(keys, dtype=object)
    if index.is_unique:
        return index.get_indexer(queries)
    last = np.flatnonzero(~index.duplicated(keep="last"))
    pos = pd.Index(keys[last], dtype=object).get_indexer(queries)
    return np.where(pos >= 0, last[pos], -1)


def _take(values: np.ndarray, pos: np.ndarray, default: int) -> np.ndarray:
    """Return ``values[pos]``, ``default`` where ``pos`` is -1."""
    return np.append(values, default)[pos]


def _sum_by(group: np.ndarray, mat: np.ndarray, n: int) -> np.ndarray:
    """Sum the rows of ``mat`` by ``group`` (rows with group -1 dropped) into ``n`` rows."""
    keep = group >= 0
    out = np.zeros((n, mat.shape[1]), dtype=np.int64)
    for j in range(mat.shape[1]):
        out[:, j] = np.bincount(group[keep], weights=mat[keep, j], minlength=n)
    return out
