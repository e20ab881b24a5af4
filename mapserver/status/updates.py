"""The live roll-up as pure functions: which grids a batch of status changes recounts,
and the counts table with those grids' fresh rows patched in (every other row kept).

The store keeps every building's and grid's counts with each write; a process holding
the map's counts reads only what changed since its last sequence number: the buildings
touched (their leaf grids), then the fresh counts of :func:`grids_to_recount`, and
applies them with :func:`patch_counts`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd


def grids_to_recount(
    leaves: Iterable[str | None], ancestors: Mapping[str, Iterable[str]], known: Iterable[str]
) -> set[str]:
    """The grids whose counts changes in buildings of ``leaves`` (their grids) move: each
    known leaf and every ancestor of it. Unknown or missing leaves are skipped."""
    known = known if isinstance(known, set | frozenset | pd.Index) else set(known)
    grid_ids: set[str] = set()
    for leaf in set(leaves):
        if leaf is None or leaf not in known:
            continue
        grid_ids.add(leaf)
        grid_ids.update(ancestors.get(leaf, ()))
    return grid_ids


def patch_counts(before: pd.DataFrame, fresh: pd.DataFrame) -> pd.DataFrame:
    """``before`` (grid id × status code) with the rows of ``fresh`` put in place of the
    same grids' rows; the other rows as they were. ``before`` is not changed."""
    if not len(fresh):
        return before
    patched = before.copy()
    index = pd.Index(fresh.index, dtype=object)
    patched.loc[index] = fresh.reindex(columns=before.columns).to_numpy()
    return patched
