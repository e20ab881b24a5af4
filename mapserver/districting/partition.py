"""Automatic micro-grid proposals: contiguous, compact, balanced cells of whole buildings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from mapserver.districting import _regions as rg
from mapserver.districting._common import (
    building_ids,
    building_points,
    measure_of,
    metric_crs_of,
    to_metric_geom,
)
from mapserver.districting.adjacency import ORDINARY, building_adjacency
from mapserver.districting.target import MICRO, Target


@dataclass(frozen=True)
class Cell:
    """One proposed grid: its totals, its buildings, and whether it is in range and in one piece."""

    cell_id: str
    households: int
    residents: int
    buildings: tuple[str, ...]
    within_target: bool
    contiguous: bool


@dataclass(frozen=True)
class PlanException:
    """Something the plan could not do as asked, in words a planner can act on."""

    subject: str
    reason: str


@dataclass(frozen=True)
class Partition:
    """A proposal: building -> cell, the cells, the exceptions and the households moved."""

    assignment: dict[str, str]
    cells: tuple[Cell, ...]
    exceptions: tuple[PlanException, ...]
    changed_households: int
    target: Target = MICRO

    def to_frame(self) -> pd.DataFrame:
        """One row per cell: cell_id, households, residents, buildings (count), flags."""
        return pd.DataFrame(
            {
                "cell_id": [c.cell_id for c in self.cells],
                "households": [c.households for c in self.cells],
                "residents": [c.residents for c in self.cells],
                "buildings": [len(c.buildings) for c in self.cells],
                "within_target": [c.within_target for c in self.cells],
                "contiguous": [c.contiguous for c in self.cells],
            }
        )

    def summary(self) -> dict[str, float]:
        """Count, min, max, population std of the target measure per cell, share within target."""
        key = self.target.measure
        values = np.array([getattr(c, key) for c in self.cells], dtype=float)
        if len(values) == 0:
            return {"count": 0, "min": 0.0, "max": 0.0, "std": 0.0, "within_target": 0.0}
        return {
            "count": len(values),
            "min": float(values.min()),
            "max": float(values.max()),
            "std": float(values.std()),
            "within_target": float(np.mean([c.within_target for c in self.cells])),
        }


def propose_partition(
    buildings: gpd.GeoDataFrame,
    parent,
    *,
    target: Target = MICRO,
    barriers=None,
    current: Mapping[str, str] | None = None,
    seed: int = 0,
    id_prefix: str | None = None,
) -> Partition:
    """Partition a parent grid's buildings into contiguous cells that meet a target range.

    Fresh proposals cut each connected group of buildings (neighbours from
    :func:`~mapserver.districting.adjacency.building_adjacency`, not across
    ``barriers`` unless nothing else joins a group) into the number of cells
    its total allows, by recursive bisection along principal axes (compact
    cells), then move and swap boundary buildings between neighbouring cells
    to bring every cell into range and balance them, keeping each contiguous.
    A building over the maximum is kept whole in its own cell and listed as
    an exception.

    With ``current``, buildings keep their cells; only cells out of range are
    repaired, by moving the fewest households across cell boundaries (cells
    that cannot be repaired that way are split or merged), and
    ``changed_households`` counts the households that change cell.

    Parameters
    ----------
    buildings
        GeoDataFrame in EPSG:4326 with ``building_id``, ``households``,
        ``residents`` and footprints or points.
    parent
        The parent grid, a shapely (Multi)Polygon in EPSG:4326.
    target
        Range per cell, in households or residents.
    barriers
        Lines in EPSG:4326 not to cross (main roads, water), e.g.
        ``adjacency.barrier_lines(road_edges)``.
    current
        building_id -> current cell id, for re-planning.
    seed
        Seed of the random regrowth of out-of-range cells; the same seed gives
        the same proposal.
    id_prefix
        New cell ids are ``f"{id_prefix}{n:02d}"``; default ``"M"``.

    Returns
    -------
    Partition
        Every building in exactly one cell.
    """
    ids = building_ids(buildings)
    n = len(ids)
    prefix = "M" if id_prefix is None else id_prefix
    if n == 0:
        return Partition({}, (), (), 0, target)
    w = measure_of(buildings, target.measure)
    households = measure_of(buildings, "households")
    residents = measure_of(buildings, "residents")
    adj = building_adjacency(
        buildings, parent, barriers=barriers, weights=w, min_component=target.minimum
    )
    crs = metric_crs_of(parent, buildings)
    xy = building_points(buildings, crs)
    fixed = w > target.maximum
    if current is None:
        labels = _fresh(np.arange(n), xy, w, adj, target, fixed, seed)
        labels = _order_cells(labels, xy)
        cell_ids = _new_ids(prefix, int(labels.max()) + 1, set())
        changed = 0
    else:
        labels, cell_ids, original = _replan(ids, current, xy, w, adj, target, fixed, seed)
        labels = rg.local_search(
            labels, w, adj, target, fixed=fixed, balance=False,
            original=original, change_cost=households,
        )  # fmt: skip
        labels, cell_ids = _split_merge(labels, cell_ids, xy, w, adj, target, fixed, prefix)
        labels = rg.local_search(
            labels, w, adj, target, fixed=fixed, balance=False,
            original=original, change_cost=households,
        )  # fmt: skip
        labels, cell_ids = _compact(labels, cell_ids)
        had = np.array([i in current for i in ids])
        old = np.array([str(current.get(i, "")) for i in ids], dtype=object)
        new = np.asarray(cell_ids, dtype=object)[labels]
        changed = int(households[had & (old != new)].sum())
    outside = _outside(parent, crs, xy)
    return _result(
        ids, labels, cell_ids, w, households, residents, adj, target, fixed, outside, changed
    )


def _fresh(nodes, xy, w, adj, target, fixed, seed: int = 0) -> np.ndarray:
    """Labels of a fresh proposal for ``nodes`` (all buildings), 0..k-1."""
    n = len(w)
    labels = np.full(n, -1, dtype=np.int64)
    nxt = 0
    free = nodes[~fixed[nodes]]
    for comp in rg.components(adj, free):
        k = rg.choose_parts(float(w[comp].sum()), len(comp), target)
        for group in rg.bisect(comp, k, xy, w, adj, target):
            labels[group] = nxt
            nxt += 1
    for node in nodes[fixed[nodes]]:
        labels[node] = nxt
        nxt += 1
    labels = rg.repair_contiguity(labels, w, adj, fixed)
    labels = rg.local_search(labels, w, adj, target, fixed=fixed, balance=True)
    rng = np.random.default_rng(seed)
    labels = rg.regrow(labels, w, adj, xy, target, fixed=fixed, rng=rng)
    labels = rg.local_search(_relabel(labels), w, adj, target, fixed=fixed, balance=True)
    labels = _merge_small(labels, w, adj, target, fixed)
    return _relabel(labels)


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Renumber labels 0..k-1 in order of first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))
    return rank[inverse.ravel()]


def _merge_small(labels, w, adj, target, fixed) -> np.ndarray:
    """Merge each cell under the minimum into a touching cell when the sum stays in range."""
    labels = labels.copy()
    nbrs = rg.neighbour_lists(adj)
    sums = np.bincount(labels, weights=w).astype(float)
    held = np.bincount(labels, weights=fixed, minlength=len(sums)) > 0
    for cell in np.argsort(sums):
        if sums[cell] >= target.minimum:
            continue
        nodes = np.flatnonzero(labels == cell)
        if len(nodes) == 0 or fixed[nodes].any():
            continue
        touching = {int(labels[o]) for i in nodes for o in nbrs[i]} - {int(cell)}
        options = [c for c in touching if sums[c] + sums[cell] <= target.maximum and not held[c]]
        if not options:
            continue
        dest = min(options, key=lambda c: sums[c])
        labels[nodes] = dest
        sums[dest] += sums[cell]
        sums[cell] = 0
    return labels


def _order_cells(labels: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Renumber cells in reading order: serpentine bands from north to south."""
    k = int(labels.max()) + 1
    cx = np.bincount(labels, weights=xy[:, 0], minlength=k) / np.bincount(labels, minlength=k)
    cy = np.bincount(labels, weights=xy[:, 1], minlength=k) / np.bincount(labels, minlength=k)
    span = max(np.ptp(cx), np.ptp(cy), 1.0)
    band = np.floor((cy.max() - cy) / (span / max(1.0, np.sqrt(k)))).astype(int)
    key = np.where(band % 2 == 0, cx, -cx)
    order = np.lexsort((key, band))
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    return rank[labels]


