"""Tests for mapserver.districting.edit."""

from __future__ import annotations

import pytest
import shapely
from scipy.sparse.csgraph import connected_components

from mapserver.demo.synthetic import synthetic_parent
from mapserver.districting.adjacency import building_adjacency
from mapserver.districting.edit import (
    assign_by_polygon,
    diff_assignments,
    merge_cells,
    move_buildings,
    split_cell,
)
from mapserver.districting.partition import propose_partition


@pytest.fixture(scope="module")
def small():
    buildings, parent, _ = synthetic_parent(300, seed=2)
    plan = propose_partition(buildings, parent)
    return buildings, parent, plan.assignment


def test_move_and_diff(small):
    buildings, _, assignment = small
    first = next(iter(assignment))
    target = next(c for c in assignment.values() if c != assignment[first])
    moved = move_buildings(assignment, [first], target)
    assert moved[first] == target and assignment[first] != target  # input untouched
    households = int(buildings.set_index("building_id").loc[first, "households"])
    assert diff_assignments(assignment, moved, buildings) == [
        (first, assignment[first], target, households)
    ]
    with pytest.raises(KeyError, match="nope"):
        move_buildings(assignment, ["nope"], target)


def test_split_is_balanced_and_contiguous(small):
    buildings, parent, assignment = small
    adj = building_adjacency(buildings, parent)
    index = {bid: i for i, bid in enumerate(buildings["building_id"])}
    cells = sorted(set(assignment.values()))
    one = cells[0]
    mine = [index[b] for b, c in assignment.items() if c == one]
    touching = {assignment[buildings["building_id"].iloc[j]] for j in adj[mine].indices} - {one}
    two = sorted(touching)[0]
    merged = merge_cells(assignment, one, two)
    assert two not in merged.values()
    split = split_cell(merged, buildings, one, parts=2, parent=parent)
    members = {c: [b for b, x in split.items() if x == c] for c in (one, f"{one}-2")}
    hh = buildings.set_index("building_id")["households"]
    a, b = (int(hh[members[c]].sum()) for c in members)
    assert abs(a - b) <= max(hh[members[one] + members[f"{one}-2"]])
    for ids in members.values():
        nodes = [index[x] for x in ids]
        assert connected_components(adj[nodes][:, nodes], directed=False)[0] == 1
    with pytest.raises(ValueError, match="already in use"):
        split_cell(merged, buildings, one, new_ids=[one, cells[-1]])


def test_hand_drawn_boundary(small):
    buildings, _, assignment = small
    sw = buildings.geometry.iloc[0].centroid
    polygon = shapely.box(sw.x - 0.0005, sw.y - 0.0005, sw.x + 0.0005, sw.y + 0.0005)
    drawn = assign_by_polygon(assignment, buildings, polygon, "NEW")
    inside = buildings.geometry.representative_point().within(polygon)
    moved = {b for b, c in drawn.items() if c == "NEW"}
    assert moved == set(buildings.loc[inside, "building_id"]) and moved


def test_keep_old_names_matches_brute_force():
    import itertools
    import random

    from mapserver.districting.edit import keep_old_names

    rng = random.Random(7)
    for _ in range(40):
        buildings = [f"B{i}" for i in range(14)]
        old = {b: f"OLD{rng.randrange(4)}" for b in buildings}
        new = {b: f"N{rng.randrange(4)}" for b in buildings}
        weights = {b: rng.randrange(1, 9) for b in buildings}
        named = keep_old_names(new, old, weights)
        kept = sum(weights[b] for b in buildings if named[b] == old[b])
        new_cells, old_cells = sorted(set(new.values())), sorted(set(old.values()))
        best = 0
        for perm in itertools.permutations(old_cells + [None] * len(new_cells), len(new_cells)):
            rename = dict(zip(new_cells, perm, strict=True))
            best = max(best, sum(weights[b] for b in buildings if rename[new[b]] == old[b]))
        assert kept == best  # the most households keep their cell's name
        # a cell of the proposal stays one cell, and no two share a name
        assert len(set(named.values())) == len(new_cells)
        for cell in new_cells:
            assert len({named[b] for b in buildings if new[b] == cell}) == 1
