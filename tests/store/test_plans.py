"""Plan versions in the store, on both backends: drafts, conflicts, publishing."""

from __future__ import annotations

import pytest
from shapely.geometry import box

from mapserver.errors import ConflictError
from mapserver.store import Store

X0, Y0 = 121.48, 31.26


def _cells() -> list[dict]:
    """Three cells that tile the tiny district's root grid G (split west, middle, east)."""
    return [
        {"grid_id": "M-a", "name": "西", "geometry": box(X0, Y0, X0 + 0.005, Y0 + 0.01).wkt},
        {
            "grid_id": "M-b",
            "name": "中",
            "geometry": box(X0 + 0.005, Y0, X0 + 0.015, Y0 + 0.01).wkt,
        },
        {"grid_id": "M-c", "name": "东", "geometry": box(X0 + 0.015, Y0, X0 + 0.02, Y0 + 0.01).wkt},
    ]


ASSIGNMENT = {"B1": "M-a", "B2": "M-b", "B3": "M-b", "B4": "M-c"}


def test_second_save_from_the_same_base_is_refused(loaded: Store):
    first = loaded.save_plan(
        "G", base_version=None, level="micro", cells=_cells(), assignment=ASSIGNMENT, user="甲"
    )
    second = loaded.save_plan(
        "G", base_version=first, level="micro", cells=_cells(), assignment=ASSIGNMENT, user="甲"
    )
    before = loaded.table_rows("plan_versions")
    with pytest.raises(ConflictError, match="version 2"):
        loaded.save_plan(
            "G", base_version=first, level="micro", cells=_cells(), assignment={}, user="乙"
        )
    assert loaded.table_rows("plan_versions") == before
    assert [v["version_id"] for v in loaded.list_plans("G")] == [second, first]
    assert loaded.get_plan(second)["data"]["assignment"] == ASSIGNMENT


def test_publish_replaces_children_and_moves_buildings(loaded: Store):
    version = loaded.save_plan(
        "G", base_version=None, level="micro", cells=_cells(), assignment=ASSIGNMENT, user="甲"
    )
    data_before = loaded.data_version()
    loaded.publish_plan(version)
    grids = loaded.read_grids(parent_id="G")
    assert sorted(grids["grid_id"]) == ["M-a", "M-b", "M-c"]
    assert set(grids["version"]) == {version}
    buildings = loaded.read_buildings().set_index("building_id")["grid_id"].to_dict()
    assert buildings == ASSIGNMENT
    assert loaded.data_version() == data_before + 1
    assert loaded.list_plans("G")[0]["state"] == "published"


def test_publish_refuses_a_plan_that_drops_a_building(loaded: Store):
    partial = {k: v for k, v in ASSIGNMENT.items() if k != "B4"}
    version = loaded.save_plan(
        "G", base_version=None, level="micro", cells=_cells(), assignment=partial, user="甲"
    )
    grids_before = loaded.table_rows("grids")
    with pytest.raises(ValueError, match="B4"):
        loaded.publish_plan(version)
    assert loaded.table_rows("grids") == grids_before
