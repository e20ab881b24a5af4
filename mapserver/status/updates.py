"""Which buildings and grids a set of status changes recolours, for the live map."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mapserver.status.tree import build_tree, id_array


@dataclass(frozen=True)
class Affected:
    """Buildings and grids whose counts or colours a set of status changes may alter."""

    building_ids: frozenset[str]
    grid_ids: frozenset[str]

    def all_ids(self) -> set[str]:
        """Return building and grid ids together."""
        return set(self.building_ids) | set(self.grid_ids)


def affected_by_changes(
    changes: pd.DataFrame,
    buildings: pd.DataFrame,
    households: pd.DataFrame,
    grids: pd.DataFrame,
) -> Affected:
    """Return the buildings and grids affected by status changes.

    Parameters
    ----------
    changes
        Columns ``entity_kind`` (``household``/``building``) and ``entity_id``.
    buildings
        Columns ``building_id``, ``grid_id``.
    households
        Columns ``household_id``, ``building_id``.
    grids
        Columns ``grid_id``, ``parent_id``.

    Returns
    -------
    Affected
        Each changed building and the building of each changed household; the
        grid of each such building and all of that grid's ancestors. Entities
        not found in the tables are skipped (there is nothing to recolour).

    Raises
    ------
    ValueError
        On a duplicate grid_id or a cycle in the grid tree.
    """
    kind = changes["entity_kind"].to_numpy(dtype=object)
    ids = id_array(changes["entity_id"])
    hh_ids = pd.unique(ids[kind == "household"])
    b_changed = pd.unique(ids[kind == "building"])

    if len(hh_ids):
        h_index = pd.Index(id_array(households["household_id"]), dtype=object)
        hit = h_index.isin(hh_ids)
        b_of_hh = id_array(households["building_id"])[hit]
    else:
        b_of_hh = np.zeros(0, dtype=object)

    b_table_ids = id_array(buildings["building_id"])
    wanted = pd.unique(np.concatenate([b_changed, b_of_hh]))
    hit = pd.Index(b_table_ids, dtype=object).isin(wanted)
    building_ids = b_table_ids[hit]
    leaf = pd.unique(id_array(buildings["grid_id"])[hit])

    tree = build_tree(grids)
    pos = tree.position(leaf)
    marked = np.zeros(len(tree.ids), dtype=bool)
    frontier = np.unique(pos[pos >= 0])
    while len(frontier):
        frontier = frontier[~marked[frontier]]
        marked[frontier] = True
        parents = tree.parent[frontier]
        frontier = np.unique(parents[parents >= 0])
    return Affected(
        building_ids=frozenset(str(b) for b in building_ids),
        grid_ids=frozenset(str(g) for g in tree.ids[marked]),
    )


def changed_entities_to_grids(
    changes: pd.DataFrame,
    buildings: pd.DataFrame,
    households: pd.DataFrame,
    grids: pd.DataFrame,
) -> set[str]:
    """Return every building id and grid id (leaf and all ancestors) that changes affect.

    Parameters and lookups as :func:`affected_by_changes`; the two kinds of id
    are returned in one set.
    """
    return affected_by_changes(changes, buildings, households, grids).all_ids()
