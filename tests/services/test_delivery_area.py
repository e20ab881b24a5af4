"""A delivery run of one area reads that area's buildings and the roads around it, and plans
the same orders as the district's run keeps there."""

from __future__ import annotations

import pytest

from mapserver.errors import NotFoundError
from mapserver.services.access import subtree
from mapserver.services.delivery import DeliveryRequest, DeliveryService
from mapserver.status.tree import grid_children
from mapserver.store import StatusRow, open_store


def _dropped_buildings(plan: dict) -> set[str]:
    return {
        drop["building_id"]
        for route in plan["plan"]["routes"]
        for stop in route["stops"]
        for drop in stop["drops"]
        if drop.get("building_id")
    }


def test_an_areas_run_reads_the_area_and_serves_its_orders(demo_db_url, demo_layers):
    store = open_store(demo_db_url)
    try:
        grids, households = demo_layers["grids"], demo_layers["households"]
        community = grids.loc[grids["level"] == "community", "grid_id"].iloc[0]
        below = subtree(community, grid_children(grids))
        buildings = demo_layers["buildings"]
        inside = set(buildings.loc[buildings["grid_id"].isin(below), "building_id"])
        mine = households[households["building_id"].isin(inside)]["household_id"].iloc[:12]
        theirs = households[~households["building_id"].isin(inside)]["household_id"].iloc[:12]
        store.apply_status(
            [StatusRow("household", h, "red") for h in [*mine, *theirs]], user="t", source="t"
        )
        service = DeliveryService(store)
        area = service.layers_for(community)
        whole = service.layers_for(None)
        assert set(area["buildings"]["building_id"]) == inside
        assert len(area["road_edges"]) < len(whole["road_edges"])
        assert set(area["households"]["building_id"]) <= inside
        request = dict(rule="status", statuses=("red",), vans=2, tricycles=1, time_limit_s=1)
        local = service.get(service.plan(DeliveryRequest(**request, grid=community), user="t"))
        district = service.get(service.plan(DeliveryRequest(**request), user="t"))
        assert local["plan"]["feasible"] and not local["plan"]["unserved"]
        served = _dropped_buildings(local)
        assert served and served <= inside
        assert served == _dropped_buildings(district) & inside
        replanned = service.get(service.replan(local["plan_id"], user="t", now_s=8 * 3600))
        assert _dropped_buildings(replanned) <= inside
        with pytest.raises(NotFoundError):
            service.layers_for("NO-SUCH-GRID")
    finally:
        store.dispose()
