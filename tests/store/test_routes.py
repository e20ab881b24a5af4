"""Saved route plans and stop events in the store, on both backends."""

from __future__ import annotations

import pytest

from mapserver.errors import NotFoundError
from mapserver.store import Store


def test_route_plans_and_stop_events(store: Store):
    assert store.last_stop_event() == 0
    plan_id = store.save_route_plan(
        kind="delivery", name="上午保供", data={"routes": [1, 2]}, blob=b"\x00\x01", user="甲"
    )
    saved = store.get_route_plan(plan_id)
    assert saved["data"] == {"routes": [1, 2]} and bytes(saved["blob"]) == b"\x00\x01"
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
