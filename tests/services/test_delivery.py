"""Tests for delivery plans kept by the store: plans without re-planning data."""

from __future__ import annotations

import pytest

from mapserver.errors import NotFoundError
from mapserver.services.delivery import DeliveryService
from mapserver.store import Store


def test_plan_saved_without_replanning_data_says_so(store: Store):
    plan_id = store.save_route_plan(
        kind="delivery", name="旧方案", data={"run": "morning", "plan": {"routes": []}}, user="甲"
    )
    with pytest.raises(NotFoundError, match=r"saved without re-planning data.*plan the run again"):
        DeliveryService(store).replan(plan_id, user="甲")
