"""Validation of grid layers: levels, the tree, containment, sibling overlap, repair."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapserver.errors import ValidationIssue
from mapserver.io.checks import (
    POLYGONAL,
    check_counts,
    check_geometries,
    check_ids,
    finish,
    metric_geometries,
    missing_columns,
    row_number,
    text,
    texts,
)
from mapserver.io.repair import find_gaps, resolve_overlaps
from mapserver.model import AREA_CLASSES, GRID_LEVELS, GRID_REQUIRED, LEVEL_LABELS, STORAGE_CRS

# A child may stick out of its parent by this much before it is an issue (m², share).
OUTSIDE_PARENT_M2 = 1.0
OUTSIDE_PARENT_SHARE = 0.01
# Siblings may overlap by this much before it is an issue (m²).
SIBLING_OVERLAP_M2 = 1.0

# Other words offices use for the levels (DOMAIN.md: 总网格 › 子网格 › 微网格 in a village).
_LEVEL_WORDS: dict[str, str] = {
    "区县": "district",
    "县": "district",
    "街道": "subdistrict",
    "镇": "subdistrict",
    "乡": "subdistrict",
    "社区": "community",
    "居委": "community",
    "居委会": "community",
    "居民区": "community",
    "村": "community",
    "村社": "community",
    "总网格": "big",
    "子网格": "small",
}
LEVEL_CODES: dict[str, str] = {
    **_LEVEL_WORDS,
    **{
        name.lower(): level
        for level, labels in LEVEL_LABELS.items()
        for name in (level, labels["zh"], labels["en"])
    },
}
_AREA_NAMES: dict[str, str] = {
    **{a: a for a in AREA_CLASSES},
    "封控区": "sealed",
    "封控": "sealed",
    "管控区": "controlled",
    "管控": "controlled",
    "防范区": "precaution",
    "防范": "precaution",
    "无": "none",
}


def validate_grids(
    gdf: pd.DataFrame,
    *,
    file: str,
    repair: bool = False,
    parents_known: set[str] | frozenset[str] = frozenset(),
    context: gpd.GeoDataFrame | None = None,
    issues: list[ValidationIssue] | None = None,
    notes: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """Check a grid layer: ids, levels, geometry, the tree, containment and sibling overlap.

    Parameters
    ----------
    gdf
        Grids in EPSG:4326 with model.GRID_COLUMNS names (extra columns kept).
    file
        File name used in the issues.
    repair
        Replace invalid polygons by ``shapely.make_valid`` (polygonal part),
        cut each overlap between siblings from the smaller one
        (:data:`mapserver.io.repair.OVERLAP_RULE`) and report gaps, each
        change with its area in ``notes``.
    parents_known
        Grid ids outside the file that ``parent_id`` may name.
    context
        Grids outside the file that stay (stored grids a merge keeps, other
        files of the import): their parent links join the cycle check, their
        polygons the containment and sibling checks.
    issues
        Append problems here; when ``None``, raise ValidationError if any.
    notes
        Repairs made and gaps found, one line each.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with ``grid_id``/``parent_id`` as text, ``level`` and
        ``area_class`` as model codes, counts as Int64, repaired geometry.
        Containment and overlap are measured in the metric CRS (m²).
    """
    local: list[ValidationIssue] = []
    gdf = gdf.reset_index(drop=True).copy()
    missing = missing_columns(gdf, GRID_REQUIRED, file, local)
    if {"grid_id", "geometry"} & missing:
        finish(local, issues)
        return gdf
    ids = check_ids(gdf, "grid_id", file, local)
    gdf["grid_id"] = texts(ids, gdf.index)
    if "level" in gdf.columns:
        levels = [_level(v, i, file, local) for i, v in enumerate(gdf["level"])]
        gdf["level"] = pd.Series(levels, index=gdf.index, dtype=object)
    if "area_class" in gdf.columns:
        areas = [_area(v, i, file, local) for i, v in enumerate(gdf["area_class"])]
        gdf["area_class"] = pd.Series(areas, index=gdf.index, dtype=object)
    check_counts(gdf, ("target_households", "version"), file, local)
    parents = (
        [text(v) for v in gdf["parent_id"]] if "parent_id" in gdf.columns else [None] * len(gdf)
    )
    gdf["parent_id"] = pd.Series(parents, index=gdf.index, dtype=object)
    context = _context(context, ids)
    context_parents = dict(zip(context["grid_id"], context["parent_id"], strict=True))
    _check_tree(ids, parents, set(parents_known) | set(context_parents), file, local)
    _check_cycles_through(ids, parents, context_parents, file, local)
    geoms, good = check_geometries(gdf, POLYGONAL, file, local, repair=repair)
    if repair:
        geoms, good = _repair_boundaries(ids, parents, geoms, good, context, file, notes)
    gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    n = len(gdf)
    all_ids = ids + list(context["grid_id"])
    all_parents = parents + list(context["parent_id"])
    both = gpd.GeoDataFrame(geometry=list(geoms) + list(context.geometry.values), crs=STORAGE_CRS)
    all_good = np.concatenate([good, np.ones(len(context), dtype=bool)])
    metric = metric_geometries(both, all_good)
    _check_containment(all_ids, all_parents, metric, all_good, file, local, rows=n)
    _check_siblings(all_ids, all_parents, metric, all_good, file, local, rows=n)
    finish(local, issues)
    return gdf


def _context(context: gpd.GeoDataFrame | None, ids: list) -> gpd.GeoDataFrame:
    """Grids outside the file that stay: id, parent, geometry; ids of the file removed."""
    if context is None or not len(context):
        return gpd.GeoDataFrame({"grid_id": [], "parent_id": []}, geometry=[], crs=STORAGE_CRS)
    mine = {g for g in ids if g is not None}
    keep = [text(g) not in mine for g in context["grid_id"]]
    out = context.loc[keep, ["grid_id", "parent_id", "geometry"]].reset_index(drop=True)
    out["grid_id"] = [text(g) for g in out["grid_id"]]
    out["parent_id"] = [text(p) for p in out["parent_id"]]
    return gpd.GeoDataFrame(out, geometry="geometry", crs=STORAGE_CRS)


def _check_cycles_through(
    ids: list, parents: list, context_parents: dict, file: str, issues: list
) -> None:
    """Report parent links that close a cycle through grids outside the file."""
    mine = dict(zip(ids, parents, strict=True))
    for i, (grid_id, parent) in enumerate(zip(ids, parents, strict=True)):
        if grid_id is None or parent is None or parent in mine:
            continue
        seen = {grid_id}
        node = parent
        while node is not None and node not in seen:
            seen.add(node)
            node = mine[node] if node in mine else context_parents.get(node)
        if node == grid_id:
            reason = f"parent '{parent}' of '{grid_id}' is below '{grid_id}' in the stored tree"
            issues.append(ValidationIssue(file, row_number(i), "parent_id", reason))


def _repair_boundaries(
    ids: list,
    parents: list,
    geoms: np.ndarray,
    good: np.ndarray,
    context: gpd.GeoDataFrame,
    file: str,
    notes: list[str] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Resolve sibling overlaps (this file's grids among themselves) and report gaps."""
    geoms, changes = resolve_overlaps(ids, parents, geoms, good)
    good = good & np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
    parent_geoms = {
        g: geom for g, geom, ok in zip(ids, geoms, good, strict=True) if ok and g is not None
    }
    for g, geom in zip(context["grid_id"], context.geometry.values, strict=True):
        parent_geoms.setdefault(g, geom)
    changes += find_gaps(ids, parents, geoms, good, parent_geoms)
    if notes is not None:
        notes.extend(change.describe(file) for change in changes)
    return geoms, good


