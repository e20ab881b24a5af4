"""Checks before saving a plan: gaps, overlaps, empty grids, unassigned buildings, targets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from mapserver.districting._common import building_ids, measure_of, metric_crs_of, to_metric_geom
from mapserver.districting.target import MICRO, Target
from mapserver.model import STORAGE_CRS

ISSUE_KINDS: tuple[str, ...] = (
    "gap",
    "overlap",
    "empty",
    "unassigned",
    "outside",
    "target",
    "noncontiguous",
)
AREA_TOLERANCE = 1e-4  # share of the parent's area a gap or overlap may reach (0.01%)


@dataclass(frozen=True)
class PlanIssue:
    """One problem with a plan: its kind (``ISSUE_KINDS``), what it concerns, and the detail."""

    kind: str
    subject: str
    detail: str


def validate_plan(
    parent,
    cells: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    assignment: Mapping[str, str],
    *,
    target: Target = MICRO,
) -> list[PlanIssue]:
    """Every problem that should stop a plan from being saved, or be confirmed first.

    Areas are measured in the local metric CRS; gaps and overlaps under
    ``AREA_TOLERANCE`` of the parent's area (0.01%) are rounding and not reported.

    Parameters
    ----------
    parent
        The parent grid, shapely (Multi)Polygon in EPSG:4326.
    cells
        GeoDataFrame with ``cell_id`` and polygons, EPSG:4326.
    buildings
        GeoDataFrame with ``building_id``, the target's measure column and
        geometry, EPSG:4326: the buildings of the parent.
    assignment
        building_id -> cell id.
    target
        Range per cell.

    Returns
    -------
    list of PlanIssue
        Kinds: ``gap`` (parent area in no cell), ``overlap`` (two cells share
        area), ``empty`` (a cell with no building), ``unassigned`` (a building
        in no cell, or in a cell with no polygon), ``outside`` (a cell beyond
        the parent, or a building outside its cell's polygon), ``target``
        (a cell outside the range), ``noncontiguous`` (a cell in several pieces).
    """
    crs = metric_crs_of(parent, buildings)
    parent_m = to_metric_geom(parent, crs)
    geoms = cells.geometry if cells.crs is not None else cells.geometry.set_crs(STORAGE_CRS)
    cell_ids = cells["cell_id"].astype(str).to_numpy()
    polys = np.asarray(geoms.to_crs(crs).values)
    tol = AREA_TOLERANCE * parent_m.area
    issues: list[PlanIssue] = []
    covered = shapely.union_all(polys) if len(polys) else shapely.Polygon()
    gap = shapely.difference(parent_m, covered).area
    if gap > tol:
        share = 100.0 * gap / parent_m.area
        issues.append(PlanIssue("gap", "parent", f"{gap:.1f} m² ({share:.3f}%) in no grid"))
    tree = shapely.STRtree(polys)
    left, right = tree.query(polys, predicate="intersects")
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        shared = shapely.intersection(polys[i], polys[j]).area
        if shared > tol:
            issues.append(
                PlanIssue(
                    "overlap",
                    f"{cell_ids[i]}/{cell_ids[j]}",
                    f"{cell_ids[i]} and {cell_ids[j]} overlap by {shared:.1f} m²",
                )
            )
    for cid, poly in zip(cell_ids, polys, strict=True):
        beyond = shapely.difference(poly, parent_m).area
        if beyond > tol:
            issues.append(
                PlanIssue("outside", cid, f"{cid} reaches {beyond:.1f} m² beyond the parent")
            )
        if len(shapely.get_parts(shapely.make_valid(poly))) > 1:
            issues.append(PlanIssue("noncontiguous", cid, f"{cid} is in several pieces"))
    issues += _building_issues(buildings, assignment, cell_ids, polys, crs, target)
    return issues


def _building_issues(buildings, assignment, cell_ids, polys, crs, target) -> list[PlanIssue]:
    """Empty cells, unassigned or misplaced buildings, and cells outside the target range."""
    ids = building_ids(buildings)
    values = measure_of(buildings, target.measure)
    pts = shapely.point_on_surface(np.asarray(buildings.geometry.to_crs(crs).values))
    by_id = dict(zip(cell_ids.tolist(), polys, strict=True))
    totals = dict.fromkeys(cell_ids.tolist(), 0)
    counts = dict.fromkeys(cell_ids.tolist(), 0)
    issues = []
    for bid, value, pt in zip(ids.tolist(), values.tolist(), pts, strict=True):
        cid = assignment.get(bid)
        if cid is None:
            issues.append(PlanIssue("unassigned", bid, f"building {bid} is in no grid"))
            continue
        cid = str(cid)
        if cid not in by_id:
            issues.append(
                PlanIssue(
                    "unassigned", bid, f"building {bid} is in grid {cid}, which has no polygon"
                )
            )
            continue
        totals[cid] += value
        counts[cid] += 1
        if not shapely.intersects(by_id[cid], pt):
            issues.append(
                PlanIssue(
                    "outside", bid, f"building {bid} lies outside the polygon of its grid {cid}"
                )
            )
    for cid in cell_ids.tolist():
        if counts[cid] == 0:
            issues.append(PlanIssue("empty", cid, f"{cid} holds no building"))
        elif not target.contains(totals[cid]):
            issues.append(
                PlanIssue(
                    "target",
                    cid,
                    f"{cid} has {totals[cid]} {target.measure}, outside "
                    f"{target.minimum}–{target.maximum}",
                )
            )
    return issues


def cut_footprints(buildings: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Footprints not wholly inside their grid, with the share of their area outside it.

    Parameters
    ----------
    buildings
        ``building_id``, ``grid_id`` and footprints, EPSG:4326 (point
        buildings are never cut).
    grids
        ``grid_id`` and polygons, EPSG:4326.

    Returns
    -------
    geopandas.GeoDataFrame
        ``building_id``, ``grid_id``, ``cut_share`` (0-1, measured in the local
        metric CRS) for every footprint with more than 1e-6 of its area
        outside its grid, largest share first.
    """
    crs = metric_crs_of(None, buildings)
    polys = grids.set_index("grid_id").geometry.to_crs(crs)
    feet = buildings.geometry.to_crs(crs).to_numpy()
    area = shapely.area(feet)
    own = polys.reindex(buildings["grid_id"].astype(str)).to_numpy()
    has = np.array([g is not None for g in own]) & (area > 0)
    share = np.zeros(len(buildings))
    if has.any():
        inside = shapely.area(shapely.intersection(feet[has], shapely.make_valid(own[has])))
        share[has] = np.clip(1.0 - inside / area[has], 0.0, 1.0)
    cut = share > 1e-6
    out = buildings.loc[cut, ["building_id", "grid_id"]].assign(cut_share=share[cut])
    return out.sort_values("cut_share", ascending=False).reset_index(drop=True)
