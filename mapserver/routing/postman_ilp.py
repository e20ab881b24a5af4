"""Exact mixed (one-way and two-way) postman walks by integer programming (OR-Tools SCIP).

Classic mixed Chinese postman model: one binary per required two-way street
(the direction of its required pass), one integer per directed arc of the
road graph (extra passes, deadhead), in = out at every node, minimum
length. Connectivity is added as cuts ``sum of arcs leaving S >= 1`` for
every piece ``S`` of the solution that holds required streets but not the
base, and the model is solved again until the walk is one piece. A
solution in which every required street is walked, every node balanced
and everything joined to the base is an Euler circuit from the base, so
the optimum of the last model is the shortest closed walk.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from ortools.linear_solver import pywraplp
from scipy.sparse.csgraph import connected_components, dijkstra

from mapserver.routing.postman import _DM_PER_M, WalkNetwork, _Step

# Stop adding connectivity cuts after this many rounds (each round is one solve).
_MAX_ROUNDS = 50


@dataclass(frozen=True)
class MixedSolution:
    """Steps of an exact (or best found) mixed postman walk; metres.

    ``steps`` is an unordered multiset of ``(edge, from, to)`` node-index
    steps, balanced and joined to the base; ``lower_bound_m`` bounds every
    closed walk from below (equal to ``length_m`` when ``optimal``).
    """

    steps: list[_Step] | None
    length_m: float
    lower_bound_m: float
    optimal: bool


def mixed_postman(
    net: WalkNetwork,
    required: np.ndarray,
    base: int,
    *,
    upper_m: float,
    hint: list[_Step] | None = None,
    time_limit_s: float = 30.0,
) -> MixedSolution:
    """Shortest closed walk from ``base`` over the ``required`` edges of a mixed network.

    Parameters
    ----------
    net
        The walk network (one-way edges walked ``u -> v`` only).
    required
        Indices of the edges to walk at least once.
    base
        Node index where the walk starts and ends.
    upper_m
        Length (metres) of a known closed walk over every required edge: arcs
        that no closed walk of that length can use are left out of the model.
    hint
        That walk's steps, given to the solver as a starting solution.
    time_limit_s
        Wall-clock budget for all solves together.

    Returns
    -------
    MixedSolution
        ``steps`` None when no joined solution was found in time.
    """
    deadline = time.monotonic() + time_limit_s
    d_out, _ = net.search(base)
    d_in, _ = net.search(base, reverse=True)
    pairs = list(net.arc_edge.items())
    tail = np.array([a for (a, _), _ in pairs], dtype=np.int64)
    head = np.array([b for (_, b), _ in pairs], dtype=np.int64)
    arc_e = np.array([e for _, e in pairs], dtype=np.int64)
    arc_len = net.length[arc_e]
    # A closed walk through base using arc (a, b) is at least d(base, a) + len + d(b, base).
    slack = upper_m * 1e-9 + 1e-6
    keep = d_out[tail] + arc_len + d_in[head] <= upper_m + slack
    # Some shortest walk repeats only shortest paths between ends of required streets
    # (and the base); such a path is no longer than d(r1, base) + d(base, r2).
    ends = np.unique(np.concatenate([net.u[required], net.v[required], [base]]))
    reach = float(d_in[ends].max() + d_out[ends].max())
    from_ends = dijkstra(net.matrix, directed=True, indices=ends, min_only=True)
    to_ends = dijkstra(net.matrix.T.tocsr(), directed=True, indices=ends, min_only=True)
    keep &= from_ends[tail] + arc_len + to_ends[head] <= reach + slack
    tail, head, arc_e, arc_len = tail[keep], head[keep], arc_e[keep], arc_len[keep]
    cost = np.rint(arc_len * _DM_PER_M).astype(np.int64)

    solver = pywraplp.Solver.CreateSolver("SCIP")
    solver.SetNumThreads(1)
    req_one = [int(e) for e in required if net.oneway[e]]
    req_two = [int(e) for e in required if not net.oneway[e]]
    x, o = _model(solver, net, required, req_one, req_two, tail, head, cost)
    street_m = float(net.length[required].sum())

    out_arcs: dict[int, list[int]] = {}
    for k, a in enumerate(tail.tolist()):
        out_arcs.setdefault(a, []).append(k)
    cuts: set[frozenset[int]] = set()

    def add_cut(piece: np.ndarray) -> bool:
        inside = frozenset(piece.tolist())
        if inside in cuts:
            return False
        cuts.add(inside)
        leaving = [x[k] for a in inside for k in out_arcs.get(a, []) if int(head[k]) not in inside]
        solver.Add(solver.Sum(leaving) >= 1)
        return True

    req_nodes = np.concatenate([net.u[required], net.v[required]])
    for piece in _pieces(net.n_nodes, net.u[required], net.v[required], base):
        if base not in piece:
            add_cut(piece)

    if hint is not None:
        _set_hint(solver, hint, net.u, set(req_one), tail, head, x, req_two, o)

    lower = street_m
    best: list[_Step] | None = None
    best_m = np.inf
    for _ in range(_MAX_ROUNDS):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        solver.SetTimeLimit(max(1, int(left * 1000)))
        status = solver.Solve()
        if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            break
        lower = max(lower, street_m + solver.Objective().BestBound() / _DM_PER_M)
        steps = _decode(net, x, o, req_one, req_two, (arc_e, tail, head))
        a = np.array([s[1] for s in steps], dtype=np.int64)
        b = np.array([s[2] for s in steps], dtype=np.int64)
        loose = [p for p in _pieces(net.n_nodes, a, b, base) if base not in p]
        needed = [p for p in loose if np.isin(p, req_nodes).any()]
        # Pieces with no required street are cycles that only add length: drop them.
        junk = [p for p in loose if not np.isin(p, req_nodes).any()]
        drop = set(np.concatenate(junk).tolist()) if junk else set()
        steps = [s for s in steps if s[1] not in drop]
        if needed:
            # Joined by round trips, a walk to start the next round from (or to keep).
            steps = steps + _join(net, steps, base, needed)
            for piece in needed:
                add_cut(piece)
        length = float(sum(net.length[e] for e, _, _ in steps))
        if length < best_m:
            best, best_m = steps, length
        if not needed and status == pywraplp.Solver.OPTIMAL:
            return MixedSolution(steps, length, length, True)
        if not needed:
            break
        _set_hint(solver, best, net.u, set(req_one), tail, head, x, req_two, o)
    optimal = best is not None and best_m <= lower + 1e-6
    return MixedSolution(best, best_m, min(lower, best_m), optimal)


def _decode(
    net: WalkNetwork,
    x: list,
    o: list,
    req_one: list[int],
    req_two: list[int],
    arcs: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> list[_Step]:
    """The solver's values as steps: required passes in their direction, then extra passes."""
    arc_e, tail, head = arcs
    counts = np.rint([var.solution_value() for var in x]).astype(np.int64)
    fwd = [round(var.solution_value()) == 1 for var in o]
    steps = [(e, int(net.u[e]), int(net.v[e])) for e in req_one]
    steps += [
        (e, int(net.u[e]), int(net.v[e])) if f else (e, int(net.v[e]), int(net.u[e]))
        for e, f in zip(req_two, fwd, strict=True)
    ]
    for k in np.flatnonzero(counts):
        steps += [(int(arc_e[k]), int(tail[k]), int(head[k]))] * int(counts[k])
    return steps


