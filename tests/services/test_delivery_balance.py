"""Balanced delivery routes on the demo: every order served once within capacities, the
longest route at most 1.5 times the mean route time, and no longer than the plan that
minimises metres only."""

from __future__ import annotations

import shutil

from mapserver.services.delivery import DeliveryRequest, DeliveryService
from mapserver.store import open_store


def _durations(plan: dict) -> list[int]:
    return [r["duration_s"] for r in plan["routes"] if r["stops"]]


def test_balanced_plan_keeps_the_longest_route_near_the_mean(demo_db_template, tmp_path):
    path = tmp_path / "demo.sqlite"
    shutil.copy(demo_db_template, path)
    store = open_store(f"sqlite:///{path}")
    service = DeliveryService(store)
    plain = service.get(service.plan(DeliveryRequest(statuses=("red",), time_limit_s=2), user="t"))[
        "plan"
    ]
    balanced = service.get(
        service.plan(DeliveryRequest(statuses=("red",), time_limit_s=6, balanced=True), user="t")
    )["plan"]
    for plan in (plain, balanced):  # feasible: each order once, loads within capacity
        drops = [d["order_id"] for r in plan["routes"] for s in r["stops"] for d in s["drops"]]
        assert len(drops) == len(set(drops))
        assert all(r["load"] <= r["capacity"] * max(r["trips"], 1) for r in plan["routes"])
    assert sorted(
        d["order_id"] for r in balanced["routes"] for s in r["stops"] for d in s["drops"]
    ) == sorted(d["order_id"] for r in plain["routes"] for s in r["stops"] for d in s["drops"])
    times = _durations(balanced)
    assert max(times) <= 1.5 * sum(times) / len(times)
    assert max(times) <= max(_durations(plain))
    store.dispose()
