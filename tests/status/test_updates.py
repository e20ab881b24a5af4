"""Tests for mapserver.status.updates: what a set of status changes recolours."""

from __future__ import annotations

import pandas as pd

from mapserver.status.updates import affected_by_changes, changed_entities_to_grids


def _changes(rows):
    return pd.DataFrame(rows, columns=["entity_kind", "entity_id"])


def test_household_change_reaches_building_and_every_ancestor(district):
    d = district
    got = changed_entities_to_grids(
        _changes([("household", "H4")]), d["buildings"], d["households"], d["grids"]
    )
    assert got == {"B3", "M2", "S1", "D"}


def test_building_changes_and_non_leaf_grid(district):
    d = district
    a = affected_by_changes(
        _changes([("building", "B4"), ("household", "H9"), ("building", "B4")]),
        d["buildings"],
        d["households"],
        d["grids"],
    )
    assert a.building_ids == {"B4", "B6"}
    assert a.grid_ids == {"M3", "S2", "D"}


def test_unknown_and_gridless_entities(district):
    d = district
    got = changed_entities_to_grids(
        _changes([("household", "H404"), ("building", "B7"), ("household", "H10")]),
        d["buildings"],
        d["households"],
        d["grids"],
    )
    assert got == {"B7"}
    assert (
        changed_entities_to_grids(_changes([]), d["buildings"], d["households"], d["grids"])
        == set()
    )


def test_matches_recount(random_district, hongkou):
    """Every grid whose counts change after a status write is in the affected set."""
    from mapserver.status.rollup import rollup

    d = random_district
    before = rollup(d["grids"], d["buildings"], d["households"], d["status"], hongkou)
    change = pd.DataFrame(
        {
            "entity_kind": ["household", "building"],
            "entity_id": ["H5", "B100"],
            "status": ["red", "red"],
        }
    )
    after = rollup(
        d["grids"], d["buildings"], d["households"], pd.concat([d["status"], change]), hongkou
    )
    diff = (before.grid_households != after.grid_households).any(axis=1)
    changed = set(diff[diff].index)
    affected = changed_entities_to_grids(change, d["buildings"], d["households"], d["grids"])
    assert changed
    assert changed <= affected
    bdiff = (before.building_households != after.building_households).any(axis=1)
    assert set(bdiff[bdiff].index) <= affected