def _level(value: object, i: int, file: str, issues: list) -> str | None:
    """A grid level code from a code or its Chinese/English label."""
    raw = text(value)
    level = LEVEL_CODES.get(raw.lower()) if raw else None
    if level is None:
        labels = ", ".join(f"{lv} ({LEVEL_LABELS[lv]['zh']})" for lv in GRID_LEVELS)
        reason = f"'{raw or ''}' is not a grid level (known: {labels})"
        issues.append(ValidationIssue(file, row_number(i), "level", reason))
    return level or raw


def _area(value: object, i: int, file: str, issues: list) -> str:
    """An area class code from a code or its Chinese name; blank is 'none'."""
    raw = text(value)
    if raw is None:
        return "none"
    area = _AREA_NAMES.get(raw.lower())
    if area is None:
        reason = (
            f"'{raw}' is not an area class (known: {', '.join(AREA_CLASSES)}, 封控区/管控区/防范区)"
        )
        issues.append(ValidationIssue(file, row_number(i), "area_class", reason))
        return raw
    return area


def _check_tree(
    ids: list, parents: list, known: set[str], file: str, issues: list[ValidationIssue]
) -> None:
    """Report unknown parents, grids that are their own parent, and cycles of parent links."""
    row_of = {}
    for i, grid_id in enumerate(ids):
        if grid_id is not None:
            row_of.setdefault(grid_id, i)
    for i, (grid_id, parent) in enumerate(zip(ids, parents, strict=True)):
        if parent is None:
            continue
        if parent == grid_id:
            reason = f"'{grid_id}' is its own parent"
            issues.append(ValidationIssue(file, row_number(i), "parent_id", reason))
        elif parent not in row_of and parent not in known:
            reason = f"parent '{parent}' of '{grid_id}' is neither in this file nor already stored"
            issues.append(ValidationIssue(file, row_number(i), "parent_id", reason))
    parent_of = {g: parents[i] for g, i in row_of.items()}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in row_of:
        path: list[str] = []
        node = start
        while node is not None and node in parent_of and state.get(node) is None:
            state[node] = 1
            path.append(node)
            node = parent_of[node]
            if node == path[-1]:
                break  # own parent, reported above
        if node is not None and state.get(node) == 1 and node != path[-1]:
            cycle = path[path.index(node) :]
            first = min(cycle, key=row_of.__getitem__)
            loop = " -> ".join(f"'{g}'" for g in [*cycle, cycle[0]])
            reason = f"parent links form a cycle: {loop}"
            issues.append(ValidationIssue(file, row_number(row_of[first]), "parent_id", reason))
        for visited in path:
            state[visited] = 2


