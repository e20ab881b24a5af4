"""Tests for mapserver.districting.target."""

from __future__ import annotations

import pytest

from mapserver.districting.target import HOMESTEAD, MICRO, RESIDENTS, TEN_HOUSEHOLD, Target


def test_presets_follow_the_reports():
    assert (MICRO.minimum, MICRO.maximum, MICRO.measure) == (20, 30, "households")
    assert (HOMESTEAD.minimum, HOMESTEAD.maximum) == (5, 15)
    assert TEN_HOUSEHOLD.contains(10) and not TEN_HOUSEHOLD.contains(13)
    assert RESIDENTS.measure == "residents" and RESIDENTS.contains(450)


def test_contains_includes_bounds():
    assert MICRO.contains(20) and MICRO.contains(30)
    assert not MICRO.contains(19) and not MICRO.contains(31)


def test_bad_targets_are_refused():
    with pytest.raises(ValueError, match="persons"):
        Target(1, 2, "persons")
    with pytest.raises(ValueError, match="30-20"):
        Target(30, 20)
