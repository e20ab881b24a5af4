"""Balanced delivery routes: the longest route made as short as the fleet allows, for a
run where every van should be back at about the same time (three vans with one stop each
and a fourth with 37 is the cheapest plan in metres, not the one a dispatcher wants).

The solver minimises metres driven; balance comes from a cap on every route's duration,
found by bisection: a cap the solver can meet is kept and lowered, one it cannot is
raised. The answer is the plan of the lowest cap met (or the unbalanced plan when no cap
below its longest route can be met)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mapserver.network import RoadGraph
from mapserver.routing.fleet import VehicleType
from mapserver.routing.plan import RoutePlan
from mapserver.routing.stops import Stop
from mapserver.routing.vrp import solve

STEPS = 5  # bisection steps after the unbalanced solve
CLOSE_S = 120  # stop when the cap is known within two minutes


def longest_s(plan: RoutePlan) -> int:
    """The duration of the plan's longest route that serves a stop (seconds)."""
    return max((r.duration_s for r in plan.routes if r.visits), default=0)


def mean_s(plan: RoutePlan) -> float:
    """The mean duration of the routes that serve a stop (seconds)."""
    used = [r.duration_s for r in plan.routes if r.visits]
    return sum(used) / len(used) if used else 0.0


def capped(fleet: Sequence[VehicleType], cap_s: int) -> tuple[VehicleType, ...]:
    """The fleet with no route longer than ``cap_s`` seconds."""
    return tuple(replace(v, max_duration_s=min(v.duration_limit_s, int(cap_s))) for v in fleet)


def solve_balanced(
    stops: Sequence[Stop],
    fleet: Sequence[VehicleType],
    graph: RoadGraph,
    *,
    time_limit_s: float = 5.0,
    seed: int = 1,
    solver: str = "pyvrp",
    steps: int = STEPS,
) -> RoutePlan:
    """Plan routes serving every stop with the longest route as short as the solver can
    make it within ``time_limit_s`` in all (shared by the unbalanced solve and ``steps``
    capped ones). Raises ValueError as :func:`mapserver.routing.solve` when the stops
    cannot be served at all."""
    share = time_limit_s / (steps + 1)
    best = solve(stops, fleet, graph, time_limit_s=share, seed=seed, solver=solver)
    high = longest_s(best)
    vehicles = sum(v.count for v in fleet)
    low = best.duration_s / max(vehicles, 1)  # no cap below the work shared out evenly
    for _ in range(steps):
        if high - low <= CLOSE_S:
            break
        cap = int((low + high) / 2)
        try:
            plan = solve(
                stops, capped(fleet, cap), graph, time_limit_s=share, seed=seed, solver=solver
            )
        except ValueError:  # no plan within this cap: the answer lies above it
            low = cap
            continue
        best, high = plan, longest_s(plan)
    return best