def _check_containment(
    ids: list,
    parents: list,
    metric: gpd.GeoSeries,
    good: np.ndarray,
    file: str,
    issues: list,
    *,
    rows: int | None = None,
) -> None:
    """Report children whose area outside their parent exceeds the tolerance (metric CRS, m²).

    Only the first ``rows`` entries (the file's grids) are reported; the rest are context.
    """
    rows = len(ids) if rows is None else rows
    index = {g: i for i, g in enumerate(ids) if g is not None and good[i]}
    pairs = [
        (i, index[p])
        for i, p in enumerate(parents[:rows])
        if good[i] and p is not None and p in index and p != ids[i]
    ]
    if not pairs:
        return
    child_idx, parent_idx = (np.array(x) for x in zip(*pairs, strict=True))
    geoms = np.asarray(metric.values, dtype=object)
    child, parent = geoms[child_idx], geoms[parent_idx]
    outside = shapely.area(shapely.difference(child, parent))
    area = shapely.area(child)
    limit = np.maximum(OUTSIDE_PARENT_M2, OUTSIDE_PARENT_SHARE * area)
    for k in np.flatnonzero(outside > limit):
        i = int(child_idx[k])
        reason = (
            f"'{ids[i]}' lies partly outside its parent '{parents[i]}': {outside[k]:,.0f} m² "
            f"of its {area[k]:,.0f} m² ({outside[k] / area[k]:.1%})"
        )
        issues.append(ValidationIssue(file, row_number(i), "geometry", reason))


def _check_siblings(
    ids: list,
    parents: list,
    metric: gpd.GeoSeries,
    good: np.ndarray,
    file: str,
    issues: list,
    *,
    rows: int | None = None,
) -> None:
    """Report pairs of grids with the same parent overlapping by more than SIBLING_OVERLAP_M2.

    Entries from ``rows`` on are context: pairs of two context grids are not reported,
    and an overlap with a context grid is reported on the file's grid.
    """
    n_file = len(ids) if rows is None else rows
    rows = np.flatnonzero(good)
    if len(rows) < 2:
        return
    geoms = np.asarray(metric.values, dtype=object)[rows]
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = (left < right) & (rows[np.minimum(left, right)] < n_file)
    left, right = left[keep], right[keep]
    same = np.array(
        [parents[rows[a]] == parents[rows[b]] for a, b in zip(left, right, strict=True)]
    )
    if not len(same) or not same.any():
        return
    left, right = left[same], right[same]
    overlap = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    for a, b, area in zip(left, right, overlap, strict=True):
        if area > SIBLING_OVERLAP_M2:
            i, j = int(rows[a]), int(rows[b])
            if j >= n_file:  # overlap with a grid outside the file: report on the file's grid
                reason = (
                    f"'{ids[i]}' overlaps its stored sibling '{ids[j]}' by {area:,.0f} m² "
                    "(import with repair to cut it)"
                )
                issues.append(ValidationIssue(file, row_number(i), "geometry", reason))
                continue
            reason = (
                f"'{ids[j]}' overlaps its sibling '{ids[i]}' (row {row_number(i)}) "
                f"by {area:,.0f} m² (import with repair to cut it)"
            )
            issues.append(ValidationIssue(file, row_number(j), "geometry", reason))


def leaf_grids(grids: pd.DataFrame) -> pd.DataFrame:
    """Grids that no other grid names as parent (the micro-grids that hold buildings)."""
    parents = {text(p) for p in grids["parent_id"]} if "parent_id" in grids.columns else set()
    return grids[[text(g) not in parents for g in grids["grid_id"]]]
