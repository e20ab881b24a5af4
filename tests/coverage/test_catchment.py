"""Tests for mapserver.coverage.catchment."""

from __future__ import annotations

import pytest

from mapserver.coverage.area import area_nodes, area_polygon
from mapserver.coverage.catchment import catchments, rota
from mapserver.coverage.cordon import plan_cordon


@pytest.mark.parametrize("grid_id", ["SD01-C01", "SD01-V01"])
def test_catchment_households_sum_to_those_inside(demo, grid_id):
    nodes, edges, buildings = demo["road_nodes"], demo["road_edges"], demo["buildings"]
    area = area_polygon(demo["grids"], grid_id)
    plan = plan_cordon(area, nodes, edges, checkpoints=demo["checkpoints"], keep_existing=False)
    got = catchments(plan, nodes, edges, buildings)
    inside = buildings[buildings["gate_node"].isin(plan.enclosed_nodes)]
    assert got.households == int(inside["households"].sum()) > 0
    assert got.unreached == ()
    assert sum(e.households for e in got.exits) == got.households
    assert sum(e.buildings for e in got.exits) == len(inside)
    staffed = {c.edge_id for c in plan.cuts if c.placement == "staffed"}
    assert {e.exit_id for e in got.exits} == staffed


def test_checkpoint_catchments_of_the_village(demo):
    nodes, edges, buildings, cps = (
        demo[k] for k in ("road_nodes", "road_edges", "buildings", "checkpoints")
    )
    area = area_polygon(demo["grids"], "SD01-V01")
    inside = area_nodes(area, nodes, edges, cps)
    got = catchments(cps, nodes, edges, buildings, inside_nodes=inside)
    assert sum(e.households for e in got.exits) == got.households
    assert not got.unreached
    assert len({e.exit_id for e in got.exits if e.households > 0}) >= 5
    with pytest.raises(ValueError, match="inside_nodes"):
        catchments(cps, nodes, edges, buildings)


def test_nearest_exit_wins(lattice, place_checkpoints):
    lat = lattice(4, seed=3)
    area = lat["square"]([(1, 1), (1, 2), (2, 1), (2, 2)])
    cps = place_checkpoints(["n1_1", "n2_2"], lat["nodes"])
    inside = area_nodes(area, lat["nodes"], lat["edges"])
    got = catchments(cps, lat["nodes"], lat["edges"], lat["buildings"], inside_nodes=inside)
    owner = dict(got.assignment)
    assert owner["b5"] == "CP0"  # b5 stands at n1_1
    assert owner["b10"] == "CP1"  # b10 stands at n2_2


def test_rota_counts_persons(lattice):
    lat = lattice(3, seed=1, classes=("main", "street", "lane"))
    plan = plan_cordon(lat["square"]([(1, 1)]), lat["nodes"], lat["edges"])
    by_class = {c.road_class: 0 for c in plan.cuts}
    for c in plan.cuts:
        by_class[c.road_class] += 1
    r = rota(plan)
    per_shift = 3 * by_class.get("main", 0) + 2 * by_class.get("street", 0)
    assert r.persons_per_shift == per_shift
    assert r.persons_per_day == 3 * per_shift
    two = rota(plan, shifts_per_day=2, persons_per_shift={"main": 4, "barrier": 1})
    assert two.persons_per_shift == 4 * by_class.get("main", 0) + 2 * by_class.get(
        "street", 0
    ) + by_class.get("lane", 0)
    assert two.to_dict()["persons_per_day"] == 2 * two.persons_per_shift
    with pytest.raises(ValueError, match="shifts_per_day"):
        rota(plan, shifts_per_day=0)
