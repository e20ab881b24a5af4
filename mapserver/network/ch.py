"""Contraction hierarchies on a road graph: exact many-to-many distances (m) by bucket queries."""

# Nodes are contracted one by one in the order of a lazily updated priority (edge difference
# plus contracted neighbours); a shortcut u->x replaces u->v->x unless a bounded witness
# search finds a path no longer. Limits on that search only add shortcuts, never lose a
# distance, so every answer is exact. A query searches upward from every target (reversed)
# into per-node buckets, then upward from every source, scanning the buckets it settles.

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from mapserver.network.graph import RoadGraph

# Witness searches: settled-node and hop limits when ordering and when contracting.
_SIM_SETTLED, _SIM_HOPS = 40, 6
_SETTLED, _HOPS = 400, 12
_HEAP_CAP = 1 << 16  # a witness search that would overflow stops (adds shortcuts instead)


@dataclass(frozen=True, eq=False)
class ContractionHierarchy:
    """Contraction hierarchy of a :class:`RoadGraph`; lengths in metres.

    ``rank[i]`` is the contraction order of node index ``i``. The upward graph
    (``up_*``, CSR by tail) holds every arc, original or shortcut, toward a
    higher-ranked node; the downward graph (``down_*``, CSR by head) holds every
    arc from a higher-ranked node, listed at its lower-ranked head.
    """

    n_nodes: int
    rank: np.ndarray
    up_indptr: np.ndarray
    up_head: np.ndarray
    up_length: np.ndarray
    down_indptr: np.ndarray
    down_tail: np.ndarray
    down_length: np.ndarray
    n_shortcuts: int


@numba.njit(cache=True)
def _push(hk, hv, size, key, val):
    """Push onto a binary min-heap held in ``hk`` (keys) and ``hv`` (values)."""
    i = size
    while i > 0:
        p = (i - 1) >> 1
        if hk[p] <= key:
            break
        hk[i] = hk[p]
        hv[i] = hv[p]
        i = p
    hk[i] = key
    hv[i] = val
    return size + 1


@numba.njit(cache=True)
def _pop(hk, hv, size):
    """Pop the least key of the heap; returns (key, value, new size)."""
    key, val = hk[0], hv[0]
    size -= 1
    if size > 0:
        k, v = hk[size], hv[size]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= size:
                break
            if c + 1 < size and hk[c + 1] < hk[c]:
                c += 1
            if hk[c] >= k:
                break
            hk[i] = hk[c]
            hv[i] = hv[c]
            i = c
        hk[i] = k
        hv[i] = v
    return key, val, size


@numba.njit(cache=True)
def _witness(start, skip, max_d, max_settled, max_hops, head_out, nxt_out, dst, wt, done, sc):
    """Bounded dijkstra from ``start`` over live nodes, avoiding ``skip``.

    Scratch ``sc`` = (dist, hops, touched, hk, hv); returns how many nodes it touched.
    """
    dist, hops, touched, hk, hv = sc
    dist[start] = 0.0
    hops[start] = 0
    touched[0] = start
    nt = 1
    size = _push(hk, hv, 0, 0.0, start)
    settled = 0
    while size > 0:
        d, y, size = _pop(hk, hv, size)
        if d > dist[y]:
            continue
        if d > max_d or settled >= max_settled:
            break
        settled += 1
        if hops[y] >= max_hops:
            continue
        a = head_out[y]
        while a >= 0:
            x = dst[a]
            if not done[x] and x != skip:
                nd = d + wt[a]
                if nd < dist[x]:
                    if dist[x] == np.inf:
                        touched[nt] = x
                        nt += 1
                    dist[x] = nd
                    hops[x] = hops[y] + 1
                    if size >= len(hk):
                        return nt
                    size = _push(hk, hv, size, nd, x)
            a = nxt_out[a]
    return nt


