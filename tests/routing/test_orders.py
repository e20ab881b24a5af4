"""Tests for delivery orders read from tables and generated from the live status."""

from __future__ import annotations

import pandas as pd
import pytest

from mapserver.errors import ValidationError
from mapserver.routing.orders import Order, orders_from_status, orders_from_table
from mapserver.status.colour import effective_area_class


def test_table_reads_buildings_compounds_and_chinese_kinds():
    df = pd.DataFrame(
        {
            "order_id": ["A", None, "C"],
            "building_id": ["B0001", None, "B0002"],
            "compound_id": [None, "C01-3", None],
            "boxes": [3, "2", 1.0],
            "kind": ["食品", None, "药品"],
        }
    )
    orders = orders_from_table(df)
    assert orders == [
        Order("A", 3, "food", "B0001"),
        Order("R2", 2, "food", None, "C01-3"),
        Order("C", 1, "medicine", "B0002"),
    ]


def test_table_errors_name_row_and_field(demo_layers):
    df = pd.DataFrame(
        {
            "order_id": ["A", "A", "B", "D"],
            "building_id": ["B0001", "B0002", "NOPE", "B0003"],
            "boxes": [1, 0, 2, 1],
            "kind": ["food", "food", "food", "toys"],
        }
    )
    with pytest.raises(ValidationError) as err:
        orders_from_table(df, file="orders.xlsx", buildings=demo_layers["buildings"])
    where = {(i.row, i.field) for i in err.value.issues}
    assert where == {(2, "boxes"), (2, "order_id"), (3, "building_id"), (4, "kind")}
    assert "orders.xlsx row 2" in str(err.value)
    assert "'NOPE'" in str(err.value)


def test_table_without_boxes_column_is_refused():
    with pytest.raises(ValidationError, match="missing column"):
        orders_from_table(pd.DataFrame({"building_id": ["B1"]}))


def test_sealed_rule_gives_one_box_per_occupied_household(demo_layers):
    grids, buildings = demo_layers["grids"], demo_layers["buildings"]
    households, status = demo_layers["households"], demo_layers["status"]
    orders = orders_from_status(grids, buildings, households, status, boxes_per_household=2)
    cls = effective_area_class(grids)
    sealed = set(cls.index[cls == "sealed"])
    in_sealed = set(buildings.loc[buildings["grid_id"].isin(sealed), "building_id"])
    assert {o.building_id for o in orders} <= in_sealed
    empty = set(status.loc[status["persons"] == 0, "entity_id"])
    hh = households[households["building_id"].isin(in_sealed)]
    expected = hh[~hh["household_id"].isin(empty)].groupby("building_id").size() * 2
    assert {o.building_id: o.boxes for o in orders} == expected.to_dict()
    assert all(o.kind == "food" and o.order_id.endswith("-food") for o in orders)


def test_status_rule_and_special_households(demo_layers):
    grids, buildings = demo_layers["grids"], demo_layers["buildings"]
    households, status = demo_layers["households"], demo_layers["status"]
    special = households["household_id"].iloc[:3].tolist()  # all in building B0001
    orders = orders_from_status(
        grids,
        buildings,
        households,
        status,
        rule="status",
        statuses=["red"],
        special_households=special,
    )
    food = [o for o in orders if o.kind == "food"]
    medicine = [o for o in orders if o.kind == "medicine"]
    assert sum(o.boxes for o in food) == int((status["status"] == "red").sum())
    assert medicine == [Order("B0001-medicine", 3, "medicine", "B0001")]
    with pytest.raises(ValueError, match="X-1"):
        orders_from_status(
            grids, buildings, households, status, rule="special_only", special_households=["X-1"]
        )


def _tiny_layers() -> dict:
    """Three buildings: B1 with two listed households, B2 and B3 with none (12 and 0 households)."""
    grids = pd.DataFrame(
        {"grid_id": ["G"], "parent_id": [None], "level": ["micro"], "area_class": ["none"]}
    )
    buildings = pd.DataFrame(
        {
            "building_id": ["B1", "B2", "B3"],
            "grid_id": ["G", "G", "G"],
            "households": [2, 12, 0],
            "residents": [5, 30, 0],
        }
    )
    households = pd.DataFrame({"household_id": ["B1-1", "B1-2"], "building_id": ["B1", "B1"]})
    return {"grids": grids, "buildings": buildings, "households": households}


def test_building_level_red_without_household_rows_gives_its_households_orders():
    L = _tiny_layers()
    status = pd.DataFrame(
        {
            "entity_kind": ["building", "household"],
            "entity_id": ["B2", "B1-1"],
            "status": ["red", "green"],
            "persons": [30, 2],
            "seq": [1, 2],
        }
    )
    orders = orders_from_status(
        L["grids"], L["buildings"], L["households"], status, rule="status", statuses=["red"]
    )
    assert orders == [Order("B2-food", 12, "food", "B2")]
    two = orders_from_status(
        L["grids"],
        L["buildings"],
        L["households"],
        status,
        rule="status",
        statuses=["red"],
        boxes_per_household=2,
    )
    assert two == [Order("B2-food", 24, "food", "B2")]


def test_building_status_reaches_its_unmarked_households_and_empty_buildings_get_nothing():
    L = _tiny_layers()
    status = pd.DataFrame(
        {
            "entity_kind": ["building", "household", "building", "building"],
            "entity_id": ["B1", "B1-1", "B3", "B2"],
            "status": ["red", "green", "red", "red"],
            "persons": [None, 2, None, 0],
            "seq": [1, 2, 3, 4],
        }
    )
    orders = orders_from_status(
        L["grids"], L["buildings"], L["households"], status, rule="status", statuses=["red"]
    )
    # B1-1 is green on its own row, B1-2 takes the building's red; B2 is marked empty;
    # B3 has no household count but a red row of its own: one household.
    assert orders == [Order("B1-food", 1, "food", "B1"), Order("B3-food", 1, "food", "B3")]


def test_sealed_rule_counts_buildings_without_household_rows():
    L = _tiny_layers()
    L["grids"]["area_class"] = "sealed"
    status = pd.DataFrame(columns=["entity_kind", "entity_id", "status", "persons", "seq"])
    orders = orders_from_status(L["grids"], L["buildings"], L["households"], status)
    assert {o.building_id: o.boxes for o in orders} == {"B1": 2, "B2": 12}


def test_chosen_area_classes_are_served_whole(demo_layers):
    grids, buildings = demo_layers["grids"], demo_layers["buildings"]
    households, status = demo_layers["households"], demo_layers["status"]
    cls = effective_area_class(grids)
    sealed = orders_from_status(grids, buildings, households, status)
    both = orders_from_status(
        grids, buildings, households, status, area_classes=("sealed", "controlled")
    )
    controlled = set(cls.index[cls == "controlled"])
    in_controlled = set(buildings.loc[buildings["grid_id"].isin(controlled), "building_id"])
    assert in_controlled and {o.building_id for o in both} - {o.building_id for o in sealed}
    assert {o.building_id for o in both} - {o.building_id for o in sealed} <= in_controlled
    assert orders_from_status(grids, buildings, households, status, area_classes=()) == []
