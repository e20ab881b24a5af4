"""Graph regionalisation kernels: recursive bisection, contiguity repair, local search.

Everything here works on integer node indices, an (N, 2) array of metric
coordinates, integer weights and a symmetric scipy CSR adjacency matrix.
"""

from __future__ import annotations

import math
import time
from collections import deque

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from mapserver.districting.target import Target

PENALTY = 1_000.0  # cost of one unit (household) outside the target range
_SMALL = 256  # node sets up to this size are searched in Python


def neighbour_lists(adj: sp.csr_matrix) -> list[np.ndarray]:
    """Per node, the array of its neighbours."""
    return [adj.indices[adj.indptr[i] : adj.indptr[i + 1]] for i in range(adj.shape[0])]


def components(
    adj: sp.csr_matrix, nodes: np.ndarray, nbrs: list[np.ndarray] | None = None
) -> list[np.ndarray]:
    """Connected components (as node arrays) of the subgraph induced by ``nodes``.

    Small groups with ``nbrs`` given are searched in Python; large ones with scipy.
    """
    if len(nodes) <= 1:
        return [nodes]
    if nbrs is not None and len(nodes) <= _SMALL:
        return _small_components(nodes, nbrs)
    sub = adj[nodes][:, nodes]
    count, labels = connected_components(sub, directed=False)
    if count == 1:
        return [nodes]
    order = np.argsort(labels, kind="stable")
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    return [nodes[part] for part in np.split(order, cuts)]


def _small_components(nodes: np.ndarray, nbrs: list[np.ndarray]) -> list[np.ndarray]:
    """Components of a small node set by breadth-first search."""
    left = {int(x) for x in nodes}
    out = []
    while left:
        start = left.pop()
        seen = [start]
        queue = deque([start])
        while queue:
            node = queue.popleft()
            for other in nbrs[node]:
                other = int(other)
                if other in left:
                    left.discard(other)
                    seen.append(other)
                    queue.append(other)
        out.append(np.array(sorted(seen), dtype=np.int64))
    return out


def label_pieces(adj: sp.csr_matrix, labels: np.ndarray) -> np.ndarray:
    """Number of connected pieces of every label (index = label), over edges within labels."""
    coo = adj.tocoo()
    same = labels[coo.row] == labels[coo.col]
    n = len(labels)
    inner = sp.coo_matrix((np.ones(int(same.sum())), (coo.row[same], coo.col[same])), shape=(n, n))
    _, comp = connected_components(inner, directed=False)
    pairs = np.unique(np.column_stack([labels, comp]), axis=0)
    return np.bincount(pairs[:, 0], minlength=int(labels.max()) + 1)


