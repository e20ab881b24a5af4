"""Tests for mapserver.districting.validate."""

from __future__ import annotations

import pytest
import shapely

from mapserver.districting.boundaries import cell_polygons
from mapserver.districting.partition import propose_partition
from mapserver.districting.validate import validate_plan


@pytest.fixture(scope="module")
def plan(neighbourhood):
    buildings, parent, barriers = neighbourhood
    result = propose_partition(buildings, parent, barriers=barriers)
    return result, cell_polygons(buildings, result.assignment, parent)


def _kinds(issues):
    return {i.kind for i in issues}


def test_proposal_has_only_its_listed_exceptions(neighbourhood, plan):
    buildings, parent, _ = neighbourhood
    result, polys = plan
    issues = validate_plan(parent, polys, buildings, result.assignment, target=result.target)
    assert _kinds(issues) <= {"target"}
    flagged = {i.subject for i in issues}
    assert flagged == {c.cell_id for c in result.cells if not c.within_target}


def test_gap_overlap_empty_unassigned_outside(neighbourhood, plan):
    buildings, parent, _ = neighbourhood
    result, polys = plan
    dropped = polys.iloc[1:]
    issues = validate_plan(parent, dropped, buildings, result.assignment, target=result.target)
    assert {"gap", "unassigned"} <= _kinds(issues)
    grown = polys.copy()
    grown.loc[0, "geometry"] = grown.geometry.iloc[0].buffer(0.0005)
    issues = validate_plan(parent, grown, buildings, result.assignment, target=result.target)
    assert {"overlap", "outside"} <= _kinds(issues)
    extra = polys.copy()
    extra.loc[len(extra)] = ["X99", shapely.Point(parent.centroid).buffer(1e-9)]
    issues = validate_plan(parent, extra, buildings, result.assignment, target=result.target)
    assert any(i.kind == "empty" and i.subject == "X99" for i in issues)
    missing = dict(result.assignment)
    gone = next(iter(missing))
    del missing[gone]
    issues = validate_plan(parent, polys, buildings, missing, target=result.target)
    assert any(i.kind == "unassigned" and i.subject == gone for i in issues)


def test_target_and_noncontiguous(neighbourhood, plan):
    buildings, parent, _ = neighbourhood
    result, polys = plan
    first, second = result.cells[0].cell_id, result.cells[-1].cell_id
    merged = {b: (first if c == second else c) for b, c in result.assignment.items()}
    cells = polys[polys["cell_id"] != second].copy()
    both = polys.set_index("cell_id").geometry
    cells.loc[cells["cell_id"] == first, "geometry"] = both[first].union(both[second])
    issues = validate_plan(parent, cells, buildings, merged, target=result.target)
    assert any(i.kind == "target" and i.subject == first for i in issues)
    assert any(i.kind == "noncontiguous" and i.subject == first for i in issues)
