"""Tests for mapserver.districting.people."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mapserver.demo.synthetic import synthetic_parent
from mapserver.districting.people import assign_persons, assign_volunteers


def _households(buildings):
    rows = [
        (f"{b}-{k}", b)
        for b, n in zip(buildings["building_id"], buildings["households"], strict=True)
        for k in range(n)
    ]
    return pd.DataFrame(rows, columns=["household_id", "building_id"])


def test_volunteers_get_balanced_compact_groups():
    buildings, _, _ = synthetic_parent(12, seed=4)
    households = _households(buildings)
    n = len(households)
    names = [f"V{i}" for i in range(int(np.ceil(n / 4)))]
    groups = assign_volunteers(households, names, buildings=buildings)
    sizes = [len(g) for g in groups.values()]
    assert sum(sizes) == n and max(sizes) - min(sizes) <= 1 and min(sizes) >= 3
    assert sorted(h for g in groups.values() for h in g) == sorted(households["household_id"])


def test_positions_send_households_to_the_nearest_volunteers():
    buildings, _, _ = synthetic_parent(60, seed=4)
    west = buildings.geometry.representative_point().x.idxmin()
    east = buildings.geometry.representative_point().x.idxmax()
    sample = buildings.loc[[west, east]].assign(households=3)
    households = _households(sample)
    where = {
        "W": tuple(sample.geometry.iloc[0].centroid.coords[0]),
        "E": tuple(sample.geometry.iloc[1].centroid.coords[0]),
    }
    groups = assign_volunteers(households, ["E", "W"], positions=where, buildings=sample)
    assert all(h.startswith(sample["building_id"].iloc[0]) for h in groups["W"])
    assert all(h.startswith(sample["building_id"].iloc[1]) for h in groups["E"])


def test_too_few_volunteers_is_an_error():
    buildings, _, _ = synthetic_parent(5, seed=4)
    households = _households(buildings)
    with pytest.raises(ValueError, match="need at least"):
        assign_volunteers(households, ["A"], buildings=buildings)


def test_assign_persons():
    people = assign_persons(["M01", "M02", "M03"], ["张伟", "王芳"])
    assert people == {"M01": "张伟", "M02": "王芳", "M03": None}