def connected(members: set[int], nbrs: list[np.ndarray]) -> bool:
    """True when ``members`` form one connected group (empty counts as connected)."""
    if len(members) <= 1:
        return True
    start = next(iter(members))
    seen = {start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for other in nbrs[node]:
            other = int(other)
            if other in members and other not in seen:
                seen.add(other)
                queue.append(other)
    return len(seen) == len(members)


def violation(total: float, target: Target) -> float:
    """How far ``total`` lies outside the target range (0 inside)."""
    return max(0.0, target.minimum - total) + max(0.0, total - target.maximum)


def choose_parts(total: float, nodes: int, target: Target) -> int:
    """Number of cells for a connected group of ``total`` weight and ``nodes`` buildings."""
    if total <= 0 or nodes <= 1:
        return 1
    low = max(1, math.ceil(total / target.maximum)) if target.maximum > 0 else nodes
    high = int(total // target.minimum) if target.minimum > 0 else nodes
    if low <= high:
        k = min(max(round(total / target.middle), low), high)
    else:
        options = {max(1, high), low}
        k = min(options, key=lambda c: (c * violation(total / c, target), c))
    return int(min(k, nodes))


def bisect(
    nodes: np.ndarray,
    k: int,
    xy: np.ndarray,
    w: np.ndarray,
    adj: sp.csr_matrix,
    target: Target,
    nbrs: list[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Split ``nodes`` into ``k`` compact, mostly contiguous groups by recursive bisection.

    Each step cuts along the principal axis at the position that best lets
    both sides meet ``k1`` and ``k2`` target ranges, then hands cut-off
    fragments of a side to the other side.
    """
    k = int(min(k, len(nodes)))
    if k <= 1:
        return [nodes]
    k1 = k // 2
    k2 = k - k1
    pts = xy[nodes]
    centred = pts - pts.mean(axis=0)
    if len(nodes) > 2 and np.ptp(centred, axis=0).max() > 0:
        axis = np.linalg.svd(centred, full_matrices=False)[2][0]
    else:
        axis = np.array([1.0, 0.0])
    order = nodes[np.argsort(centred @ axis, kind="stable")]
    cw = np.cumsum(w[order])[:-1].astype(float)
    total = float(w[nodes].sum())
    right = total - cw
    viol = (
        np.maximum(0, k1 * target.minimum - cw)
        + np.maximum(0, cw - k1 * target.maximum)
        + np.maximum(0, k2 * target.minimum - right)
        + np.maximum(0, right - k2 * target.maximum)
    )
    # a side may not hold fewer buildings than the cells it must make
    pos = np.arange(1, len(order))
    viol = viol + PENALTY * ((pos < k1) | (len(order) - pos < k2))
    desired = total * k1 / k
    cut = int(np.lexsort((np.abs(cw - desired), viol))[0]) + 1
    if nbrs is None:
        nbrs = neighbour_lists(adj)
    left, rest = _settle(order[:cut], order[cut:], adj, nbrs)
    if len(left) < k1 or len(rest) < k2:
        left, rest = order[:cut], order[cut:]
    return bisect(left, k1, xy, w, adj, target, nbrs) + bisect(rest, k2, xy, w, adj, target, nbrs)


def _settle(
    left: np.ndarray, right: np.ndarray, adj: sp.csr_matrix, nbrs: list[np.ndarray]
) -> tuple[np.ndarray, ...]:
    """Move fragments cut off from each side's main part to the other side (twice at most)."""
    for _ in range(2):
        moved = False
        for side in (0, 1):
            mine, other = (left, right) if side == 0 else (right, left)
            parts = components(adj, mine, nbrs)
            if len(parts) == 1:
                continue
            main = max(parts, key=len)
            extra = np.concatenate([p for p in parts if p is not main])
            mine, other = main, np.concatenate([other, extra])
            left, right = (mine, other) if side == 0 else (other, mine)
            moved = True
        if not moved:
            break
    return left, right


def repair_contiguity(
    labels: np.ndarray, w: np.ndarray, adj: sp.csr_matrix, fixed: np.ndarray
) -> np.ndarray:
    """Give every cut-off fragment of a cell to the lightest neighbouring cell it touches."""
    labels = labels.copy()
    nbrs = neighbour_lists(adj)
    for _ in range(3):
        changed = False
        sums = np.bincount(labels, weights=w, minlength=labels.max() + 1)
        pieces = label_pieces(adj, labels)
        held = np.bincount(labels, weights=fixed, minlength=len(sums)) > 0
        for cell in np.flatnonzero(pieces > 1):
            nodes = np.flatnonzero(labels == cell)
            parts = components(adj, nodes, nbrs)
            if len(parts) == 1:
                continue
            main = max(parts, key=lambda p: (w[p].sum(), len(p)))
            for part in parts:
                if part is main or fixed[part].any():
                    continue
                touching = {int(labels[o]) for n in part for o in nbrs[n]} - {int(cell)}
                touching = {c for c in touching if not held[c]}
                if not touching:
                    continue
                dest = min(touching, key=lambda c: sums[c])
                labels[part] = dest
                sums[dest] += w[part].sum()
                sums[cell] -= w[part].sum()
                changed = True
        if not changed:
            break
    return labels


def local_search(
    labels: np.ndarray,
    w: np.ndarray,
    adj: sp.csr_matrix,
    target: Target,
    *,
    fixed: np.ndarray,
    balance: bool = True,
    original: np.ndarray | None = None,
    change_cost: np.ndarray | None = None,
    max_rounds: int = 50,
) -> np.ndarray:
    """Move and swap boundary buildings between neighbouring cells while it pays.

    The cost of a cell of weight ``s`` is ``PENALTY * violation(s)`` plus, when
    ``balance``, ``(s - target.middle) ** 2``; with ``original`` each building
    away from its original cell adds ``change_cost`` (its households). Moves
    keep both cells non-empty and contiguous; ``fixed`` buildings never move.
    """
    labels = labels.copy()
    nbrs = neighbour_lists(adj)
    ncell = int(labels.max()) + 1
    sums = np.bincount(labels, weights=w, minlength=ncell).astype(float).tolist()
    members: list[set[int]] = [set() for _ in range(ncell)]
    for node, cell in enumerate(labels):
        members[cell].add(node)
    lo, hi, mid = float(target.minimum), float(target.maximum), target.middle
    coo = sp.triu(adj, k=1).tocoo()
    eu, ev = coo.row.astype(np.int64), coo.col.astype(np.int64)
    movable = ~(fixed[eu] | fixed[ev])
    eu, ev = eu[movable], ev[movable]

    def cost(s: np.ndarray | float):
        s = np.asarray(s, dtype=float)
        out = PENALTY * (np.maximum(0, lo - s) + np.maximum(0, s - hi))
        return out + (s - mid) ** 2 if balance else out

    def cost1(s: float) -> float:
        out = PENALTY * (max(0.0, lo - s) + max(0.0, s - hi))
        return out + (s - mid) ** 2 if balance else out

    def stay(node: int, cell: int) -> float:
        if original is None:
            return 0.0
        return 0.0 if original[node] == cell else float(change_cost[node])

    for _ in range(max_rounds):
        la, lb = labels[eu], labels[ev]
        cut = la != lb
        u, v, a, b = eu[cut], ev[cut], la[cut], lb[cut]
        if len(u) == 0:
            break
        # candidate moves in both directions and swaps, scored with the current sums
        src = np.concatenate([u, v])
        frm = np.concatenate([a, b])
        to = np.concatenate([b, a])
        wu = w[src]
        arr = np.asarray(sums)
        gain = cost(arr[frm] - wu) + cost(arr[to] + wu) - cost(arr[frm]) - cost(arr[to])
        swap_delta = w[v] - w[u]
        sgain = cost(arr[a] + swap_delta) + cost(arr[b] - swap_delta) - cost(arr[a]) - cost(arr[b])
        candidates = [(float(g), 0, int(s), int(t)) for g, s, t in zip(gain, src, to, strict=True)]
        candidates += [(float(g), 1, int(x), int(y)) for g, x, y in zip(sgain, u, v, strict=True)]
        candidates = [c for c in candidates if c[0] < -1e-9 or original is not None]
        candidates.sort()
        applied = 0
        for _gain, kind, x, y in candidates:
            if kind == 0:
                node, dest = x, y
                home = int(labels[node])
                if home == dest or len(members[home]) <= 1:
                    continue
                if not any(labels[o] == dest for o in nbrs[node]):
                    continue
                wn = float(w[node])
                delta = cost1(sums[home] - wn) + cost1(sums[dest] + wn)
                delta -= cost1(sums[home]) + cost1(sums[dest])
                delta += stay(node, dest) - stay(node, home)
                if delta >= -1e-9:
                    continue
                members[home].discard(node)
                if not connected(members[home], nbrs):
                    members[home].add(node)
                    continue
                members[dest].add(node)
                labels[node] = dest
                sums[home] -= wn
                sums[dest] += wn
            else:
                ca, cb = int(labels[x]), int(labels[y])
                if ca == cb:
                    continue
                d = float(w[y] - w[x])
                delta = cost1(sums[ca] + d) + cost1(sums[cb] - d)
                delta -= cost1(sums[ca]) + cost1(sums[cb])
                delta += stay(x, cb) - stay(x, ca) + stay(y, ca) - stay(y, cb)
                if delta >= -1e-9:
                    continue
                new_a = (members[ca] - {x}) | {y}
                new_b = (members[cb] - {y}) | {x}
                if not (connected(new_a, nbrs) and connected(new_b, nbrs)):
                    continue
                members[ca], members[cb] = new_a, new_b
                labels[x], labels[y] = cb, ca
                sums[ca] += d
                sums[cb] -= d
            applied += 1
        if applied == 0:
            break
    return labels


def regrow(
    labels: np.ndarray,
    w: np.ndarray,
    adj: sp.csr_matrix,
    xy: np.ndarray,
    target: Target,
    *,
    fixed: np.ndarray,
    rng: np.random.Generator,
    tries: int = 30,
    passes: int = 4,
    budget_s: float = 2.5,
) -> np.ndarray:
    """Large-neighbourhood repair: regrow each out-of-range cell together with its neighbours.

    For every cell outside the range, the cell and the cells it touches are
    dissolved and regrown ``tries`` times from random spread-out seeds (the
    lightest region takes its best-fitting free neighbour next), with the same,
    one fewer or one more cells; the best regrowth replaces them when it lowers
    the total cost. Up to ``passes`` sweeps, stopping after ``budget_s`` seconds.
    """
    labels = labels.copy()
    nbrs = neighbour_lists(adj)
    room = int(labels.max()) + 1 + len(labels)
    sums = np.zeros(room)
    sums[: labels.max() + 1] = np.bincount(labels, weights=w)
    held = np.zeros(room, dtype=bool)
    held[np.unique(labels[fixed])] = True
    members: dict[int, set[int]] = {}
    for node, cell in enumerate(labels.tolist()):
        members.setdefault(cell, set()).add(node)
    spare = list(range(int(labels.max()) + 1, room))[::-1]
    lo, hi, mid = target.minimum, target.maximum, target.middle

    def cost(s: float) -> float:
        return PENALTY * (max(0.0, lo - s) + max(0.0, s - hi)) + (s - mid) ** 2

    start = time.perf_counter()
    for step in range(passes):
        improved = 0
        for cell in np.argsort(-np.abs(sums - mid)).tolist():
            if time.perf_counter() - start > budget_s:
                break
            if held[cell] or cell not in members or violation(sums[cell], target) == 0:
                continue
            region = {cell}
            for _ in range(1 + step % 2):
                region |= {
                    int(labels[o])
                    for c in region
                    for n in members[c]
                    for o in nbrs[n]
                    if not held[labels[o]]
                }
            nodes = [n for c in region for n in members[c]]
            best, best_cost = None, sum(cost(sums[c]) for c in region) - 1e-9
            for _ in range(tries):
                k = len(region) + int(rng.choice((0, 0, -1, 1)))
                if not 1 <= k <= len(nodes):
                    continue
                groups = _grow(nodes, k, w, xy, nbrs, rng, mid, hi - lo)
                if groups is None:
                    continue
                total = sum(cost(float(w[g].sum())) for g in groups)
                if total < best_cost:
                    best, best_cost = groups, total
            if best is None:
                continue
            free = sorted(region)
            for c in free:
                members.pop(c)
                sums[c] = 0.0
            while len(free) < len(best):
                free.append(spare.pop())
            spare.extend(free[len(best) :])
            for lab, group in zip(free, best, strict=False):
                labels[group] = lab
                members[lab] = set(group)
                sums[lab] = float(w[group].sum())
            improved += 1
        if (not improved and step % 2 == 1) or time.perf_counter() - start > budget_s:
            break
    return labels


def _grow(nodes, k, w, xy, nbrs, rng, mid, noise) -> list[list[int]] | None:
    """Grow ``k`` contiguous groups over ``nodes`` from spread-out random seeds, or None."""
    pool = set(nodes)
    arr = np.asarray(nodes)
    seeds = [int(rng.choice(arr))]
    dist = np.hypot(*(xy[arr] - xy[seeds[0]]).T)
    while len(seeds) < k:
        far = np.argsort(-dist)[: max(1, len(arr) // (2 * k))]
        pick = int(arr[rng.choice(far)])
        if pick in seeds:
            return None
        seeds.append(pick)
        dist = np.minimum(dist, np.hypot(*(xy[arr] - xy[pick]).T))
    owner = dict.fromkeys(seeds)
    groups = [[s] for s in seeds]
    totals = [float(w[s]) for s in seeds]
    for g, s in enumerate(seeds):
        owner[s] = g
    open_groups = set(range(k))
    while len(owner) < len(pool) and open_groups:
        g = min(open_groups, key=lambda x: totals[x])
        frontier = {int(o) for n in groups[g] for o in nbrs[n] if o in pool and o not in owner}
        if not frontier:
            open_groups.discard(g)
            continue
        cands = sorted(frontier)
        fit = np.array([abs(totals[g] + w[c] - mid) for c in cands])
        fit = fit + rng.random(len(cands)) * noise
        pick = cands[int(np.argmin(fit))]
        owner[pick] = g
        groups[g].append(pick)
        totals[g] += float(w[pick])
    if len(owner) < len(pool):
        return None
    return groups
