"""Tests for mapserver.status.updates: the live roll-up recounts only the grids a batch
of changes moves, and patching their fresh rows in equals a full recount."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mapserver.status.rollup import rollup
from mapserver.status.tree import grid_ancestors
from mapserver.status.updates import grids_to_recount, patch_counts


def test_a_leaf_reaches_every_ancestor_and_unknown_leaves_are_skipped(district):
    grids = district["grids"]
    ancestors = grid_ancestors(grids)
    got = grids_to_recount(["M2", None, "NOPE", "M2"], ancestors, grids["grid_id"])
    assert got == {"M2", "S1", "D"}
    assert grids_to_recount(["S2"], ancestors, grids["grid_id"]) == {"S2", "D"}
    assert grids_to_recount([], ancestors, grids["grid_id"]) == set()


def test_patching_the_recounted_grids_equals_a_full_recount(random_district, hongkou):
    """Against brute force: batches of random status changes on a random district; the
    rows of grids_to_recount, patched into the counts before, give every grid's count
    exactly as rolling the whole district up again does."""
    d = random_district
    rng = np.random.default_rng(11)
    ancestors = grid_ancestors(d["grids"])
    building_grid = d["buildings"].set_index("building_id")["grid_id"]
    household_building = d["households"].set_index("household_id")["building_id"]
    status = d["status"]
    before = rollup(d["grids"], d["buildings"], d["households"], status, hongkou)
    for _ in range(5):
        kinds = rng.choice(["household", "building"], 12)
        ids = [
            str(rng.choice(d["households"]["household_id"]))
            if kind == "household"
            else str(rng.choice(d["buildings"]["building_id"]))
            for kind in kinds
        ]
        batch = pd.DataFrame(
            {
                "entity_kind": kinds,
                "entity_id": ids,
                "status": rng.choice(np.array(hongkou.code_names, dtype=object), 12),
                "persons": np.nan,
            }
        )
        status = pd.concat([status, batch], ignore_index=True)
        after = rollup(d["grids"], d["buildings"], d["households"], status, hongkou)
        touched = [
            building_grid[household_building[e] if k == "household" else e]
            for k, e in zip(kinds, ids, strict=True)
        ]
        recount = grids_to_recount(touched, ancestors, d["grids"]["grid_id"])
        for table in ("grid_households", "grid_persons"):
            full = getattr(after, table)
            patched = patch_counts(getattr(before, table), full.loc[sorted(recount)])
            pd.testing.assert_frame_equal(patched, full)
            missed = full.drop(index=sorted(recount))
            pd.testing.assert_frame_equal(getattr(before, table).loc[missed.index], missed)
        before = after


def test_patch_counts_leaves_the_input_and_other_rows_alone():
    before = pd.DataFrame({"red": [1, 2], "green": [3, 4]}, index=["A", "B"])
    fresh = pd.DataFrame({"green": [9], "red": [8]}, index=["B"])
    patched = patch_counts(before, fresh)
    assert patched.loc["B"].tolist() == [8, 9] and patched.loc["A"].tolist() == [1, 3]
    assert before.loc["B"].tolist() == [2, 4]  # not changed in place
    assert patch_counts(before, fresh.iloc[0:0]) is before