@numba.njit(cache=True)
def _shortcuts(
    v, max_settled, max_hops, head_out, nxt_out, head_in, nxt_in, src, dst, wt, done, sc
):
    """Shortcuts that contracting ``v`` needs: (tails, heads, lengths, live in+out degree)."""
    dist = sc[0]
    touched = sc[2]
    n_in = 0
    n_out = 0
    max_out = 0.0
    a = head_out[v]
    while a >= 0:
        if not done[dst[a]]:
            n_out += 1
            max_out = max(max_out, wt[a])
        a = nxt_out[a]
    b = head_in[v]
    while b >= 0:
        if not done[src[b]]:
            n_in += 1
        b = nxt_in[b]
    tails = np.empty(n_in * n_out, dtype=np.int64)
    heads = np.empty(n_in * n_out, dtype=np.int64)
    lengths = np.empty(n_in * n_out)
    k = 0
    b = head_in[v]
    while b >= 0:
        u = src[b]
        if not done[u]:
            w_uv = wt[b]
            nt = _witness(
                u, v, w_uv + max_out, max_settled, max_hops, head_out, nxt_out, dst, wt, done, sc
            )
            a = head_out[v]
            while a >= 0:
                x = dst[a]
                if not done[x] and x != u and dist[x] > w_uv + wt[a]:
                    tails[k] = u
                    heads[k] = x
                    lengths[k] = w_uv + wt[a]
                    k += 1
                a = nxt_out[a]
            for i in range(nt):
                dist[touched[i]] = np.inf
        b = nxt_in[b]
    return tails[:k], heads[:k], lengths[:k], n_in + n_out


@numba.njit(cache=True)
def _grow(arr, cap):
    """A copy of ``arr`` with room for ``cap`` items."""
    out = np.empty(cap, dtype=arr.dtype)
    out[: len(arr)] = arr
    return out


@numba.njit(cache=True)
def _contract(n, tail, head, length):
    """Contract every node; returns (rank, arc tails, arc heads, arc lengths)."""
    m = len(tail)
    cap = max(2 * m, 16)
    src, dst, wt = _grow(tail, cap), _grow(head, cap), _grow(length, cap)
    nxt_out = np.empty(cap, dtype=np.int64)
    nxt_in = np.empty(cap, dtype=np.int64)
    head_out = np.full(n, -1, dtype=np.int64)
    head_in = np.full(n, -1, dtype=np.int64)
    for a in range(m):
        nxt_out[a] = head_out[src[a]]
        head_out[src[a]] = a
        nxt_in[a] = head_in[dst[a]]
        head_in[dst[a]] = a
    n_arcs = m
    done = np.zeros(n, dtype=np.bool_)
    sc = (
        np.full(n, np.inf),
        np.zeros(n, dtype=np.int64),
        np.empty(n, dtype=np.int64),
        np.empty(_HEAP_CAP),
        np.empty(_HEAP_CAP, dtype=np.int64),
    )
    cn = np.zeros(n, dtype=np.int64)
    prio = np.empty(n)
    qk = np.empty(4 * n + 16)
    qv = np.empty(4 * n + 16, dtype=np.int64)
    qs = 0
    for v in range(n):
        t, _, _, deg = _shortcuts(
            v, _SIM_SETTLED, _SIM_HOPS, head_out, nxt_out, head_in, nxt_in, src, dst, wt, done, sc
        )
        prio[v] = len(t) - deg
        qs = _push(qk, qv, qs, prio[v], v)
    rank = np.empty(n, dtype=np.int64)
    mark = np.full(n, -1, dtype=np.int64)
    order = 0
    while qs > 0:
        p, v, qs = _pop(qk, qv, qs)
        if done[v] or p != prio[v]:
            continue
        t, _, _, deg = _shortcuts(
            v, _SIM_SETTLED, _SIM_HOPS, head_out, nxt_out, head_in, nxt_in, src, dst, wt, done, sc
        )
        p = len(t) - deg + cn[v]
        if qs > 0 and p > qk[0]:
            prio[v] = p
            if qs >= len(qk):
                qk, qv = _grow(qk, 2 * len(qk)), _grow(qv, 2 * len(qv))
            qs = _push(qk, qv, qs, p, v)
            continue
        tails, heads, lengths, _ = _shortcuts(
            v, _SETTLED, _HOPS, head_out, nxt_out, head_in, nxt_in, src, dst, wt, done, sc
        )
        for i in range(len(tails)):
            u, x, w = tails[i], heads[i], lengths[i]
            a = head_out[u]
            while a >= 0 and dst[a] != x:
                a = nxt_out[a]
            if a >= 0:
                wt[a] = min(wt[a], w)
                continue
            if n_arcs == len(src):
                cap = 2 * len(src)
                src, dst, wt = _grow(src, cap), _grow(dst, cap), _grow(wt, cap)
                nxt_out, nxt_in = _grow(nxt_out, cap), _grow(nxt_in, cap)
            src[n_arcs], dst[n_arcs], wt[n_arcs] = u, x, w
            nxt_out[n_arcs] = head_out[u]
            head_out[u] = n_arcs
            nxt_in[n_arcs] = head_in[x]
            head_in[x] = n_arcs
            n_arcs += 1
        done[v] = True
        rank[v] = order
        order += 1
        # Neighbours: one more contracted neighbour each, and a fresh priority.
        for side in range(2):
            a = head_out[v] if side == 0 else head_in[v]
            while a >= 0:
                y = dst[a] if side == 0 else src[a]
                if not done[y] and mark[y] != v:
                    mark[y] = v
                    cn[y] += 1
                    t, _, _, deg = _shortcuts(
                        y,
                        _SIM_SETTLED,
                        _SIM_HOPS,
                        head_out,
                        nxt_out,
                        head_in,
                        nxt_in,
                        src,
                        dst,
                        wt,
                        done,
                        sc,
                    )
                    prio[y] = len(t) - deg + cn[y]
                    if qs >= len(qk):
                        qk, qv = _grow(qk, 2 * len(qk)), _grow(qv, 2 * len(qv))
                    qs = _push(qk, qv, qs, prio[y], y)
                a = nxt_out[a] if side == 0 else nxt_in[a]
    return rank, src[:n_arcs].copy(), dst[:n_arcs].copy(), wt[:n_arcs].copy()


