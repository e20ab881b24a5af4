"""Measures of grids for a map that discriminates: households (or persons) in a chosen set of
statuses, or their share, put into graduated classes (quantiles, natural breaks, equal
steps or fixed bounds).

Grids with a value of 0 form a class of their own, so that the classes tell apart the
grids that have something. Pure functions over the count frames a map view holds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

MEASURES = ("households", "share", "persons", "person_share")
METHODS = ("quantile", "natural", "equal", "fixed")
RAMP = ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15")  # ColorBrewer Reds, 5 classes
ZERO_COLOUR = "#f2f2f2"
MAX_CLASSES = len(RAMP)
NATURAL_SAMPLE = 400  # natural breaks on at most this many distinct values (quantile sample)


def measure_values(
    households: pd.DataFrame, persons: pd.DataFrame, codes: Sequence[str], measure: str
) -> pd.Series:
    """Each grid's value of ``measure`` for the statuses ``codes`` (columns of the count
    frames): households or persons in them, or their share of all (0 where none)."""
    if measure not in MEASURES:
        msg = f"measure {measure!r} is not one of {', '.join(MEASURES)}"
        raise ValueError(msg)
    frame = persons if measure.startswith("person") else households
    chosen = frame[[c for c in codes if c in frame.columns]].sum(axis=1).astype(float)
    if measure.endswith("share"):
        total = frame.sum(axis=1).astype(float)
        chosen = (chosen / total.where(total > 0)).fillna(0.0)
    return chosen


def _natural_breaks(values: np.ndarray, k: int) -> list[float]:
    """Upper bounds of ``k`` classes minimising the squared deviations within classes
    (Fisher's exact method on the sorted values)."""
    x = np.sort(values)
    n = len(x)
    k = min(k, n)
    prefix = np.concatenate([[0.0], np.cumsum(x)])
    prefix2 = np.concatenate([[0.0], np.cumsum(x * x)])

    def cost(i: int, j: int) -> float:  # values x[i:j]
        total = prefix[j] - prefix[i]
        return prefix2[j] - prefix2[i] - total * total / (j - i)

    best = np.full((k + 1, n + 1), np.inf)
    cut = np.zeros((k + 1, n + 1), dtype=int)
    best[0, 0] = 0.0
    for classes in range(1, k + 1):
        for j in range(classes, n + 1):
            for i in range(classes - 1, j):
                value = best[classes - 1, i] + cost(i, j)
                if value < best[classes, j]:
                    best[classes, j] = value
                    cut[classes, j] = i
    bounds: list[float] = []
    j = n
    for classes in range(k, 0, -1):
        bounds.append(float(x[j - 1]))
        j = cut[classes, j]
    return sorted(bounds)


def class_bounds(
    values: np.ndarray, k: int, method: str, fixed: Sequence[float] | None = None
) -> list[float]:
    """Upper bounds of the classes of the non-zero ``values`` (the last is their maximum),
    at most ``k`` classes, distinct and increasing."""
    if method not in METHODS:
        msg = f"method {method!r} is not one of {', '.join(METHODS)}"
        raise ValueError(msg)
    positive = np.asarray(values, dtype=float)
    positive = positive[positive > 0]
    if not len(positive):
        return []
    top = float(positive.max())
    k = max(1, min(int(k), MAX_CLASSES))
    if method == "fixed":
        bounds = sorted(float(b) for b in (fixed or []) if 0 < float(b) < top)
        return [*bounds, top]
    if method == "equal":
        low = float(positive.min())
        bounds = list(np.linspace(low, top, k + 1)[1:])
    elif method == "quantile":
        ordered, n = np.sort(positive), len(positive)  # the value at each k-th of them
        bounds = [float(ordered[(n * i + k - 1) // k - 1]) for i in range(1, k + 1)]
    else:
        distinct = np.unique(positive)
        if len(distinct) > NATURAL_SAMPLE:
            distinct = np.quantile(distinct, np.linspace(0, 1, NATURAL_SAMPLE))
        bounds = _natural_breaks(distinct, k)
    bounds[-1] = top
    return sorted({float(b) for b in bounds})


def classify(values: np.ndarray, bounds: Sequence[float]) -> np.ndarray:
    """The class of each value: -1 for 0 (or less), else the index of the first bound
    it does not exceed."""
    values = np.asarray(values, dtype=float)
    found = np.searchsorted(np.asarray(bounds, dtype=float), values, side="left")
    found = np.minimum(found, max(len(bounds) - 1, 0))
    return np.where(values > 0, found, -1)


def class_colours(count: int) -> list[str]:
    """``count`` colours of the ramp, light to dark, spread over its whole range."""
    if count <= 0:
        return []
    picks = np.round(np.linspace(0, len(RAMP) - 1, count)).astype(int)
    return [RAMP[i] for i in picks]
