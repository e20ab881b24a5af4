"""The cordon as a minimum s-t cut: the contracted graph, built once and solved per price."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import igraph
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import breadth_first_order, dijkstra

from mapserver.network.graph import arc_matrix

SOURCE, SINK = 0, 1


def open_csr(n: int, u: np.ndarray, v: np.ndarray, weight: np.ndarray) -> csr_matrix:
    """Symmetric sparse matrix of the given edges: the road graph's arc matrix with each
    edge both ways (parallel edges keep the least weight)."""
    both_u = np.concatenate([u, v])
    both_v = np.concatenate([v, u])
    return arc_matrix(both_u, both_v, np.concatenate([weight, weight]).astype(float), n)


def within(n: int, u, v, length_m, sources: np.ndarray, limit_m: float) -> np.ndarray:
    """Mask of nodes within ``limit_m`` metres (network, undirected) of any source node."""
    graph = open_csr(n + 1, np.concatenate([u, np.full(len(sources), n)]),
                     np.concatenate([v, sources]),
                     np.concatenate([length_m, np.zeros(len(sources))]))  # fmt: skip
    dist = dijkstra(graph, directed=False, indices=n, limit=limit_m + 1e-9)
    return np.isfinite(dist[:n])


def reachable(
    n: int, src: np.ndarray, dst: np.ndarray, start: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Breadth-first search from a set of nodes along directed arcs ``src -> dst``.

    Returns the reached mask and, per node, its predecessor (``n`` at the start
    nodes, the virtual start; negative where unreached).
    """
    rows = np.concatenate([src, np.full(len(start), n)])
    cols = np.concatenate([dst, start])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n + 1, n + 1)).tocsr()
    order, pred = breadth_first_order(graph, n, directed=True, return_predecessors=True)
    reached = np.zeros(n + 1, dtype=bool)
    reached[order] = True
    return reached[:n], pred[:n]


@dataclass
class CutGraph:
    """Inside nodes merged into the source, nodes beyond the allowed region into the sink.

    Optional nodes keep their own vertex and an edge to the sink priced per household.
    """

    graph: igraph.Graph
    base: np.ndarray  # capacity of every graph edge at household price 0
    edge_of: np.ndarray  # original edge position per road graph edge (-1: household edge)
    households: np.ndarray  # per household edge, households at that optional node
    optional: np.ndarray  # original node positions of the optional vertices (vertex 2 + i)
    ends: np.ndarray  # (m, 2) graph vertices of every graph edge as igraph stores them

    @classmethod
    def build(
        cls,
        n: int,
        u: np.ndarray,
        v: np.ndarray,
        cost: np.ndarray,
        inside: np.ndarray,
        optional: np.ndarray,
        households: np.ndarray,
    ) -> CutGraph:
        """Contract and build; ``u``, ``v``, ``cost`` are the open edges' (positions, cost)."""
        vertex = np.full(n, SINK, dtype=np.int64)
        opt = np.flatnonzero(optional & ~inside)
        vertex[opt] = 2 + np.arange(len(opt))
        vertex[inside] = SOURCE
        a, b = vertex[u], vertex[v]
        keep = np.flatnonzero(a != b)
        hh = households[opt]
        with_hh = np.flatnonzero(hh > 0)
        src = np.concatenate([a[keep], 2 + with_hh])
        dst = np.concatenate([b[keep], np.full(len(with_hh), SINK)])
        graph = igraph.Graph(n=2 + len(opt), edges=np.column_stack([src, dst]).tolist())
        return cls(
            graph=graph,
            base=np.concatenate([cost[keep], np.zeros(len(with_hh))]).astype(float),
            edge_of=np.concatenate([keep, np.full(len(with_hh), -1)]),
            households=np.concatenate([np.zeros(len(keep)), hh[with_hh]]).astype(float),
            optional=opt,
            ends=np.asarray(graph.get_edgelist(), dtype=np.int64).reshape(-1, 2),
        )

    def solve(self, household_cost: float) -> tuple[np.ndarray, float]:
        """Minimum cut at one price per enclosed household.

        Returns the mask of graph vertices on the source side (the smallest such
        side among minimum cuts: vertices reachable in the residual graph) and the
        cut value (placement costs plus priced households).
        """
        cap = self.base + household_cost * self.households
        nv = self.graph.vcount()
        if len(cap) == 0:
            side = np.zeros(nv, dtype=bool)
            side[SOURCE] = True
            return side, 0.0
        flow = self.graph.maxflow(SOURCE, SINK, capacity=cap.tolist())
        f = np.asarray(flow.flow, dtype=float)
        eps = 1e-9 * max(1.0, float(cap.max()))
        a, b = self.ends[:, 0], self.ends[:, 1]
        fwd = cap - f > eps
        bwd = cap + f > eps
        src = np.concatenate([a[fwd], b[bwd]])
        dst = np.concatenate([b[fwd], a[bwd]])
        res = coo_matrix((np.ones(len(src)), (src, dst)), shape=(nv, nv)).tocsr()
        order = breadth_first_order(res, SOURCE, directed=True, return_predecessors=False)
        side = np.zeros(nv, dtype=bool)
        side[order] = True
        return side, float(flow.value)

    def cut_edges(self, side: np.ndarray) -> np.ndarray:
        """Original edge positions cut by a source side."""
        road = self.edge_of >= 0
        crosses = side[self.ends[:, 0]] != side[self.ends[:, 1]]
        return np.sort(self.edge_of[road & crosses])

    def enclosed_optional(self, side: np.ndarray) -> np.ndarray:
        """Original node positions of optional nodes on the source side."""
        return self.optional[side[2:]]


def households_at(index: pd.Index, buildings: gpd.GeoDataFrame | None) -> np.ndarray:
    """Households per road node, summed over buildings by their ``gate_node``."""
    out = np.zeros(len(index), dtype=float)
    if buildings is None or len(buildings) == 0:
        return out
    hh = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy(float)
    pos = index.get_indexer(buildings["gate_node"].astype(str))
    np.add.at(out, pos[pos >= 0], hh[pos >= 0])
    return out