def _model(
    solver: pywraplp.Solver,
    net: WalkNetwork,
    required: np.ndarray,
    req_one: list[int],
    req_two: list[int],
    tail: np.ndarray,
    head: np.ndarray,
    cost: np.ndarray,
) -> tuple[list, list]:
    """Variables (extra passes per arc, direction per two-way street), balance, objective."""
    x = [solver.IntVar(0, solver.infinity(), "") for _ in range(len(tail))]
    o = [solver.BoolVar("") for _ in req_two]
    # Balance: sum(in) - sum(out) == 0 at every node touched.
    const = np.zeros(net.n_nodes, dtype=np.int64)
    np.add.at(const, net.v[req_one], 1)
    np.add.at(const, net.u[req_one], -1)
    terms: dict[int, list] = {}
    touching: dict[int, list] = {}
    for k, (a, b) in enumerate(zip(tail.tolist(), head.tolist(), strict=True)):
        terms.setdefault(b, []).append(x[k])
        terms.setdefault(a, []).append(-x[k])
        touching.setdefault(a, []).append(x[k])
        touching.setdefault(b, []).append(x[k])
    for var, e in zip(o, req_two, strict=True):
        u, v = int(net.u[e]), int(net.v[e])
        # Forward (o = 1): +1 at v, -1 at u; backward: the opposite.
        terms.setdefault(v, []).append(2 * var)
        const[v] -= 1
        terms.setdefault(u, []).append(-2 * var)
        const[u] += 1
    for node in set(terms) | set(np.flatnonzero(const).tolist()):
        solver.Add(solver.Sum(terms.get(node, [])) + int(const[node]) == 0)
    # A junction with an odd number of required streets is passed by some extra walk.
    req_deg = np.bincount(np.concatenate([net.u[required], net.v[required]]), minlength=net.n_nodes)
    for node in np.flatnonzero(req_deg % 2).tolist():
        solver.Add(solver.Sum(touching.get(node, [])) >= 1)
    solver.Minimize(solver.Sum(int(c) * var for c, var in zip(cost.tolist(), x, strict=True)))
    return x, o


