"""Colour rules: one status code per building or grid from its counts; area-class inheritance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mapserver.status.scheme import NONE_CODE, Scheme, load_scheme
from mapserver.status.tree import build_tree, id_array

COLOUR_RULES: tuple[str, ...] = ("worst", "share")


def pick_codes(
    counts: pd.DataFrame,
    scheme: Scheme,
    *,
    rule: str = "worst",
    threshold: float = 0.1,
) -> pd.Series:
    """Choose one status code per row of a count table.

    Parameters
    ----------
    counts
        One row per entity (building or grid), one integer column per scheme
        code plus ``"none"`` (households with no status); missing code columns
        count as zero.
    scheme
        The status scheme that orders the codes by severity.
    rule
        ``"worst"``: the most severe code with a count above zero.
        ``"share"``: the most severe code whose share of all the row's
        households (``"none"`` included) is at least ``threshold``; if no code
        reaches it, the most common code (ties to the more severe).
    threshold
        Share from 0 to 1, used by the ``"share"`` rule only.

    Returns
    -------
    pandas.Series
        Same index as ``counts``, object dtype: the chosen code, or None when
        the row has no household with a status.
    """
    if rule not in COLOUR_RULES:
        msg = f"colour rule '{rule}' is not one of {', '.join(COLOUR_RULES)}"
        raise ValueError(msg)
    if not 0.0 <= threshold <= 1.0:
        msg = f"share threshold {threshold} is not between 0 and 1"
        raise ValueError(msg)
    worst = [c.code for c in scheme.codes_worst_first()]
    mat = counts.reindex(columns=worst, fill_value=0).fillna(0).to_numpy(dtype=np.float64)
    present = mat > 0
    if rule == "worst":
        chosen = present
    else:
        none = (
            counts[NONE_CODE].fillna(0).to_numpy(dtype=np.float64) if NONE_CODE in counts else 0.0
        )
        total = mat.sum(axis=1) + none
        with np.errstate(divide="ignore", invalid="ignore"):
            share = mat / total[:, None]
        chosen = present & (share >= threshold)
    pick = np.argmax(chosen, axis=1) if len(worst) else np.zeros(len(mat), dtype=np.int64)
    if rule == "share":
        fallback = ~chosen.any(axis=1)
        pick[fallback] = np.argmax(mat[fallback], axis=1)
    codes = np.asarray(worst, dtype=object)[pick] if len(mat) else np.array([], dtype=object)
    codes[~present.any(axis=1)] = None
    return pd.Series(codes, index=counts.index, dtype=object, name="status")


def effective_area_class(grids: pd.DataFrame) -> pd.Series:
    """Return each grid's area class, inherited from the nearest classed ancestor.

    Parameters
    ----------
    grids
        Columns ``grid_id``, ``parent_id`` and ``area_class`` (``sealed``,
        ``controlled``, ``precaution`` or ``none``; missing or empty means
        ``none``).

    Returns
    -------
    pandas.Series
        Index ``grid_id`` (table order), the grid's own class when it is not
        ``none``, else that of its nearest ancestor with one, else ``"none"``.

    Raises
    ------
    ValueError
        On a duplicate grid_id or a cycle in the tree.
    """
    tree = build_tree(grids)
    if "area_class" in grids.columns:
        own = id_array(grids["area_class"])
    else:
        own = np.full(len(grids), None, dtype=object)
    own[(own == NONE_CODE) | (own == "")] = None
    eff = own.copy()
    for d in range(1, int(tree.depth.max(initial=0)) + 1):
        rows = np.flatnonzero((tree.depth == d) & pd.isna(eff))
        eff[rows] = eff[tree.parent[rows]]
    eff[pd.isna(eff)] = NONE_CODE
    return pd.Series(eff, index=pd.Index(tree.ids, name="grid_id"), dtype=object, name="area_class")


def area_class_colours(grids: pd.DataFrame, *, scheme: Scheme | None = None) -> pd.Series:
    """Return the ``#rrggbb`` colour of each grid's effective area class.

    Parameters
    ----------
    grids
        As for :func:`effective_area_class`.
    scheme
        An ``area_class`` scheme; the shipped ``area3`` by default.

    Returns
    -------
    pandas.Series
        Index ``grid_id``, colour strings (the scheme's none colour for ``none``).
    """
    scheme = scheme or load_scheme("area3")
    classes = effective_area_class(grids)
    return classes.map(scheme.colour).rename("colour")
