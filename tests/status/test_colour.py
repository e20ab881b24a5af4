"""Tests for mapserver.status.colour: worst and share rules, area-class inheritance."""

from __future__ import annotations

import pandas as pd
import pytest

from mapserver.status.colour import area_class_colours, effective_area_class, pick_codes
from mapserver.status.rollup import rollup
from mapserver.status.scheme import load_scheme


def _counts(rows: dict[str, dict[str, int]]) -> pd.DataFrame:
    cols = ["red", "yellow", "grey", "blue", "green", "black", "none"]
    return pd.DataFrame.from_dict(rows, orient="index").reindex(columns=cols, fill_value=0)


def test_worst_picks_most_severe_present(hongkou):
    counts = _counts(
        {
            "a": {"green": 50, "grey": 1},
            "b": {"black": 3, "blue": 1, "none": 9},
            "c": {"none": 4},
            "d": {},
        }
    )
    got = pick_codes(counts, hongkou, rule="worst")
    assert got.to_dict() == {"a": "grey", "b": "blue", "c": None, "d": None}


def test_share_uses_threshold_then_most_common(hongkou):
    counts = _counts(
        {
            "a": {"red": 1, "yellow": 2, "green": 17},  # red 5 %, yellow 10 %
            "b": {"red": 3, "green": 7},  # red 30 %
            "c": {"red": 1, "blue": 4, "green": 4, "none": 91},  # nothing reaches 10 %
            "d": {"none": 5},
        }
    )
    got = pick_codes(counts, hongkou, rule="share", threshold=0.1)
    # ties in the fallback go to the more severe code (blue over green)
    assert got.to_dict() == {"a": "yellow", "b": "red", "c": "blue", "d": None}
    assert pick_codes(counts, hongkou, rule="share", threshold=0.5)["b"] == "green"
    assert pick_codes(counts, hongkou, rule="share", threshold=0.0)["a"] == "red"


def test_bad_rule_or_threshold(hongkou):
    counts = _counts({"a": {"red": 1}})
    with pytest.raises(ValueError, match="colour rule 'best'"):
        pick_codes(counts, hongkou, rule="best")
    with pytest.raises(ValueError, match=r"threshold 1\.5"):
        pick_codes(counts, hongkou, rule="share", threshold=1.5)


def test_rollup_colour_rules_on_grids(district, hongkou):
    r = rollup(
        district["grids"],
        district["buildings"],
        district["households"],
        district["status"],
        hongkou,
    )
    worst = r.grid_colour_codes()
    assert worst.to_dict() == {
        "D": "red",
        "S1": "red",
        "S2": "black",
        "M1": "red",
        "M2": "grey",
        "M3": None,
        "M4": None,
    }
    share = r.grid_colour_codes(rule="share", threshold=0.2)
    # M1: red 1/7 < 20 %, yellow 5/7
    assert share["M1"] == "yellow"
    assert share["M2"] == "grey"  # grey 1/3
    assert r.building_colour_codes()["B3"] == "grey"


def test_effective_area_class_inherits_from_nearest_ancestor(district):
    eff = effective_area_class(district["grids"])
    assert eff.to_dict() == {
        "D": "none",
        "S1": "sealed",
        "S2": "none",
        "M1": "sealed",  # own 'none' -> parent S1
        "M2": "controlled",  # own class kept under a sealed parent
        "M3": "none",  # own '' and parent None -> none
        "M4": "precaution",
    }


def test_deep_inheritance_skips_unclassed_levels():
    grids = pd.DataFrame(
        {
            "grid_id": ["a", "b", "c", "d"],
            "parent_id": ["c", "a", None, "b"],  # c -> a -> b -> d, not in table order
            "area_class": [None, "none", "controlled", "none"],
        }
    )
    assert effective_area_class(grids).to_dict() == {
        "a": "controlled",
        "b": "controlled",
        "c": "controlled",
        "d": "controlled",
    }


def test_area_class_colours(district):
    area3 = load_scheme("area3")
    colours = area_class_colours(district["grids"])
    assert colours["M1"] == area3.colour("sealed")
    assert colours["D"] == area3.none_colour
