"""Saved route plans and stop events in the store, on both backends."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mapserver
from mapserver.errors import NotFoundError
from mapserver.network import build_graph
from mapserver.routing import VehicleType, plan_from_data, plan_to_data, solve
from mapserver.store import Store
from tests.routing.conftest import make_lattice
from tests.routing.test_plandata import replan_after_first_stop
from tests.routing.test_vrp import CVRP_STOPS, SPEED_KMH


def test_route_plans_and_stop_events(store: Store):
    assert store.last_stop_event() == 0
    plan_id = store.save_route_plan(
        kind="delivery", name="上午保供", data={"routes": [1, 2]}, problem={"k": "值"}, user="甲"
    )
    saved = store.get_route_plan(plan_id)
    assert saved["data"] == {"routes": [1, 2]} and store.get_route_problem(plan_id) == {"k": "值"}
    assert [p["plan_id"] for p in store.list_route_plans(kind="delivery")] == [plan_id]
    assert store.list_route_plans(kind="patrol") == []
    first = store.record_stop_event(plan_id, "van-1", "S1", state="delivered", user="司机")
    with pytest.raises(ValueError, match="reason"):
        store.record_stop_event(plan_id, "van-1", "S2", state="failed", user="司机")
    second = store.record_stop_event(
        plan_id, "van-1", "S1", state="failed", reason="无人接收", user="司机"
    )
    assert second > first == 1 and store.last_stop_event() == second
    states = store.stop_states(plan_id)
    assert states[("van-1", "S1")]["state"] == "failed"
    assert ("van-1", "S2") not in states
    with pytest.raises(NotFoundError):
        store.get_route_plan("nope")
    with pytest.raises(ValueError):
        store.save_route_plan(kind="boat", name="x", data={}, user="甲")


def test_replanning_after_a_round_trip_through_the_store(store: Store):
    lattice = make_lattice()
    graph = build_graph(lattice["nodes"], lattice["edges"])
    fleet = [VehicleType("van", 12, 2, SPEED_KMH, (0, 100_000), None, "n0_0")]
    plan = solve(CVRP_STOPS, fleet, graph, time_limit_s=0.3)
    plan_id = store.save_route_plan(
        kind="delivery", name="上午", data=plan.to_dict(), problem=plan_to_data(plan), user="甲"
    )
    loaded = plan_from_data(store.get_route_problem(plan_id))
    assert loaded == plan
    again = replan_after_first_stop(loaded, graph)
    assert len(again.stops) == len(CVRP_STOPS) - 1
    # A plan saved without re-planning data reads as None (not re-plannable).
    bare = store.save_route_plan(kind="patrol", name="巡逻", data={}, user="甲")
    assert store.get_route_problem(bare) is None


_SERIALISERS = {"pickle", "_pickle", "cPickle", "cloudpickle", "dill", "shelve", "marshal"}


def test_no_module_of_mapserver_imports_pickle():
    package = Path(mapserver.__file__).parent
    found, scanned = [], set()
    for path in sorted(package.rglob("*.py")):
        scanned.add(path.parent.name)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [(node.module or "").split(".")[0]]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names = [node.value] if node.value in _SERIALISERS else []
            else:
                continue
            found += [
                f"{path.relative_to(package)}:{node.lineno}" for n in names if n in _SERIALISERS
            ]
    assert any(p.name == "delivery.py" for p in package.rglob("services/*.py"))
    assert found == []
