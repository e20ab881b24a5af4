"""Solvers read only the roads around their area and answer as the whole district's
network does: the same entrances, a cordon of the same cost and loads, a patrol of the
same streets and length, the same micro-grid proposal."""

from __future__ import annotations

import pytest

from mapserver.coverage import area_polygon, catchments, find_entrances, plan_cordon
from mapserver.districting.adjacency import barrier_lines
from mapserver.districting.partition import propose_partition
from mapserver.routing.postman import postman_route
from mapserver.services.around import road_network_around
from mapserver.services.checkpoints import CheckpointService
from mapserver.services.planner import PlannerService
from mapserver.store import open_store


@pytest.fixture(scope="module")
def areas(demo_layers) -> list[str]:
    grids = demo_layers["grids"]
    communities = grids.loc[grids["level"] == "community", "grid_id"].astype(str).tolist()
    bigs = grids.loc[grids["level"] == "big", "grid_id"].astype(str).tolist()
    return [communities[0], communities[-1], bigs[len(bigs) // 2]]


def test_area_answers_equal_the_whole_networks(demo_db_url, demo_layers, areas):
    store = open_store(demo_db_url)
    try:
        service = CheckpointService(store, margin_m=100)  # the demo is small: cut close
        nodes, edges = store.read_layer("road_nodes"), store.read_layer("road_edges")
        checkpoints, buildings = store.read_layer("checkpoints"), store.read_layer("buildings")
        for grid_id in areas:
            area = area_polygon(demo_layers["grids"], [grid_id])
            near = service.around(area, reach_m=300)
            assert len(near.edges) < len(edges)  # the area's roads, not the district's
            whole = find_entrances(area, nodes, edges, checkpoints).to_geojson()
            mine = service.entrances(grid_ids=[grid_id])
            assert {f["id"] for f in mine["features"]} == {f["id"] for f in whole["features"]}
            full = plan_cordon(
                area,
                nodes,
                edges,
                checkpoints=checkpoints,
                max_outward_m=300,
                buildings=buildings,
                household_cost=0.5,
            )
            got = service.cordon(grid_ids=[grid_id], max_outward_m=300, household_cost=0.5)
            summary = got["summary"]
            assert summary["total_cost"] == pytest.approx(round(full.total_cost, 6))
            assert summary["staffed"] == full.staffed
            assert summary["extra_households"] == full.extra_households
            load = catchments(full, nodes, edges, buildings).to_dict()
            assert got["catchment"]["unreached"] == load["unreached"]
            assert sum(e["households"] for e in got["catchment"]["exits"]) == sum(
                e["households"] for e in load["exits"]
            )
    finally:
        store.dispose()


def test_patrol_streets_and_a_proposal_equal_the_whole_networks(demo_db_url, demo_layers):
    store = open_store(demo_db_url)
    try:
        grids = demo_layers["grids"]
        nodes, edges = store.read_layer("road_nodes"), store.read_layer("road_edges")
        big = grids.loc[grids["level"] == "big", "grid_id"].astype(str).iloc[1]
        area = area_polygon(grids, [big])
        near_nodes, near_edges = road_network_around(store, area.bounds, 300)
        assert len(near_edges) < len(edges)
        whole = postman_route(nodes, edges, area=area, mode="walk", skip_unreachable=True)
        near = postman_route(near_nodes, near_edges, area=area, mode="walk", skip_unreachable=True)
        assert near.street_m == pytest.approx(whole.street_m)
        assert near.length_m == pytest.approx(whole.length_m)
        # a proposal reads the parent's roads only, and proposes what all roads give
        parent = grids.loc[grids["level"] == "small", "grid_id"].astype(str).iloc[0]
        service = PlannerService(store)
        view = service.parent(parent)
        mine = service.propose(parent, keep_current=False)
        full = propose_partition(
            view.buildings,
            view.geometry,
            target=view.target,
            barriers=barrier_lines(edges),
            id_prefix=f"{parent}-M",
        )

        # the same groups of buildings (the service names them after the old cells)
        def groups(assignment: dict) -> set[frozenset]:
            cells: dict[str, set] = {}
            for building, cell in assignment.items():
                cells.setdefault(cell, set()).add(building)
            return {frozenset(c) for c in cells.values()}

        assert groups(mine["assignment"]) == groups(full.assignment)
    finally:
        store.dispose()
