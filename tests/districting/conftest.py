"""Fixtures for districting tests: a demo neighbourhood, a generated 10,000-building parent."""

from __future__ import annotations

import time

import pytest

from mapserver.demo import generate_demo
from mapserver.demo.synthetic import synthetic_parent
from mapserver.districting.adjacency import barrier_lines
from mapserver.districting.partition import propose_partition


@pytest.fixture(scope="session")
def demo_layers():
    return generate_demo()


@pytest.fixture(scope="session")
def neighbourhood(demo_layers):
    """(buildings, parent polygon, barriers) of the first demo neighbourhood 海欣居民区."""
    grids = demo_layers["grids"]
    parent_of = dict(zip(grids["grid_id"], grids["parent_id"], strict=True))
    level = dict(zip(grids["grid_id"], grids["level"], strict=True))

    def community(gid):
        while gid and level.get(gid) != "community":
            gid = parent_of.get(gid)
        return gid

    buildings = demo_layers["buildings"]
    mask = [community(g) == "SD01-C01" for g in buildings["grid_id"]]
    parent = grids.set_index("grid_id").geometry["SD01-C01"]
    return buildings[mask].reset_index(drop=True), parent, barrier_lines(demo_layers["road_edges"])


@pytest.fixture(scope="session")
def big_parent():
    """The generated 10,000-building parent, its plan and the seconds the plan took."""
    buildings, parent, roads = synthetic_parent(10_000, seed=0)
    barriers = barrier_lines(roads)
    start = time.perf_counter()
    plan = propose_partition(buildings, parent, barriers=barriers)
    return buildings, parent, barriers, plan, time.perf_counter() - start
