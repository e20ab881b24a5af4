"""Hand edits of an assignment: move, split, merge, draw; each returns a new assignment."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import geopandas as gpd
import numpy as np
import shapely

from mapserver.crs import metric_crs
from mapserver.districting import _regions as rg
from mapserver.districting._common import building_ids, building_points, measure_of
from mapserver.districting.adjacency import building_adjacency
from mapserver.districting.boundaries import pts_4326
from mapserver.districting.target import Target


def move_buildings(
    assignment: Mapping[str, str], building_ids: Iterable[str], to_cell: str
) -> dict[str, str]:
    """Return a copy of ``assignment`` with ``building_ids`` moved to ``to_cell``.

    Unknown building ids are an error naming the first of them.
    """
    out = dict(assignment)
    for bid in building_ids:
        if bid not in out:
            msg = f"building {bid} is not in the plan"
            raise KeyError(msg)
        out[bid] = str(to_cell)
    return out


def split_cell(
    assignment: Mapping[str, str],
    buildings: gpd.GeoDataFrame,
    cell_id: str,
    *,
    parts: int = 2,
    new_ids: Sequence[str] | None = None,
    measure: str = "households",
    parent=None,
) -> dict[str, str]:
    """Split one cell into ``parts`` balanced, contiguous cells along its principal axis.

    Parameters
    ----------
    assignment
        building_id -> cell id.
    buildings
        GeoDataFrame with ``building_id``, ``measure`` and geometry (EPSG:4326):
        the parent's buildings, so that neighbours are those of the plan.
    cell_id
        The cell to split; it must hold at least ``parts`` buildings.
    parts
        Number of cells to make.
    new_ids
        Ids of the parts, in order along the axis; default: the first keeps
        ``cell_id``, the others get ``f"{cell_id}-2"``, ``f"{cell_id}-3"``...
    measure
        Column balanced between the parts.
    parent
        The parent polygon (EPSG:4326) neighbours are clipped to, as in
        :func:`~mapserver.districting.partition.propose_partition`.

    Returns
    -------
    dict
        The new assignment.
    """
    members = [b for b, c in assignment.items() if c == cell_id]
    if len(members) < parts:
        msg = f"grid {cell_id} holds {len(members)} buildings; cannot split it in {parts}"
        raise ValueError(msg)
    if new_ids is None:
        new_ids = [cell_id] + [f"{cell_id}-{j}" for j in range(2, parts + 1)]
    if len(new_ids) != parts:
        msg = f"split of {cell_id} in {parts} needs {parts} new ids, got {len(new_ids)}"
        raise ValueError(msg)
    clash = set(new_ids) & (set(assignment.values()) - {cell_id})
    if clash:
        msg = f"new grid id {sorted(clash)[0]} is already in use"
        raise ValueError(msg)
    ids = building_ids(buildings)
    nodes = np.flatnonzero(np.isin(ids, members))
    if len(nodes) != len(members):
        missing = sorted(set(members) - set(ids[nodes].tolist()))[0]
        msg = f"building {missing} of grid {cell_id} is not in the buildings layer"
        raise ValueError(msg)
    w = measure_of(buildings, measure)
    xy = building_points(buildings, metric_crs(buildings))
    adj = building_adjacency(buildings, parent)
    total = float(w[nodes].sum())
    loose = Target(0, max(1, int(np.ceil(total / parts))), measure)
    groups = rg.bisect(nodes, parts, xy, w, adj, loose)
    out = dict(assignment)
    for new_id, group in zip(new_ids, groups, strict=True):
        for bid in ids[group]:
            out[str(bid)] = str(new_id)
    return out


def merge_cells(assignment: Mapping[str, str], keep: str, remove: str) -> dict[str, str]:
    """Return a copy with every building of cell ``remove`` moved into cell ``keep``."""
    if keep == remove:
        msg = f"cannot merge grid {keep} with itself"
        raise ValueError(msg)
    return {b: (keep if c == remove else c) for b, c in assignment.items()}


def assign_by_polygon(
    assignment: Mapping[str, str], buildings: gpd.GeoDataFrame, polygon, cell_id: str
) -> dict[str, str]:
    """A hand-drawn boundary: buildings whose representative point is inside go to ``cell_id``.

    ``polygon`` is a shapely (Multi)Polygon in EPSG:4326; only buildings in the
    assignment move.
    """
    pts = pts_4326(buildings)
    inside = shapely.contains(polygon, pts)
    ids = buildings["building_id"].astype(str).to_numpy()[inside]
    return move_buildings(assignment, [b for b in ids if b in assignment], cell_id)


def diff_assignments(
    old: Mapping[str, str], new: Mapping[str, str], buildings: gpd.GeoDataFrame
) -> list[tuple[str, str | None, str | None, int]]:
    """Buildings whose cell differs: ``(building_id, from, to, households)``, by building id.

    A building missing from one side has None there; households come from
    ``buildings`` (0 when the building is not there).
    """
    households = dict(
        zip(
            buildings["building_id"].astype(str),
            measure_of(buildings, "households").tolist(),
            strict=True,
        )
    )
    out = []
    for bid in sorted(set(old) | set(new)):
        a, b = old.get(bid), new.get(bid)
        if a != b:
            out.append((bid, a, b, int(households.get(bid, 0))))
    return out


def keep_old_names(
    new: Mapping[str, str], old: Mapping[str, str], weights: Mapping[str, int]
) -> dict[str, str]:
    """``new`` with each of its cells named after the old cell whose buildings it holds
    most of (by ``weights``: households per building, at least 1 each), one old name per
    new cell, chosen so that the most households keep their cell (an optimal assignment,
    not a greedy one). A new cell that overlaps no old cell left keeps its own id (made
    distinct from every old one)."""
    from scipy.optimize import linear_sum_assignment

    new_cells = sorted(set(new.values()))
    old_cells = sorted(set(old.values()))
    if not new_cells or not old_cells:
        return dict(new)
    row = {c: i for i, c in enumerate(new_cells)}
    col = {c: j for j, c in enumerate(old_cells)}
    overlap = np.zeros((len(new_cells), len(old_cells)))
    for building, cell in new.items():
        before = old.get(building)
        if before is not None:
            overlap[row[cell], col[before]] += max(int(weights.get(building, 0)), 1)
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    names = {
        new_cells[i]: old_cells[j] for i, j in zip(rows, cols, strict=True) if overlap[i, j] > 0
    }
    taken = set(old_cells)
    for cell in new_cells:
        if cell in names:
            continue
        fresh, k = cell, 1
        while fresh in taken:  # an unmatched new cell must not take an old cell's id
            fresh, k = f"{cell}-{k}", k + 1
        names[cell] = fresh
        taken.add(fresh)
    return {building: names[cell] for building, cell in new.items()}
