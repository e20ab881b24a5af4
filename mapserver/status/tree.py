"""The grid tree: parents, children, ancestors, leaves and depths, with cycle detection."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype


@dataclass(frozen=True, eq=False)
class GridTree:
    """The grid tree as integer arrays over the rows of the grids table.

    Attributes
    ----------
    ids
        Grid ids in table order.
    parent
        Position of each grid's parent, ``-1`` for a root (no parent_id, or a
        parent_id that is not in the table).
    depth
        Distance to the root (0 for a root).
    """

    ids: pd.Index
    parent: np.ndarray
    depth: np.ndarray

    def position(self, grid_ids) -> np.ndarray:
        """Return the positions of ``grid_ids`` in the tree, ``-1`` for unknown ids."""
        return self.ids.get_indexer(pd.Index(id_array(grid_ids), dtype=object))


def id_array(values) -> np.ndarray:
    """Return identifiers as a new object array of str; missing values stay None/NaN.

    Missing values (None, NaN) and ``""`` match no identifier in look-ups.
    """
    arr = pd.Series(values, copy=False).to_numpy(dtype=object, copy=True)
    if infer_dtype(arr, skipna=True) not in ("string", "empty"):
        other = ~pd.isna(arr) & ~np.fromiter((isinstance(v, str) for v in arr), bool, len(arr))
        arr[other] = [str(v) for v in arr[other]]
    return arr


def build_tree(grids: pd.DataFrame) -> GridTree:
    """Build the integer tree of a grids table.

    Parameters
    ----------
    grids
        Columns ``grid_id`` and ``parent_id`` (None, NaN or ``""`` for a root).
        A parent_id not present in the table makes its grid a root, so a
        sub-district's grids may be passed alone.

    Returns
    -------
    GridTree

    Raises
    ------
    ValueError
        A grid_id appears twice, or the parent links form a cycle (the message
        names the cycle, e.g. ``A -> B -> A``).
    """
    ids = pd.Index(id_array(grids["grid_id"]), dtype=object)
    if ids.has_duplicates:
        dup = ids[ids.duplicated()][0]
        msg = f"grids: grid_id '{dup}' appears twice"
        raise ValueError(msg)
    parent_col = grids["parent_id"] if "parent_id" in grids.columns else [None] * len(grids)
    parent = ids.get_indexer(pd.Index(id_array(parent_col), dtype=object)).astype(np.int64)
    depth = _depths(parent, ids)
    return GridTree(ids=ids, parent=parent, depth=depth)


def _depths(parent: np.ndarray, ids: pd.Index) -> np.ndarray:
    """Return each node's depth, raising ValueError naming a cycle if there is one."""
    n = len(parent)
    depth = np.full(n, -1, dtype=np.int64)
    par = parent.tolist()
    for start in range(n):
        if depth[start] >= 0:
            continue
        path: list[int] = []
        on_path: dict[int, int] = {}
        node = start
        while node >= 0 and depth[node] < 0:
            if node in on_path:
                cycle = [*path[on_path[node] :], node]
                msg = "grid tree has a cycle (child -> parent): " + " -> ".join(
                    str(ids[i]) for i in cycle
                )
                raise ValueError(msg)
            on_path[node] = len(path)
            path.append(node)
            node = par[node]
        base = -1 if node < 0 else int(depth[node])
        for k, p in enumerate(reversed(path), start=1):
            depth[p] = base + k
    return depth


def grid_ancestors(grids: pd.DataFrame) -> dict[str, list[str]]:
    """Return each grid's ancestors, nearest first (parent, grandparent, ..., root).

    Parameters
    ----------
    grids
        Columns ``grid_id``, ``parent_id``.

    Raises
    ------
    ValueError
        On a duplicate grid_id or a cycle.
    """
    tree = build_tree(grids)
    par = tree.parent.tolist()
    ids = list(tree.ids)
    out: dict[str, list[str]] = {}
    for i in np.argsort(tree.depth, kind="stable").tolist():
        p = par[i]
        out[ids[i]] = [] if p < 0 else [ids[p], *out[ids[p]]]
    return {gid: out[gid] for gid in ids}


def grid_children(grids: pd.DataFrame) -> dict[str, list[str]]:
    """Return each grid's direct children in table order (every grid is a key).

    Raises
    ------
    ValueError
        On a duplicate grid_id or a cycle.
    """
    tree = build_tree(grids)
    ids = list(tree.ids)
    out: dict[str, list[str]] = {gid: [] for gid in ids}
    for i, p in enumerate(tree.parent.tolist()):
        if p >= 0:
            out[ids[p]].append(ids[i])
    return out


def leaf_grid_ids(grids: pd.DataFrame) -> list[str]:
    """Return the ids of grids with no children, in table order.

    Raises
    ------
    ValueError
        On a duplicate grid_id or a cycle.
    """
    tree = build_tree(grids)
    has_child = np.zeros(len(tree.ids), dtype=bool)
    has_child[tree.parent[tree.parent >= 0]] = True
    return [gid for gid, c in zip(tree.ids, has_child, strict=True) if not c]