def _new_ids(prefix: str, count: int, used: set[str]) -> list[str]:
    """``count`` ids ``prefix`` + a zero-padded number, skipping those in ``used``."""
    width = max(2, len(str(count + len(used))))
    out, n = [], 1
    while len(out) < count:
        cid = f"{prefix}{n:0{width}d}"
        if cid not in used:
            out.append(cid)
        n += 1
    return out


def _replan(ids, current, xy, w, adj, target, fixed, seed):
    """Start from the current cells; new buildings join the lightest touching cell."""
    n = len(ids)
    cell_ids = sorted({str(current[i]) for i in ids if i in current})
    index = {c: k for k, c in enumerate(cell_ids)}
    labels = np.array([index.get(str(current.get(i, "")), -1) for i in ids], dtype=np.int64)
    original = labels.copy()
    nbrs = rg.neighbour_lists(adj)
    sums = np.bincount(labels[labels >= 0], weights=w[labels >= 0], minlength=len(cell_ids))
    sums = sums.astype(float)
    pending = list(np.flatnonzero(labels < 0))
    while pending:
        progress = []
        for node in pending:
            cells = {int(labels[o]) for o in nbrs[node] if labels[o] >= 0}
            if cells and not fixed[node]:
                dest = min(cells, key=lambda c: sums[c])
                labels[node] = dest
                sums[dest] += w[node]
                progress.append(node)
        if not progress:
            break
        pending = [p for p in pending if labels[p] < 0]
    rest = np.flatnonzero(labels < 0)
    if len(rest):
        sub = adj[rest][:, rest]
        fresh = _fresh(np.arange(len(rest)), xy[rest], w[rest], sub, target, fixed[rest], seed)
        base = len(cell_ids)
        labels[rest] = fresh + base
        cell_ids = cell_ids + [None] * (int(fresh.max()) + 1)
    original[original < 0] = -1
    return labels, cell_ids, np.where(original < 0, n + 10**9, original)


