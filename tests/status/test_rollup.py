"""Tests for mapserver.status.rollup: counts per building and grid subtree against brute force."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from mapserver.status.rollup import rollup

COLS = ["red", "yellow", "grey", "blue", "green", "black", "none"]


def _run(d, scheme):
    return rollup(d["grids"], d["buildings"], d["households"], d["status"], scheme)


def _row(frame: pd.DataFrame, key: str) -> dict[str, int]:
    return {c: int(v) for c, v in frame.loc[key].items() if v}


def test_hand_counts_and_precedence(district, hongkou):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = _run(district, hongkou)
    assert list(r.building_households.columns) == COLS
    # H1: last row wins (yellow, 1 person); H2 own red; H3 nothing -> none
    assert _row(r.building_households, "B1") == {"red": 1, "yellow": 1, "none": 1}
    assert _row(r.building_persons, "B1") == {"red": 5, "yellow": 1, "none": 3}
    # no listed households: building's count, building status row's persons
    assert _row(r.building_households, "B2") == {"yellow": 4}
    assert _row(r.building_persons, "B2") == {"yellow": 7}
    # own household row beats the building row; the others inherit blue
    assert _row(r.building_households, "B3") == {"grey": 1, "blue": 2}
    assert _row(r.building_persons, "B3") == {"grey": 1, "blue": 6}
    assert _row(r.building_households, "B4") == {"none": 3}
    assert _row(r.building_persons, "B4") == {"none": 5}
    # listed households win over the building's households figure
    assert _row(r.building_households, "B7") == {"red": 1}
    assert _row(r.grid_households, "M1") == {"red": 1, "yellow": 5, "none": 1}
    assert _row(r.grid_households, "S1") == {"red": 1, "yellow": 5, "grey": 1, "blue": 2, "none": 1}
    # B6 sits on S2 itself
    assert _row(r.grid_households, "S2") == {"black": 1, "none": 5}
    assert _row(r.grid_households, "D") == {
        "red": 1,
        "yellow": 5,
        "grey": 1,
        "blue": 2,
        "black": 1,
        "none": 6,
    }
    t = r.totals()
    assert t["total_households"] == 17  # D plus B7, which has no grid
    assert t["households"]["red"] == 2
    assert t["total_persons"] == int(r.building_persons.to_numpy().sum())


def test_every_level_matches_brute_force(random_district, hongkou, brute_force):
    r = _run(random_district, hongkou)
    by_b, by_g = brute_force(random_district, hongkou)
    for b, counts in by_b.items():
        assert r.building_households.loc[b].to_dict() == {c: v[0] for c, v in counts.items()}, b
        assert r.building_persons.loc[b].to_dict() == {c: v[1] for c, v in counts.items()}, b
    for g, counts in by_g.items():
        assert r.grid_households.loc[g].to_dict() == {c: v[0] for c, v in counts.items()}, g
        assert r.grid_persons.loc[g].to_dict() == {c: v[1] for c, v in counts.items()}, g
    root = random_district["grids"]["grid_id"][0]
    assert r.grid_households.loc[root].sum() == r.totals()["total_households"]


def test_unaligned_and_aligned_status_give_the_same_counts(random_district, hongkou):
    d = dict(random_district)
    hh = d["households"]
    d["status"] = pd.DataFrame(
        {
            "entity_kind": "household",
            "entity_id": hh["household_id"],
            "status": np.resize(np.array(hongkou.code_names, dtype=object), len(hh)),
            "persons": np.nan,
        }
    )
    aligned = _run(d, hongkou)
    d["status"] = d["status"].sample(frac=1, random_state=3)
    shuffled = _run(d, hongkou)
    pd.testing.assert_frame_equal(aligned.grid_households, shuffled.grid_households)
    coded = aligned.building_households.drop(columns="none").to_numpy().sum()
    assert coded == len(hh)


def test_unknown_codes_and_buildings_warn(district, hongkou):
    d = dict(district)
    d["status"] = pd.concat(
        [
            d["status"],
            pd.DataFrame({"entity_kind": ["household"], "entity_id": ["H3"], "status": ["purple"]}),
        ],
        ignore_index=True,
    )
    d["households"] = pd.concat(
        [
            d["households"],
            pd.DataFrame({"household_id": ["H99"], "building_id": ["B404"], "residents": [1]}),
        ],
        ignore_index=True,
    )
    with pytest.warns(UserWarning) as record:
        r = _run(d, hongkou)
    text = " ".join(str(w.message) for w in record)
    assert "purple" in text and "hongkou6" in text
    assert "B404" in text
    assert r.building_households.loc["B1", "none"] == 1


def test_empty_building_takes_its_own_status_colour(district, hongkou):
    d = dict(district)
    d["buildings"] = d["buildings"].assign(households=[3, 0, 3, 3, 2, 1, 2])
    r = _run(d, hongkou)
    assert r.building_households.loc["B2"].sum() == 0
    assert r.building_persons.loc["B2", "yellow"] == 7
    assert r.building_colour_codes()["B2"] == "yellow"
    assert r.building_colour_codes()["B4"] is None


def test_empty_buildings_without_status_colour_none_not_nan(district, hongkou):
    """Two empty buildings, one with a status row and one without: None, never NaN."""
    d = dict(district)
    d["buildings"] = d["buildings"].assign(households=[3, 0, 3, 0, 2, 1, 2])
    r = _run(d, hongkou)
    for rule in ("worst", "share"):
        codes = r.building_colour_codes(rule=rule)
        assert codes["B2"] == "yellow"
        assert codes["B4"] is None
        assert all(c is None or isinstance(c, str) for c in codes)
    records = {x["building_id"]: x for x in r.building_records()}
    assert records["B4"]["status"] is None
    assert records["B4"]["colour"] == hongkou.none_colour


def test_records_for_the_api(district, hongkou):
    r = _run(district, hongkou)
    recs = r.grid_records(ids=["S2", "M3"])
    assert [x["grid_id"] for x in recs] == ["S2", "M3"]
    s2 = recs[0]
    assert s2["households"]["black"] == 1
    assert s2["total_households"] == 6
    assert s2["total_persons"] == sum(s2["persons"].values())
    assert s2["status"] == "black"
    assert s2["colour"] == hongkou.colour("black")
    assert recs[1]["status"] is None and recs[1]["colour"] == hongkou.none_colour
    assert len(r.building_records()) == 7


def test_cycle_and_duplicate_ids_raise(district, hongkou):
    d = dict(district)
    d["buildings"] = pd.concat([d["buildings"], d["buildings"].iloc[[0]]], ignore_index=True)
    with pytest.raises(ValueError, match="building_id 'B1' appears twice"):
        _run(d, hongkou)


def test_inputs_are_not_modified(district, hongkou):
    before = {k: v.copy() for k, v in district.items()}
    _run(district, hongkou)
    for k, v in district.items():
        pd.testing.assert_frame_equal(v, before[k])