def _csr(keys: np.ndarray, other: np.ndarray, w: np.ndarray, n: int):
    """CSR arrays (indptr, neighbour, length) of arcs grouped by ``keys``."""
    order = np.argsort(keys, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=indptr[1:])
    return indptr, other[order].astype(np.int64), w[order].astype(np.float64)


def build_ch(graph: RoadGraph) -> ContractionHierarchy:
    """Contract the directed graph of one travel mode into a hierarchy.

    Parameters
    ----------
    graph
        From :func:`mapserver.network.build_graph`; arc lengths in metres (no CRS
        is involved: the hierarchy works on node indices).

    Returns
    -------
    ContractionHierarchy
        Ready for :func:`ch_matrix`; shortcut lengths are sums of arc lengths (m).
    """
    mat = graph.matrix.tocoo()
    n = graph.n_nodes
    tail = mat.row.astype(np.int64)
    head = mat.col.astype(np.int64)
    length = mat.data.astype(np.float64)
    rank, tail, head, length = _contract(n, tail, head, length)
    up = rank[tail] < rank[head]
    up_indptr, up_head, up_length = _csr(tail[up], head[up], length[up], n)
    down_indptr, down_tail, down_length = _csr(head[~up], tail[~up], length[~up], n)
    return ContractionHierarchy(
        n_nodes=n,
        rank=rank,
        up_indptr=up_indptr,
        up_head=up_head,
        up_length=up_length,
        down_indptr=down_indptr,
        down_tail=down_tail,
        down_length=down_length,
        n_shortcuts=len(tail) - mat.nnz,
    )


@numba.njit(cache=True)
def _upward(start, ptr, nbr, wt, sptr, snbr, swt, sc, out_node, out_dist):
    """Dijkstra from ``start`` over one upward graph, stalling on demand by the other.

    Writes each settled unstalled node and its distance to ``out_*``; returns their count.
    """
    dist, done, touched, hk, hv = sc
    dist[start] = 0.0
    touched[0] = start
    nt = 1
    size = _push(hk, hv, 0, 0.0, start)
    k = 0
    while size > 0:
        d, y, size = _pop(hk, hv, size)
        if done[y]:
            continue
        done[y] = True
        stalled = False
        for a in range(sptr[y], sptr[y + 1]):
            if dist[snbr[a]] + swt[a] < d:
                stalled = True
                break
        if stalled:
            continue
        out_node[k] = y
        out_dist[k] = d
        k += 1
        for a in range(ptr[y], ptr[y + 1]):
            x = nbr[a]
            nd = d + wt[a]
            if nd < dist[x]:
                if dist[x] == np.inf:
                    touched[nt] = x
                    nt += 1
                dist[x] = nd
                size = _push(hk, hv, size, nd, x)
    for i in range(nt):
        dist[touched[i]] = np.inf
        done[touched[i]] = False
    return k


