"""Tests for mapserver.status.tree: ancestors, children, leaves, cycles."""

from __future__ import annotations

import pandas as pd
import pytest

from mapserver.status.tree import build_tree, grid_ancestors, grid_children, leaf_grid_ids


def test_ancestors_nearest_first(district):
    anc = grid_ancestors(district["grids"])
    assert anc["M3"] == ["S2", "D"]
    assert anc["S1"] == ["D"]
    assert anc["D"] == []
    assert list(anc) == list(district["grids"]["grid_id"])


def test_children_and_leaves(district):
    ch = grid_children(district["grids"])
    assert ch == {
        "D": ["S1", "S2"],
        "S1": ["M1", "M2"],
        "S2": ["M3", "M4"],
        "M1": [],
        "M2": [],
        "M3": [],
        "M4": [],
    }
    assert leaf_grid_ids(district["grids"]) == ["M1", "M2", "M3", "M4"]


def test_random_tree_ancestors_match_parent_walk(random_district):
    grids = random_district["grids"]
    parent = {
        g: None if pd.isna(p) else p
        for g, p in zip(grids["grid_id"], grids["parent_id"], strict=True)
    }
    anc = grid_ancestors(grids)
    for g in parent:
        walk, p = [], parent[g]
        while p is not None:
            walk.append(p)
            p = parent[p]
        assert anc[g] == walk
    depth = build_tree(grids).depth
    assert [len(anc[g]) for g in parent] == depth.tolist()


def test_unknown_parent_makes_a_root():
    grids = pd.DataFrame({"grid_id": ["x", "y"], "parent_id": ["elsewhere", "x"]})
    assert grid_ancestors(grids) == {"x": [], "y": ["x"]}


def test_cycle_is_named():
    grids = pd.DataFrame({"grid_id": ["r", "a", "b", "c"], "parent_id": [None, "c", "a", "b"]})
    with pytest.raises(
        ValueError,
        match=r"cycle \(child -> parent\): (a -> c -> b -> a|c -> b -> a -> c|b -> a -> c -> b)",
    ) as info:
        leaf_grid_ids(grids)
    assert "r ->" not in str(info.value)
    self_loop = pd.DataFrame({"grid_id": ["s"], "parent_id": ["s"]})
    with pytest.raises(ValueError, match="s -> s"):
        grid_children(self_loop)


def test_duplicate_grid_id():
    grids = pd.DataFrame({"grid_id": ["a", "a"], "parent_id": [None, None]})
    with pytest.raises(ValueError, match="grid_id 'a' appears twice"):
        build_tree(grids)