def _join(net: WalkNetwork, steps: list[_Step], base: int, loose: list[np.ndarray]) -> list[_Step]:
    """Round trips joining each loose piece to the nearest node of the base's piece."""
    held = np.zeros(net.n_nodes, dtype=bool)
    held[[base] + [x for _, a, b in steps for x in (a, b)]] = True
    for piece in loose:
        held[piece] = False
    main = np.flatnonzero(held)
    extra: list[_Step] = []
    for piece in loose:
        d, pred, origin = dijkstra(
            net.matrix, directed=True, indices=main, min_only=True, return_predecessors=True
        )
        s = int(piece[np.argmin(d[piece])])
        m = int(origin[s])
        _, back = net.search(s)
        extra += net.path_from(pred, m, s) + net.path_from(back, s, m)
        main = np.union1d(main, piece)
    return extra


def _pieces(n: int, a: np.ndarray, b: np.ndarray, base: int) -> list[np.ndarray]:
    """Node sets of the (weakly) joined pieces of the steps ``a -> b`` and the base."""
    graph = sp.csr_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    touched = np.unique(np.concatenate([a, b, [base]]))
    return [touched[label[touched] == p] for p in np.unique(label[touched])]


def _set_hint(
    solver: object,
    hint: list[_Step],
    u_of: np.ndarray,
    req_one: set[int],
    tail: np.ndarray,
    head: np.ndarray,
    x: list,
    req_two: list[int],
    o: list,
) -> None:
    """A known walk as the solver's starting point (extra passes on each node pair's arc)."""
    arc_of = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(tail, head, strict=True))}
    two = {e: i for i, e in enumerate(req_two)}
    counts = np.zeros(len(x), dtype=np.int64)
    fwd = [None] * len(req_two)
    seen: set[int] = set()
    for e, a, b in hint:
        if e not in seen and (e in req_one or e in two):
            seen.add(e)
            if e in two:
                fwd[two[e]] = a == int(u_of[e])
            continue
        k = arc_of.get((a, b))
        if k is None:
            return
        counts[k] += 1
    if any(f is None for f in fwd):
        return
    solver.SetHint(x + o, [float(c) for c in counts] + [1.0 if f else 0.0 for f in fwd])