@numba.njit(cache=True)
def _scratch(n, m):
    """Scratch arrays of one upward search over ``n`` nodes and ``m`` arcs."""
    return (
        np.full(n, np.inf),
        np.zeros(n, dtype=np.bool_),
        np.empty(n, dtype=np.int64),
        np.empty(m + 1),
        np.empty(m + 1, dtype=np.int64),
    )


@numba.njit(cache=True)
def _buckets(targets, n, uptr, unbr, uwt, dptr, dnbr, dwt, sc, out_node, out_dist):
    """Backward upward searches from every target: buckets (indptr, column, metres) per node."""
    cap = 16 * len(targets) + 16
    b_node = np.empty(cap, dtype=np.int64)
    b_col = np.empty(cap, dtype=np.int64)
    b_dist = np.empty(cap)
    nb = 0
    for j in range(len(targets)):
        k = _upward(targets[j], dptr, dnbr, dwt, uptr, unbr, uwt, sc, out_node, out_dist)
        if nb + k > len(b_node):
            cap = 2 * (nb + k)
            b_node, b_col, b_dist = _grow(b_node, cap), _grow(b_col, cap), _grow(b_dist, cap)
        for i in range(k):
            b_node[nb], b_col[nb], b_dist[nb] = out_node[i], j, out_dist[i]
            nb += 1
    indptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(nb):
        indptr[b_node[i] + 1] += 1
    for v in range(n):
        indptr[v + 1] += indptr[v]
    fill = indptr[:-1].copy()
    col = np.empty(nb, dtype=np.int64)
    bd = np.empty(nb)
    for i in range(nb):
        p = fill[b_node[i]]
        fill[b_node[i]] += 1
        col[p], bd[p] = b_col[i], b_dist[i]
    return indptr, col, bd


@numba.njit(cache=True)
def _scan(sources, n_targets, n, uptr, unbr, uwt, dptr, dnbr, dwt, bptr, bcol, bdist):
    """Forward upward searches from every source, scanning the buckets they settle."""
    out = np.full((len(sources), n_targets), np.inf)
    sc = _scratch(n, len(unbr))
    out_node = np.empty(n, dtype=np.int64)
    out_dist = np.empty(n)
    for i in range(len(sources)):
        k = _upward(sources[i], uptr, unbr, uwt, dptr, dnbr, dwt, sc, out_node, out_dist)
        row = out[i]
        for q in range(k):
            y, d = out_node[q], out_dist[q]
            for b in range(bptr[y], bptr[y + 1]):
                val = d + bdist[b]
                if val < row[bcol[b]]:
                    row[bcol[b]] = val
    return out


def ch_matrix(ch: ContractionHierarchy, sources_idx, targets_idx) -> np.ndarray:
    """Exact shortest road distances between node indices, by bucket many-to-many queries.

    Parameters
    ----------
    ch
        From :func:`build_ch`.
    sources_idx, targets_idx
        Node indices (positions in ``RoadGraph.node_ids``), repeats allowed.

    Returns
    -------
    numpy.ndarray
        ``(len(sources_idx), len(targets_idx))`` float metres; ``inf`` where unreachable.
    """
    src = np.asarray(sources_idx, dtype=np.int64).reshape(-1)
    tgt = np.asarray(targets_idx, dtype=np.int64).reshape(-1)
    for what, idx in (("source", src), ("target", tgt)):
        bad = idx[(idx < 0) | (idx >= ch.n_nodes)]
        if len(bad):
            msg = f"{what} node index {int(bad[0])} is not in a graph of {ch.n_nodes} nodes"
            raise ValueError(msg)
    if not len(src) or not len(tgt):
        return np.zeros((len(src), len(tgt)))
    n = ch.n_nodes
    up = (ch.up_indptr, ch.up_head, ch.up_length)
    down = (ch.down_indptr, ch.down_tail, ch.down_length)
    sc = _scratch(n, len(ch.down_tail))
    out_node, out_dist = np.empty(n, dtype=np.int64), np.empty(n)
    bptr, bcol, bdist = _buckets(tgt, n, *up, *down, sc, out_node, out_dist)
    return _scan(src, len(tgt), n, *up, *down, bptr, bcol, bdist)