def _split_merge(labels, cell_ids, xy, w, adj, target, fixed, prefix):
    """Split cells still over the maximum after repair moves; merge those under the minimum."""
    cell_ids = list(cell_ids)
    sums = np.bincount(labels, weights=w, minlength=len(cell_ids))
    for cell in np.flatnonzero(sums > target.maximum):
        nodes = np.flatnonzero(labels == cell)
        if len(nodes) <= 1:
            continue
        k = rg.choose_parts(float(w[nodes].sum()), len(nodes), target)
        parts = rg.bisect(nodes, k, xy, w, adj, target)
        parts.sort(key=lambda p: -len(p))
        for part in parts[1:]:
            labels[part] = len(cell_ids)
            cell_ids.append(None)
    labels = _merge_small(labels, w, adj, target, fixed)
    used = {c for c in cell_ids if c is not None}
    fresh = iter(_new_ids(prefix, sum(c is None for c in cell_ids), used))
    cell_ids = [c if c is not None else next(fresh) for c in cell_ids]
    return labels, cell_ids


def _compact(labels, cell_ids):
    """Drop cell ids no building uses and renumber labels to match."""
    used = np.unique(labels)
    remap = np.full(len(cell_ids), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return remap[labels], [cell_ids[u] for u in used]


def _outside(parent, crs, xy) -> np.ndarray:
    """Mask of building points outside the parent (10 cm tolerance)."""
    if parent is None:
        return np.zeros(len(xy), dtype=bool)
    area = to_metric_geom(parent, crs).buffer(0.1)
    shapely.prepare(area)
    return ~shapely.contains_xy(area, xy[:, 0], xy[:, 1])


def _result(ids, labels, cell_ids, w, hh, res, adj, target, fixed, outside, changed) -> Partition:
    """Build the Partition and say why each out-of-range or broken cell is so."""
    ordinary = sp.csr_matrix(adj == ORDINARY)
    pieces = rg.label_pieces(adj, labels)
    ordinary_pieces = rg.label_pieces(ordinary, labels)
    free = np.flatnonzero(~fixed)
    group_of = np.full(len(ids), -1)
    group_total = []
    for g, comp in enumerate(rg.components(adj, free)):
        group_of[comp] = g
        group_total.append(float(w[comp].sum()))
    cells, exceptions = [], []
    unit = target.measure
    order = np.argsort(labels, kind="stable")
    members = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    for label, cid in enumerate(cell_ids):
        nodes = members[label]
        total = int(w[nodes].sum())
        whole = bool(pieces[label] == 1)
        inside = target.contains(total)
        cells.append(
            Cell(
                cid,
                int(hh[nodes].sum()),
                int(res[nodes].sum()),
                tuple(ids[nodes].tolist()),
                inside,
                whole,
            )
        )
        if len(nodes) == 1 and fixed[nodes[0]]:
            exceptions.append(
                PlanException(
                    str(ids[nodes[0]]),
                    f"building {ids[nodes[0]]} has {total} {unit}; maximum is "
                    f"{target.maximum}: kept whole in its own grid {cid}",
                )
            )
            continue
        if not whole:
            exceptions.append(PlanException(cid, f"grid {cid} is not contiguous"))
        elif ordinary_pieces[label] > 1:
            exceptions.append(
                PlanException(
                    cid,
                    f"grid {cid} crosses a main road or water: the buildings on one side are "
                    f"too few for a grid of their own",
                )
            )
        if not inside:
            exceptions.append(
                PlanException(cid, _why(cid, nodes, total, target, group_of, group_total))
            )
    for i in np.flatnonzero(outside):
        exceptions.append(
            PlanException(str(ids[i]), f"building {ids[i]} lies outside the parent grid")
        )
    assignment = {str(i): cell_ids[lab] for i, lab in zip(ids, labels, strict=True)}
    return Partition(assignment, tuple(cells), tuple(exceptions), changed, target)


def _why(cid, nodes, total, target, group_of, group_total) -> str:
    """Reason text for a cell outside the target range."""
    unit = target.measure
    groups = {int(g) for g in group_of[nodes] if g >= 0}
    reach = sum(group_total[g] for g in groups)
    head = f"grid {cid} has {total} {unit}, outside {target.minimum}–{target.maximum}"
    if total < target.minimum and reach < target.minimum:
        return (
            f"{head}: only {int(reach)} {unit} can be reached without crossing a main road, "
            f"water or a building kept whole"
        )
    if total > target.maximum and len(nodes) > 1:
        return f"{head}: its buildings cannot be split into contiguous grids within range"
    return f"{head}: no contiguous regrouping of neighbouring buildings brings it within range"
