"""Tests of the validators: every kind of problem is reported with its file, row and field."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, Polygon, box

from mapserver.io.validate import (
    ValidationError,
    validate_buildings,
    validate_grids,
    validate_households,
    validate_status,
)
from mapserver.model import StatusRow


def _issues(func, *args, **kwargs):
    """Run a validator collecting issues; return them as (row, field, reason) tuples."""
    found = []
    func(*args, issues=found, **kwargs)
    return [(i.row, i.field, i.reason) for i in found]


def _where(issues):
    return {(row, field) for row, field, _ in issues}


def test_good_grids_pass_and_raise_nothing(grids):
    out = validate_grids(grids, file="grids.geojson")
    assert list(out["parent_id"]) == [None, "C1", "C1"]


def test_grids_missing_column_is_a_file_level_issue(grids):
    with pytest.raises(ValidationError) as info:
        validate_grids(grids.drop(columns="level"), file="grids.geojson")
    (issue,) = info.value.issues
    assert (issue.file, issue.row, issue.field) == ("grids.geojson", None, "level")
    assert "'level' is missing" in issue.reason


def test_grids_duplicate_id_names_both_rows(grids):
    grids.loc[2, "grid_id"] = "M1"
    issues = _issues(validate_grids, grids, file="g.geojson")
    assert (3, "grid_id", "'M1' appears twice (first at row 2)") in issues


def test_grids_invalid_polygon_is_explained_or_repaired(grids):
    bowtie = Polygon([(121.41, 31.20), (121.42, 31.22), (121.42, 31.20), (121.41, 31.22)])
    grids.loc[2, "geometry"] = bowtie
    issues = _issues(validate_grids, grids, file="g.geojson")
    assert [(r, f) for r, f, why in issues if "Self-intersection" in why] == [(3, "geometry")]
    repaired = validate_grids(grids, file="g.geojson", repair=True)
    assert repaired.geometry.iloc[2].is_valid
    assert repaired.geometry.iloc[2].geom_type in ("Polygon", "MultiPolygon")


def test_grids_non_polygon_and_unknown_level(grids):
    grids.loc[1, "geometry"] = LineString([(121.40, 31.20), (121.41, 31.21)])
    grids.loc[2, "level"] = "块"
    issues = _issues(validate_grids, grids, file="g.geojson")
    assert (2, "geometry") in _where(issues)
    assert "LineString geometry" in next(r for row, f, r in issues if row == 2)
    (reason,) = [r for row, f, r in issues if (row, f) == (3, "level")]
    assert "'块' is not a grid level" in reason and "micro (微网格)" in reason


def test_grids_levels_accept_chinese_labels(grids):
    grids["level"] = ["居委/村", "微网格", "Micro-grid"]
    out = validate_grids(grids, file="g.geojson")
    assert list(out["level"]) == ["community", "micro", "micro"]


def test_grids_unknown_parent_unless_known_from_the_store(grids):
    grids.loc[0, "parent_id"] = "S9"
    issues = _issues(validate_grids, grids, file="g.geojson")
    assert [(r, f) for r, f, why in issues if "'S9'" in why] == [(1, "parent_id")]
    assert _issues(validate_grids, grids, file="g.geojson", parents_known={"S9"}) == []


def test_grids_cycle_is_reported_once(grids):
    grids.loc[0, "parent_id"] = "M2"  # C1 -> M2 -> C1
    issues = _issues(validate_grids, grids, file="g.geojson")
    cycles = [(r, f, why) for r, f, why in issues if "cycle" in why]
    assert len(cycles) == 1
    assert cycles[0][:2] == (1, "parent_id")
    assert "'C1' -> 'M2' -> 'C1'" in cycles[0][2]


def test_grids_child_outside_parent_beyond_tolerance(grids):
    grids.loc[2, "geometry"] = box(121.41, 31.20, 121.43, 31.22)  # half outside C1
    issues = _issues(validate_grids, grids, file="g.geojson")
    (reason,) = [why for r, f, why in issues if "outside its parent" in why]
    assert "'M2' lies partly outside its parent 'C1'" in reason and "(50.0%)" in reason
    # A sliver far under 1 % of the child (0.5 m wide) is tolerated.
    grids.loc[2, "geometry"] = box(121.41, 31.20, 121.420005, 31.22)
    assert [w for *_, w in _issues(validate_grids, grids, file="g.geojson") if "outside" in w] == []


def test_grids_overlapping_siblings(grids):
    grids.loc[2, "geometry"] = box(121.409, 31.20, 121.42, 31.22)  # ~95 m into M1
    issues = _issues(validate_grids, grids, file="g.geojson")
    (found,) = [(r, f, why) for r, f, why in issues if "overlaps" in why]
    assert found[:2] == (3, "geometry")
    assert "'M2' overlaps its sibling 'M1' (row 2)" in found[2]
    # Touching along the shared edge is fine.
    assert _issues(validate_grids, grids.drop(index=2).reset_index(drop=True), file="g") == []


def test_grids_projected_coordinates_read_as_degrees(grids):
    wrong = grids.to_crs(4549).set_crs(4326, allow_override=True)
    issues = _issues(validate_grids, wrong, file="g.geojson")
    assert {r for r, f, _ in issues} == {1, 2, 3}
    assert all("coordinate system is probably wrong" in why for *_, why in issues)


def test_buildings_get_their_leaf_grid_by_position(grids, buildings):
    out = validate_buildings(buildings, file="b.geojson", grids=grids)
    assert list(out["grid_id"]) == ["M1", "M1", "M2"]
    assert str(out["households"].dtype) == "Int64"


def test_buildings_issues(grids, buildings):
    buildings = pd.concat([buildings, buildings.iloc[[0]]], ignore_index=True)  # B1 again
    buildings.loc[1, "households"] = -3
    buildings["residents"] = buildings["residents"].astype(object)
    buildings.loc[2, "residents"] = "many"
    buildings.loc[2, "geometry"] = Point(121.5, 31.5)  # outside every grid
    buildings["grid_id"] = [None, None, None, "X9"]
    issues = _issues(validate_buildings, buildings, file="buildings.csv", grids=grids)
    assert (4, "building_id", "'B1' appears twice (first at row 1)") in issues
    assert (2, "households", "'-3' is not a whole number of zero or more") in issues
    assert (3, "residents", "'many' is not a whole number of zero or more") in issues
    assert (3, "geometry") in _where(issues)
    assert (4, "grid_id", "grid 'X9' does not exist") in issues


def test_buildings_given_a_non_leaf_grid(grids, buildings):
    buildings["grid_id"] = ["C1", "M1", "M2"]
    issues = _issues(validate_buildings, buildings, file="b.csv", grids=grids)
    assert [(r, f) for r, f, _ in issues] == [(1, "grid_id")]


def test_buildings_bad_lon_lat_text_is_quoted(grids):
    df = gpd.GeoDataFrame(
        {"building_id": ["B1"], "lon": ["东经121"], "lat": ["31.2"]}, geometry=[None], crs=4326
    )
    (issue,) = _issues(validate_buildings, df, file="b.csv", grids=grids)
    assert issue[:2] == (1, "geometry") and "lon '东经121'" in issue[2]


def test_households_issues(households):
    households.loc[3, "household_id"] = "H1"
    households.loc[2, "building_id"] = "B7"
    households["residents"] = households["residents"].astype(object)
    households.loc[1, "residents"] = 2.5
    issues = _issues(
        validate_households, households, file="h.xlsx", building_ids={"B1", "B2", "B3"}
    )
    assert (4, "household_id", "'H1' appears twice (first at row 1)") in issues
    assert (3, "building_id", "building 'B7' does not exist") in issues
    assert (2, "residents") in _where(issues)


def test_status_rows_and_issues():
    df = pd.DataFrame(
        {
            "entity_id": ["H1", "B2", "H9", "H1", "H2", "H3"],
            "status": ["red", "green", "green", "blue", "purple", "grey"],
            "persons": ["2", None, None, None, None, "-1"],
        }
    )
    found = []
    rows = validate_status(
        df,
        file="status.csv",
        scheme_codes={"red", "yellow", "green", "blue", "grey", "black"},
        household_ids={"H1", "H2", "H3"},
        building_ids={"B2"},
        issues=found,
    )
    assert rows == [
        StatusRow("household", "H1", "red", 2),
        StatusRow("building", "B2", "green", None),
    ]
    where = {(i.row, i.field): i.reason for i in found}
    assert "'H9' is neither a known household nor a known building" in where[(3, "entity_id")]
    assert "household 'H1' appears twice in this batch (first at row 1)" in where[(4, "entity_id")]
    assert "'purple' is not a status of the scheme (allowed: black, blue" in where[(5, "status")]
    assert (6, "persons") in where
    assert all(i.file == "status.csv" for i in found)


def test_status_by_household_id_column_and_missing_status_column():
    df = pd.DataFrame({"household_id": ["H1"], "status": ["Red"]})
    rows = validate_status(
        df, file="s.csv", scheme_codes={"red"}, household_ids={"H1"}, building_ids=set()
    )
    assert rows == [StatusRow("household", "H1", "red", None)]
    with pytest.raises(ValidationError, match="'status' is missing"):
        validate_status(
            df.drop(columns="status"),
            file="s.csv",
            scheme_codes={"red"},
            household_ids={"H1"},
            building_ids=set(),
        )
