"""Counts in long form (as the store keeps them) agree with the roll-up's tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mapserver.status.counts import all_counts
from mapserver.status.rollup import rollup
from mapserver.status.scheme import NONE_CODE, load_scheme


def _wide(counts: pd.DataFrame, level: str, column: str, scheme, index) -> pd.DataFrame:
    """Long counts of one level as the roll-up's table (codes the scheme lacks as none)."""
    rows = counts[counts["level"] == level]
    code = rows["code"].where(rows["code"].isin(list(scheme.code_names)), NONE_CODE)
    table = rows.assign(code=code).pivot_table(
        index="entity_id", columns="code", values=column, aggfunc="sum", fill_value=0
    )
    return table.reindex(index=index, columns=[*scheme.code_names, NONE_CODE], fill_value=0)


def _random_status(layers: dict, rng: np.random.Generator) -> pd.DataFrame:
    """Household rows (some with persons, some repeated) and building rows, a few codes
    the scheme does not know."""
    households = layers["households"]["household_id"].to_numpy()
    buildings = layers["buildings"]["building_id"].to_numpy()
    codes = np.array(["red", "yellow", "green", "grey", "blue", "black", "purple"])
    picked = rng.choice(households, size=len(households) // 2)
    own = pd.DataFrame(
        {
            "entity_kind": "household",
            "entity_id": picked,
            "status": rng.choice(codes, size=len(picked)),
            "persons": np.where(rng.random(len(picked)) < 0.3, rng.integers(0, 6, len(picked)), -1),
        }
    )
    whole = rng.choice(buildings, size=len(buildings) // 4, replace=False)
    building_rows = pd.DataFrame(
        {
            "entity_kind": "building",
            "entity_id": whole,
            "status": rng.choice(codes, size=len(whole)),
            "persons": np.where(rng.random(len(whole)) < 0.5, rng.integers(0, 40, len(whole)), -1),
        }
    )
    status = pd.concat([own, building_rows], ignore_index=True)
    status["persons"] = status["persons"].astype("Int64").mask(status["persons"] < 0)
    return status


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_long_counts_equal_the_rollup(demo_layers, seed):
    scheme = load_scheme("hongkou6")
    grids, buildings = demo_layers["grids"], demo_layers["buildings"]
    households = demo_layers["households"]
    rng = np.random.default_rng(seed)
    # some buildings lose their listed households: they count as households of their own
    dropped = rng.choice(buildings["building_id"].to_numpy(), size=30, replace=False)
    households = households[~households["building_id"].isin(dropped)]
    status = _random_status({"households": households, "buildings": buildings}, rng)
    with pytest.warns(UserWarning, match="not in scheme"):
        expected = rollup(grids, buildings, households, status, scheme)
    counts = all_counts(grids, buildings, households, status)
    assert (counts[["households", "persons"]] != 0).any(axis=1).all()  # no empty rows
    for level, hh, pp in (
        ("building", expected.building_households, expected.building_persons),
        ("grid", expected.grid_households, expected.grid_persons),
    ):
        got_h = _wide(counts, level, "households", scheme, hh.index)
        got_p = _wide(counts, level, "persons", scheme, pp.index)
        assert (got_h.to_numpy() == hh.to_numpy()).all(), level
        assert (got_p.to_numpy() == pp.to_numpy()).all(), level
    totals = expected.totals()
    total = counts[counts["level"] == "total"]
    assert total["households"].sum() == totals["total_households"]
    assert total["persons"].sum() == totals["total_persons"]
    assert set(total["code"]) >= {"purple"}  # a code the scheme lacks is kept as written
