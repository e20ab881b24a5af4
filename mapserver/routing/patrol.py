"""Split one postman walk among k patrol teams, each leaving from and returning to the base."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np

from mapserver.routing.postman import (
    PostmanRoute,
    WalkNetwork,
    _deadhead_flags,
    _is_closed,
    steps_geojson,
    walk_network,
)

WALK_SPEED_KMH = 4.5
_BISECTIONS = 50
_CHUNK = 256  # cut positions per vectorised block of the dynamic programme


@dataclass(frozen=True)
class TeamRoute:
    """One team's closed walk from the base; metres and seconds.

    ``walk`` lists ``(edge_id, from_node, to_node)`` steps; ``step_m`` their lengths.
    """

    team: int
    base_node: str
    walk: tuple[tuple[str, str, str], ...]
    step_m: tuple[float, ...]
    length_m: float
    duration_s: float

    @property
    def node_sequence(self) -> tuple[str, ...]:
        """Node ids in walking order, from the base back to the base."""
        return (self.base_node, *(to for _, _, to in self.walk))

    def is_closed(self) -> bool:
        """Whether the walk chains from the base back to the base."""
        return _is_closed(self.walk, self.base_node)


@dataclass(frozen=True)
class PatrolPlan:
    """Every street of a postman route shared among teams; metres and seconds.

    ``deadhead_m`` is all walking beyond one pass over each street (the
    repeats of the postman walk plus the teams' ways out and back).
    """

    teams: tuple[TeamRoute, ...]
    street_edges: frozenset[str]
    street_m: float
    longest_m: float
    deadhead_m: float
    shift_s: float | None = None

    @property
    def total_m(self) -> float:
        """Metres walked by all teams together."""
        return float(sum(t.length_m for t in self.teams))

    @property
    def balance(self) -> float:
        """Longest team length over the mean of the teams that walk (1.0 is perfect)."""
        busy = [t.length_m for t in self.teams if t.walk]
        return self.longest_m / (sum(busy) / len(busy)) if busy else 1.0

    def over_shift(self) -> list[int]:
        """Teams whose walk takes longer than the shift (none when no shift is set)."""
        if self.shift_s is None:
            return []
        return [t.team for t in self.teams if t.duration_s > self.shift_s]

    def within_shift(self) -> bool:
        """Whether every team finishes within the shift."""
        return not self.over_shift()

    def covers(self, edge_ids: Sequence[str]) -> bool:
        """Whether every edge id is walked by some team."""
        walked = {e for t in self.teams for e, _, _ in t.walk}
        return all(str(e) in walked for e in edge_ids)

    def to_geojson(self, edges: gpd.GeoDataFrame) -> dict:
        """All teams' walks as a GeoJSON FeatureCollection (EPSG:4326), one line per step.

        Properties as :meth:`PostmanRoute.to_geojson` plus ``team``.
        """
        flags = _deadhead_flags([s for t in self.teams for s in t.walk], self.street_edges)
        parts, at = [], 0
        for t in self.teams:
            parts.append((t.team, t.walk, t.step_m, flags[at : at + len(t.walk)]))
            at += len(t.walk)
        return steps_geojson(edges, parts)


def split_patrol(
    route: PostmanRoute,
    k: int,
    *,
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    shift_m: float | None = None,
    shift_s: float | None = None,
    speed_kmh: float = WALK_SPEED_KMH,
) -> PatrolPlan:
    """Cut a postman walk into ``k`` closed walks from its base, the longest as short as possible.

    Frederickson-Hecht-Kim's k-postman idea: each team walks one stretch of
    the postman walk, reaching its start and returning from its end by
    shortest paths. Rule (exact over all cut points of the walk, by dynamic
    programming): the longest team walk is as short as possible, and among
    the cuts that reach it, the shortest team walk is as long as possible
    (no team is left far under the others). With fewer steps than teams,
    each step is one team's and the rest walk nothing.

    Parameters
    ----------
    route
        From :func:`mapserver.routing.postman.postman_route`.
    k
        Number of teams (at least 1).
    nodes, edges
        The road layers the route was made on (EPSG:4326, metres).
    shift_m, shift_s
        Shift length as a walking distance (metres) or a time (seconds); a
        team over it is listed by :meth:`PatrolPlan.over_shift`.
    speed_kmh
        Walking speed for durations (km/h).

    Returns
    -------
    PatrolPlan
        ``k`` teams; a team left nothing to walk (tiny areas) has an empty walk.
    """
    if k < 1:
        msg = f"the number of teams must be at least 1, got {k}"
        raise ValueError(msg)
    if speed_kmh <= 0:
        msg = f"walking speed must be positive, got {speed_kmh} km/h"
        raise ValueError(msg)
    speed = speed_kmh / 3.6
    limit_s = shift_s if shift_s is not None else (shift_m / speed if shift_m is not None else None)
    net = walk_network(nodes, edges, mode=route.mode, respect_oneway=route.respect_oneway)
    base = net.node(route.base_node, "base")
    steps = _indexed(net, route)
    d_out, pred_out = net.search(base)
    d_in, pred_in = net.search(base, reverse=True)
    at = np.array([base] + [b for _, _, b in steps], dtype=np.int64)
    cum = np.concatenate([[0.0], np.cumsum([net.length[e] for e, _, _ in steps])])
    cuts = _best_cuts(cum, d_out[at], d_in[at], k)
    teams = []
    for team, (i, j) in enumerate(itertools.pairwise(cuts), start=1):
        walk = []
        if j > i:
            walk = net.path_from(pred_out, base, int(at[i])) + steps[i:j]
            walk += net.path_to(pred_in, int(at[j]), base)
        step_m = tuple(float(net.length[e]) for e, _, _ in walk)
        length = float(sum(step_m))
        teams.append(
            TeamRoute(
                team=team,
                base_node=route.base_node,
                walk=net.steps_out(walk),
                step_m=step_m,
                length_m=length,
                duration_s=length / speed,
            )
        )
    total = sum(t.length_m for t in teams)
    return PatrolPlan(
        teams=tuple(teams),
        street_edges=route.street_edges,
        street_m=route.street_m,
        longest_m=max(t.length_m for t in teams),
        deadhead_m=total - route.street_m,
        shift_s=limit_s,
    )


def _indexed(net: WalkNetwork, route: PostmanRoute) -> list[tuple[int, int, int]]:
    """The route's steps as (edge index, from index, to index)."""
    edge_index = {str(e): i for i, e in enumerate(net.edge_ids)}
    out = []
    for e, a, b in route.walk:
        if e not in edge_index:
            msg = f"route street '{e}' is not in the {net.mode} road graph"
            raise ValueError(msg)
        out.append((edge_index[e], net.node(a, "route"), net.node(b, "route")))
    return out


def _best_cuts(cum: np.ndarray, out_m: np.ndarray, back_m: np.ndarray, k: int) -> list[int]:
    """Cuts ``0 = c0 <= ... <= ck = m``: longest stretch least, then shortest stretch greatest.

    A stretch ``[i, j)`` costs ``out_m[i] + cum[j] - cum[i] + back_m[j]`` (0 when
    empty). Exact over all cut positions: a dynamic programme gives the least
    longest cost ``L``, a second one the greatest shortest cost among the cuts
    whose every stretch costs at most ``L``. With at least ``k`` steps every
    stretch is non-empty (splitting a stretch never makes a part dearer, by the
    triangle inequality of ``out_m`` and ``back_m``).
    """
    m = len(cum) - 1
    if m == 0:
        return [0] * (k + 1)
    if k == 1:
        return [0, m]
    if m < k:  # one step each: no stretch can cost less than its single step
        return list(range(m + 1)) + [m] * (k - m)
    hi = _bisect_bound(cum, out_m, back_m, k)
    tol = 1e-9 * max(hi, 1.0)
    longest, _ = _dp(cum, out_m, back_m, k, hi + tol, minmax=True)
    _, cuts = _dp(cum, out_m, back_m, k, longest + tol, minmax=False)
    return cuts


def _bisect_bound(cum: np.ndarray, out_m: np.ndarray, back_m: np.ndarray, k: int) -> float:
    """A longest-stretch bound reachable with ``k`` stretches (bisection over the greedy)."""
    single = out_m[:-1] + np.diff(cum) + back_m[1:]
    lo = max(float(single.max()), float(cum[-1]) / k)
    hi = float(out_m[0] + cum[-1] + back_m[-1])
    for _ in range(_BISECTIONS):
        if hi - lo <= 1e-3:
            break
        mid = (lo + hi) / 2
        cuts = _greedy(cum, out_m, back_m, mid)
        if cuts is not None and len(cuts) - 1 <= k:
            hi = mid
        else:
            lo = mid
    return hi


def _dp(
    cum: np.ndarray, out_m: np.ndarray, back_m: np.ndarray, k: int, bound: float, *, minmax: bool
) -> tuple[float, list[int]]:
    """Cuts into ``k`` non-empty stretches each costing at most ``bound``.

    ``minmax``: the least longest stretch cost; otherwise the greatest shortest.
    Returns that cost and the cut positions.
    """
    m = len(cum) - 1
    worst = np.inf if minmax else -np.inf
    prev = np.full(m + 1, worst)
    prev[0] = -worst
    lo_idx = np.searchsorted(cum, cum - bound, side="left")
    start = out_m - cum  # cost(i, j) = start[i] + finish[j]
    finish = cum + back_m
    args = []
    for _ in range(k):
        cur = np.full(m + 1, worst)
        arg = np.zeros(m + 1, dtype=np.int64)
        for j0 in range(1, m + 1, _CHUNK):
            j = np.arange(j0, min(j0 + _CHUNK, m + 1))
            i = np.arange(int(lo_idx[j0]), int(j[-1]))
            cost = start[i][None, :] + finish[j][:, None]
            ok = (i[None, :] < j[:, None]) & (i[None, :] >= lo_idx[j][:, None]) & (cost <= bound)
            if minmax:
                val = np.where(ok, np.maximum(prev[i][None, :], cost), np.inf)
                best = np.argmin(val, axis=1)
            else:
                val = np.where(ok, np.minimum(prev[i][None, :], cost), -np.inf)
                best = np.argmax(val, axis=1)
            cur[j] = val[np.arange(len(j)), best]
            arg[j] = i[best]
        args.append(arg)
        prev = cur
    cuts = [m]
    for arg in reversed(args):
        cuts.append(int(arg[cuts[-1]]))
    return float(prev[m]), cuts[::-1]


def _greedy(
    cum: np.ndarray, out_m: np.ndarray, back_m: np.ndarray, bound: float
) -> list[int] | None:
    """Cuts taking, from each start, the farthest end whose closed stretch fits ``bound``."""
    m = len(cum) - 1
    cuts, i = [0], 0
    tol = bound * 1e-12 + 1e-9
    while i < m:
        stop = int(np.searchsorted(cum, cum[i] + bound, side="right"))
        ends = np.arange(i + 1, min(stop, m + 1))
        fits = ends[out_m[i] + cum[ends] - cum[i] + back_m[ends] <= bound + tol]
        if not len(fits):
            return None
        i = int(fits[-1])
        cuts.append(i)
    return cuts
