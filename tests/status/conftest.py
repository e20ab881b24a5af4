"""Tiny districts built in code for the status tests, and a brute-force roll-up to check against."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mapserver.status.scheme import Scheme, load_scheme


@pytest.fixture
def hongkou() -> Scheme:
    """The default six-colour scheme."""
    return load_scheme("hongkou6")


@pytest.fixture
def district() -> dict[str, pd.DataFrame]:
    """A hand-made district: district D, two sub-districts, four micro-grids, seven buildings.

    B2 and B4 list no households; B6 sits on a non-leaf grid; B7 has no grid.
    """
    grids = pd.DataFrame(
        {
            "grid_id": ["D", "S1", "S2", "M1", "M2", "M3", "M4"],
            "parent_id": [None, "D", "D", "S1", "S1", "S2", "S2"],
            "level": ["district", "subdistrict", "subdistrict", *["micro"] * 4],
            "area_class": ["none", "sealed", None, "none", "controlled", "", "precaution"],
        }
    )
    buildings = pd.DataFrame(
        {
            "building_id": ["B1", "B2", "B3", "B4", "B5", "B6", "B7"],
            "grid_id": ["M1", "M1", "M2", "M3", "M4", "S2", None],
            "households": [3, 4, 3, 3, 2, 1, 2],
            "residents": [8, 9, 7, 5, 4, 2, 3],
        }
    )
    households = pd.DataFrame(
        {
            "household_id": ["H1", "H2", "H3", "H4", "H5", "H6", "H7", "H8", "H9", "H10"],
            "building_id": ["B1", "B1", "B1", "B3", "B3", "B3", "B5", "B5", "B6", "B7"],
            "residents": [2, 3, 3, 1, 4, 2, 2, 2, 2, 3],
        }
    )
    status = pd.DataFrame(
        {
            "entity_kind": [
                "household",
                "household",
                "building",
                "building",
                "household",
                "household",
                "household",
                "household",
                "building",
            ],
            "entity_id": ["H1", "H2", "B2", "B3", "H4", "H1", "H9", "H10", "B7"],
            "status": ["green", "red", "yellow", "blue", "grey", "yellow", "black", "red", "green"],
            "persons": [None, 5, 7, None, None, 1, None, None, None],
        }
    )
    return {"grids": grids, "buildings": buildings, "households": households, "status": status}


@pytest.fixture
def random_district(hongkou: Scheme) -> dict[str, pd.DataFrame]:
    """A seeded random district: 60 grids, 120 buildings, 900 households, mixed status rows."""
    rng = np.random.default_rng(7)
    gids = [f"G{i}" for i in range(60)]
    parents = [None] + [gids[int(rng.integers(0, i))] for i in range(1, 60)]
    areas = rng.choice(["none", "sealed", "controlled", "precaution"], 60, p=[0.7, 0.1, 0.1, 0.1])
    grids = pd.DataFrame({"grid_id": gids, "parent_id": parents, "level": "x", "area_class": areas})
    bids = [f"B{i}" for i in range(120)]
    buildings = pd.DataFrame(
        {
            "building_id": bids,
            "grid_id": rng.choice(gids, 120),
            "households": rng.integers(0, 12, 120),
            "residents": rng.integers(0, 30, 120),
        }
    )
    listed = np.array(bids[:90], dtype=object)
    hids = [f"H{i}" for i in range(900)]
    households = pd.DataFrame(
        {
            "household_id": hids,
            "building_id": rng.choice(listed, 900),
            "residents": rng.integers(1, 6, 900),
        }
    )
    codes = np.array(hongkou.code_names, dtype=object)
    h_rows = rng.choice(np.array(hids, dtype=object), 700)  # repeats: last row wins
    b_rows = rng.choice(np.array(bids, dtype=object), 60, replace=False)
    persons = rng.integers(0, 6, 760).astype(float)
    persons[rng.random(760) < 0.4] = np.nan
    status = pd.DataFrame(
        {
            "entity_kind": ["household"] * 700 + ["building"] * 60,
            "entity_id": np.concatenate([h_rows, b_rows]),
            "status": rng.choice(codes, 760),
            "persons": persons,
        }
    )
    return {"grids": grids, "buildings": buildings, "households": households, "status": status}


@pytest.fixture
def brute_force():
    """The row-by-row roll-up, as a function ``brute_force(district, scheme)``."""
    return _brute_force


def _brute_force(
    d: dict[str, pd.DataFrame], scheme: Scheme
) -> tuple[dict[str, dict[str, list[int]]], dict[str, dict[str, list[int]]]]:
    """Count households and persons per code per building and per grid subtree, row by row.

    Returns ({building: {code: [households, persons]}}, {grid: {code: [households, persons]}}).
    """
    cols = [*scheme.code_names, "none"]

    def blank() -> dict[str, list[int]]:
        return {c: [0, 0] for c in cols}

    own: dict[tuple[str, str], tuple[str, float]] = {}
    for row in d["status"].itertuples():
        own[(row.entity_kind, row.entity_id)] = (row.status, row.persons)
    by_b = {b: blank() for b in d["buildings"]["building_id"]}
    listed = set(d["households"]["building_id"])
    for h in d["households"].itertuples():
        if (("household", h.household_id)) in own:
            code, persons = own[("household", h.household_id)]
            persons = h.residents if pd.isna(persons) else int(persons)
        elif ("building", h.building_id) in own:
            code, persons = own[("building", h.building_id)][0], h.residents
        else:
            code, persons = "none", h.residents
        by_b[h.building_id][code][0] += 1
        by_b[h.building_id][code][1] += persons
    for b in d["buildings"].itertuples():
        if b.building_id in listed:
            continue
        code, persons = own.get(("building", b.building_id), ("none", None))
        persons = b.residents if persons is None or pd.isna(persons) else int(persons)
        by_b[b.building_id][code][0] += b.households
        by_b[b.building_id][code][1] += persons
    parent = dict(zip(d["grids"]["grid_id"], d["grids"]["parent_id"], strict=True))
    by_g = {g: blank() for g in parent}
    for b in d["buildings"].itertuples():
        g = b.grid_id
        while g is not None and g in parent:
            for c in cols:
                by_g[g][c][0] += by_b[b.building_id][c][0]
                by_g[g][c][1] += by_b[b.building_id][c][1]
            g = parent[g]
    return by_b, by_g
