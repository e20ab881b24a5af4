"""What each kind of job does, as module-level functions a job process can run.

A job runs in a process of its own (see :mod:`mapserver.services.jobs`), so its work
is named by function and plain arguments, not by a closure over the request: each
function gets the job process's own store, a ``progress(fraction)`` callback and its
keyword arguments, and returns the job's JSON-ready result.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from mapserver.services.delivery import DeliveryRequest, DeliveryService
from mapserver.services.patrol import PatrolService
from mapserver.services.planner import PlannerService
from mapserver.store import Store

Progress = Callable[[float], None]


def plan_delivery(
    store: Store,
    progress: Progress,
    *,
    request: DeliveryRequest,
    user: str,
    orders: pd.DataFrame | None = None,
    max_stops: int | None = None,
) -> dict:
    """Solve and save a delivery run; ``orders`` from the request, else from the status."""
    service = DeliveryService(store, max_stops=max_stops)
    plan_id = service.plan(
        request, user=user, orders_table=orders, orders_file="request", progress=progress
    )
    return {"plan_id": plan_id}


def replan_delivery(
    store: Store, progress: Progress, *, plan_id: str, user: str, now_s: int | None = None
) -> dict:
    """Re-plan the stops of a delivery run not yet served, from ``now_s`` (seconds of day)."""
    return {"plan_id": DeliveryService(store).replan(plan_id, user=user, now_s=now_s)}


def plan_patrol(
    store: Store,
    progress: Progress,
    *,
    kind: str,
    grids: list[str],
    teams: int,
    shift_h: float,
    user: str,
) -> dict:
    """Save a patrol plan: every street of ``grids`` ("streets") or a checkpoint tour."""
    service = PatrolService(store)
    if kind == "streets":
        plan_id = service.streets(grids, teams=teams, shift_h=shift_h, user=user, progress=progress)
    else:
        plan_id = service.checkpoints(
            grid_ids=grids or None, teams=teams, user=user, progress=progress
        )
    return {"plan_id": plan_id}


def propose_cells(
    store: Store,
    progress: Progress,
    *,
    parent_id: str,
    target: dict | None = None,
    keep_current: bool = True,
) -> dict:
    """An automatic micro-grid proposal for the cells of ``parent_id``."""
    return PlannerService(store).propose(parent_id, target=target, keep_current=keep_current)
