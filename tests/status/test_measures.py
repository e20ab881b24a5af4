"""Measures and graduated classes: values from the count frames, natural breaks equal to the
brute-force optimum, classes of the non-zero values, zero apart."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from mapserver.status.measures import (
    _natural_breaks,
    class_bounds,
    class_colours,
    classify,
    measure_values,
)


def _frames():
    households = pd.DataFrame(
        {"red": [0, 2, 5, 1], "green": [4, 2, 0, 0], "none": [0, 0, 0, 1]},
        index=["a", "b", "c", "d"],
    )
    persons = households * 3
    return households, persons


def test_measure_values_count_and_share_the_chosen_statuses():
    households, persons = _frames()
    assert measure_values(households, persons, ["red"], "households").tolist() == [0, 2, 5, 1]
    assert measure_values(households, persons, ["red"], "share").tolist() == [0, 0.5, 1, 0.5]
    assert measure_values(households, persons, ["red", "green"], "persons").tolist() == [
        12,
        12,
        15,
        3,
    ]
    empty = pd.DataFrame({"red": [0], "none": [0]}, index=["z"])
    assert measure_values(empty, empty, ["red"], "share").tolist() == [0.0]
    with pytest.raises(ValueError, match="measure"):
        measure_values(households, persons, ["red"], "density")


def _sse(groups):
    return sum(((g - g.mean()) ** 2).sum() for g in groups)


@pytest.mark.parametrize("seed", range(6))
def test_natural_breaks_reach_the_brute_force_optimum(seed):
    rng = np.random.default_rng(seed)
    values = np.sort(rng.integers(1, 60, size=9).astype(float))
    k = 3
    best = min(
        _sse(np.split(values, list(cuts)))
        for cuts in itertools.combinations(range(1, len(values)), k - 1)
    )
    bounds = _natural_breaks(values, k)
    classes = classify(values, bounds)
    ours = _sse([values[classes == c] for c in range(len(bounds))])
    assert ours == pytest.approx(best)


def test_classes_leave_zero_apart_and_cover_the_largest_value():
    values = np.array([0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10.0])
    for method in ("quantile", "natural", "equal"):
        bounds = class_bounds(values, 5, method)
        assert bounds == sorted(set(bounds)) and bounds[-1] == 10
        found = classify(values, bounds)
        assert (found[:2] == -1).all() and (found[2:] >= 0).all()
        assert len(set(found[2:])) == len(bounds)  # every class holds a grid here
    quantile = classify(values, class_bounds(values, 5, "quantile"))
    assert np.bincount(quantile[2:]).tolist() == [2, 2, 2, 2, 2]
    fixed = class_bounds(values, 5, "fixed", [3, 6, 50])
    assert fixed == [3, 6, 10] and classify(np.array([3, 3.5, 10]), fixed).tolist() == [0, 1, 2]
    assert class_bounds(np.zeros(4), 5, "quantile") == []
    assert class_colours(3)[0] != class_colours(3)[-1] and len(class_colours(5)) == 5
