"""The pure access rules: areas in the grid tree, capabilities, public suppression."""

from __future__ import annotations

import pytest

from mapserver.services import access
from mapserver.store import User

# district D > communities C1, C2 > grids C1-a, C1-b, C2-a
CHILDREN = {"D": ["C1", "C2"], "C1": ["C1-a", "C1-b"], "C2": ["C2-a"]}
EVERY = {"D", "C1", "C2", "C1-a", "C1-b", "C2-a"}


@pytest.mark.parametrize(
    ("role", "grid", "expected"),
    [
        ("admin", "C1", None),
        ("commander", None, None),
        ("commander", "C1", {"C1", "C1-a", "C1-b"}),
        ("planner", "C2", {"C2", "C2-a"}),
        ("dispatcher", None, None),
        ("worker", "C1-a", {"C1-a"}),
        ("worker", None, set()),
        ("driver", "C1", set()),
    ],
)
def test_area_is_the_users_subtree(role, grid, expected):
    assert access.area(User("u", role, grid), CHILDREN) == expected


def test_anonymous_has_no_area_and_no_capability():
    assert access.area(None, CHILDREN) == set()
    assert not any(access.can(None, c) for c in access.CAPABILITIES)
    assert access.menu(None) == []


def test_capabilities_by_role():
    def caps(role: str) -> set[str]:
        return {c for c in access.CAPABILITIES if access.can(User("u", role), c)}

    assert caps("admin") == set(access.CAPABILITIES)
    assert "status.write" in caps("worker") and "grids.edit" not in caps("worker")
    assert "grids.edit" in caps("planner") and "routes.plan" not in caps("planner")
    assert "routes.plan" in caps("dispatcher") and "status.write" not in caps("dispatcher")
    assert caps("driver") == {"stops.mark"}
    assert not {"status.write", "grids.edit", "routes.plan", "import"} & caps("commander")
    with pytest.raises(ValueError, match="unknown capability"):
        access.can(User("u", "admin"), "fly")
    with pytest.raises(ValueError, match="not one of"):
        access.check_role("boss")


def test_a_driver_marks_only_their_own_route():
    driver = User("d1", "driver")
    assert access.may_mark_route(driver, "d1") and access.may_read_route(driver, "d1")
    assert not access.may_mark_route(driver, "d2") and not access.may_read_route(driver, "d2")
    assert not access.may_mark_route(driver, None)
    assert access.may_mark_route(User("x", "dispatcher"), None)
    assert not access.may_mark_route(User("w", "worker"), "w")


def test_public_counts_are_suppressed_below_five():
    status = {
        "counts": {"red": 2, "green": 9, "blue": 5},
        "person_counts": {"red": 4, "green": 20, "blue": 11},
        "households": 16,
        "persons": 35,
        "status": "red",
        "colour": "#f00",
    }
    shown = access.public_status(status)
    assert shown["counts"] == {"red": None, "green": 9, "blue": 5}
    assert shown["person_counts"] == {"red": None, "green": 20, "blue": 11}
    assert shown["households"] == 16 and shown["persons"] == 35 and shown["colour"] == "#f00"
    small = access.public_status({**status, "counts": {"red": 4}, "households": 4})
    assert small["households"] is None and small["counts"] == {} and small["colour"] is None
    assert small["status"] is None and small["persons"] is None


def test_grids_outside_the_area_lose_names_and_small_counts():
    props = {"person": "张三", "phone": "138", "counts": {"red": 1}, "households": 30}
    collection = {
        "features": [
            {"id": "C1-a", "properties": dict(props)},
            {"id": "C2-a", "properties": dict(props)},
        ]
    }
    scoped = access.scope_grid_features(collection, {"C1", "C1-a", "C1-b"})
    inside, outside = (f["properties"] for f in scoped["features"])
    assert inside == props
    assert outside["person"] is None and outside["phone"] is None
    assert outside["counts"] == {"red": None}
    assert access.scope_grid_features(collection, None) is collection
    changes = {
        "grids": {"C1-a": {"counts": {"red": 1}, "households": 1}},
        "buildings": {"B1": {"counts": {}}, "B2": {"counts": {}}},
        "summary": {"counts": {"red": 1}, "households": 100},
    }
    cut = access.scope_changes(changes, {"B1": "C1-a", "B2": "C2-a"}, {"C1-a"})
    assert set(cut["buildings"]) == {"B1"} and cut["summary"]["counts"] == {"red": None}
    assert access.scope_changes(changes, {"B1": "C1-a"}, set())["buildings"] == {}
    assert EVERY >= access.subtree("D", CHILDREN) == EVERY
