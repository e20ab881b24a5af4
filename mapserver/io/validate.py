"""Validation of imported layers; every problem becomes an issue naming file, row and field."""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.validation import explain_validity

from mapserver import crs
from mapserver.errors import ValidationError, ValidationIssue
from mapserver.io.repair import find_gaps, resolve_overlaps
from mapserver.model import (
    AREA_CLASSES,
    BUILDING_REQUIRED,
    ENTITY_KINDS,
    GRID_LEVELS,
    GRID_REQUIRED,
    HOUSEHOLD_REQUIRED,
    LEVEL_LABELS,
    STORAGE_CRS,
)
from mapserver.store.sql import StatusRow

__all__ = [
    "ValidationError",
    "ValidationIssue",
    "validate_buildings",
    "validate_grids",
    "validate_households",
    "validate_status",
]

# A child may stick out of its parent by this much before it is an issue (m², share).
OUTSIDE_PARENT_M2 = 1.0
OUTSIDE_PARENT_SHARE = 0.01
# Siblings may overlap by this much before it is an issue (m²).
SIBLING_OVERLAP_M2 = 1.0

POLYGONAL = frozenset({"Polygon", "MultiPolygon"})
BUILDING_TYPES = frozenset({"Point", "Polygon", "MultiPolygon"})

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
_KIND_NAMES: dict[str, str] = {
    **{k: k for k in ENTITY_KINDS},
    "户": "household",
    "住户": "household",
    "楼": "building",
    "楼栋": "building",
}


def text(value: object) -> str | None:
    """An identifier or label as text: missing/blank -> None, ``3.0`` -> ``"3"``."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    result = str(value).strip()
    return result or None


def texts(values: Iterable[object], index: pd.Index | None = None) -> pd.Series:
    """Cells as an object Series of text or None (pandas would turn None into NaN)."""
    return pd.Series([text(v) for v in values], index=index, dtype=object)


def count(value: object) -> tuple[bool, int | None]:
    """Parse a non-negative whole number; returns (ok, value), blank is (True, None)."""
    raw = text(value)
    if raw is None:
        return True, None
    try:
        number = float(raw)
    except ValueError:
        return False, None
    if not np.isfinite(number) or number < 0 or not number.is_integer():
        return False, None
    return True, int(number)


def _row(i: int) -> int:
    """The user's 1-based row (data row of a table, feature of a vector file)."""
    return i + 1


def _finish(local: list[ValidationIssue], issues: list[ValidationIssue] | None) -> None:
    """Append to the caller's list, or raise when the caller gave none."""
    if issues is not None:
        issues.extend(local)
    elif local:
        raise ValidationError(local)


def _missing_columns(
    df: pd.DataFrame, required: Iterable[str], file: str, issues: list[ValidationIssue]
) -> set[str]:
    """Report required columns the file lacks; returns them."""
    missing = {c for c in required if c not in df.columns}
    if "geometry" in required and not isinstance(df, gpd.GeoDataFrame):
        missing.add("geometry")
    for column in sorted(missing):
        if column == "geometry":
            reason = (
                "no geometry: give a map file, lon/lat (经度/纬度) columns or a WKT 'geometry' "
                "column"
            )
        else:
            reason = f"required column '{column}' is missing (columns are: {list(df.columns)})"
        issues.append(ValidationIssue(file, None, column, reason))
    return missing


def _ids(df: pd.DataFrame, column: str, file: str, issues: list[ValidationIssue]) -> list:
    """Identifiers as text; report blanks and duplicates (naming the first row)."""
    ids = [text(v) for v in df[column]]
    first: dict[str, int] = {}
    for i, value in enumerate(ids):
        if value is None:
            issues.append(ValidationIssue(file, _row(i), column, "identifier is empty"))
        elif value in first:
            reason = f"'{value}' appears twice (first at row {_row(first[value])})"
            issues.append(ValidationIssue(file, _row(i), column, reason))
        else:
            first[value] = i
    return ids


def _counts(df: pd.DataFrame, columns: Iterable[str], file: str, issues: list) -> None:
    """Check optional whole-number columns in place (text -> nullable Int64)."""
    for column in columns:
        if column not in df.columns:
            continue
        values = []
        for i, raw in enumerate(df[column]):
            ok, value = count(raw)
            if not ok:
                reason = f"'{raw}' is not a whole number of zero or more"
                issues.append(ValidationIssue(file, _row(i), column, reason))
            values.append(value)
        df[column] = pd.array(values, dtype="Int64")


def _no_geometry_reason(df: pd.DataFrame, i: int) -> str:
    """Why a row has no geometry, in the row's own words."""
    if "lon" in df.columns and "lat" in df.columns:
        return (
            f"no position: lon '{text(df['lon'].iloc[i])}', lat '{text(df['lat'].iloc[i])}' "
            "are not both numbers"
        )
    if "geometry_text" in df.columns and text(df["geometry_text"].iloc[i]) is not None:
        return f"'{text(df['geometry_text'].iloc[i])[:60]}' is not WKT geometry"
    return "geometry is empty"


def _geometries(
    gdf: gpd.GeoDataFrame,
    allowed: frozenset[str],
    file: str,
    issues: list[ValidationIssue],
    *,
    repair: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Check every geometry; repair invalid polygons when asked.

    Returns the (possibly repaired) geometries and a mask of the good rows.
    """
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    good = np.zeros(len(geoms), dtype=bool)
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            issues.append(ValidationIssue(file, _row(i), "geometry", _no_geometry_reason(gdf, i)))
            continue
        minx, miny, maxx, maxy = geom.bounds
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            reason = (
                f"coordinates ({minx:.6g}, {miny:.6g}) are outside lon -180..180 / lat -90..90: "
                "the coordinate system is probably wrong (projected metres read as degrees?); "
                "give the source CRS, e.g. EPSG:4549"
            )
            issues.append(ValidationIssue(file, _row(i), "geometry", reason))
            continue
        if geom.geom_type not in allowed:
            reason = f"{geom.geom_type} geometry where {' or '.join(sorted(allowed))} is expected"
            issues.append(ValidationIssue(file, _row(i), "geometry", reason))
            continue
        if not geom.is_valid:
            if not repair:
                reason = f"invalid geometry: {explain_validity(geom)} (import with repair to fix)"
                issues.append(ValidationIssue(file, _row(i), "geometry", reason))
                continue
            geom = _polygonal(shapely.make_valid(geom)) if geom.geom_type in POLYGONAL else geom
            if geom is None:
                reason = "invalid geometry that repair reduces to nothing polygonal"
                issues.append(ValidationIssue(file, _row(i), "geometry", reason))
                continue
            geoms[i] = geom
        good[i] = True
    return geoms, good


def _polygonal(geom):
    """The polygonal part of a repaired geometry (Polygon/MultiPolygon) or None."""
    if geom.geom_type in POLYGONAL:
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in POLYGONAL]
    if not parts:
        return None
    merged = shapely.union_all(parts)
    return merged if merged.geom_type in POLYGONAL else None


def _metric(gdf: gpd.GeoDataFrame, good: np.ndarray) -> gpd.GeoSeries:
    """Good geometries in the metric CRS chosen from them (others become None)."""
    series = gpd.GeoSeries(np.where(good, gdf.geometry.values, None), crs=STORAGE_CRS)
    if not good.any():
        return series
    return series.to_crs(crs.metric_crs(series[good]))


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
    missing = _missing_columns(gdf, GRID_REQUIRED, file, local)
    if {"grid_id", "geometry"} & missing:
        _finish(local, issues)
        return gdf
    ids = _ids(gdf, "grid_id", file, local)
    gdf["grid_id"] = texts(ids, gdf.index)
    if "level" in gdf.columns:
        levels = [_level(v, i, file, local) for i, v in enumerate(gdf["level"])]
        gdf["level"] = pd.Series(levels, index=gdf.index, dtype=object)
    if "area_class" in gdf.columns:
        areas = [_area(v, i, file, local) for i, v in enumerate(gdf["area_class"])]
        gdf["area_class"] = pd.Series(areas, index=gdf.index, dtype=object)
    _counts(gdf, ("target_households", "version"), file, local)
    parents = (
        [text(v) for v in gdf["parent_id"]] if "parent_id" in gdf.columns else [None] * len(gdf)
    )
    gdf["parent_id"] = pd.Series(parents, index=gdf.index, dtype=object)
    context = _context(context, ids)
    context_parents = dict(zip(context["grid_id"], context["parent_id"], strict=True))
    _check_tree(ids, parents, set(parents_known) | set(context_parents), file, local)
    _check_cycles_through(ids, parents, context_parents, file, local)
    geoms, good = _geometries(gdf, POLYGONAL, file, local, repair=repair)
    if repair:
        geoms, good = _repair_boundaries(ids, parents, geoms, good, context, file, notes)
    gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    n = len(gdf)
    all_ids = ids + list(context["grid_id"])
    all_parents = parents + list(context["parent_id"])
    both = gpd.GeoDataFrame(geometry=list(geoms) + list(context.geometry.values), crs=STORAGE_CRS)
    all_good = np.concatenate([good, np.ones(len(context), dtype=bool)])
    metric = _metric(both, all_good)
    _check_containment(all_ids, all_parents, metric, all_good, file, local, rows=n)
    _check_siblings(all_ids, all_parents, metric, all_good, file, local, rows=n)
    _finish(local, issues)
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
            issues.append(ValidationIssue(file, _row(i), "parent_id", reason))


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
        issues.append(ValidationIssue(file, _row(i), "level", reason))
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
        issues.append(ValidationIssue(file, _row(i), "area_class", reason))
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
            issues.append(ValidationIssue(file, _row(i), "parent_id", reason))
        elif parent not in row_of and parent not in known:
            reason = f"parent '{parent}' of '{grid_id}' is neither in this file nor already stored"
            issues.append(ValidationIssue(file, _row(i), "parent_id", reason))
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
            issues.append(ValidationIssue(file, _row(row_of[first]), "parent_id", reason))
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
        issues.append(ValidationIssue(file, _row(i), "geometry", reason))


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
                issues.append(ValidationIssue(file, _row(i), "geometry", reason))
                continue
            reason = (
                f"'{ids[j]}' overlaps its sibling '{ids[i]}' (row {_row(i)}) by {area:,.0f} m² "
                "(import with repair to cut it)"
            )
            issues.append(ValidationIssue(file, _row(j), "geometry", reason))


def leaf_grids(grids: pd.DataFrame) -> pd.DataFrame:
    """Grids that no other grid names as parent (the micro-grids that hold buildings)."""
    parents = {text(p) for p in grids["parent_id"]} if "parent_id" in grids.columns else set()
    return grids[[text(g) not in parents for g in grids["grid_id"]]]


def validate_buildings(
    gdf: pd.DataFrame,
    *,
    file: str,
    grids: pd.DataFrame | None,
    repair: bool = False,
    issues: list[ValidationIssue] | None = None,
) -> gpd.GeoDataFrame:
    """Check a building layer and place every building in a leaf grid.

    Parameters
    ----------
    gdf
        Buildings in EPSG:4326 (footprints or points), model.BUILDING_COLUMNS names.
    file
        File name used in the issues.
    grids
        The grid layer the buildings belong to (EPSG:4326); ``None`` skips placement.
    repair
        Replace invalid footprints by ``shapely.make_valid``.
    issues
        Append problems here; when ``None``, raise ValidationError if any.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with ids as text, counts as Int64 and ``grid_id`` filled from
        the leaf grid holding each building's representative point where blank.
    """
    local: list[ValidationIssue] = []
    gdf = gdf.reset_index(drop=True).copy()
    missing = _missing_columns(gdf, BUILDING_REQUIRED, file, local)
    if missing:
        _finish(local, issues)
        return gdf
    gdf["building_id"] = pd.Series(
        _ids(gdf, "building_id", file, local), index=gdf.index, dtype=object
    )
    _counts(gdf, ("units", "households", "residents"), file, local)
    geoms, good = _geometries(gdf, BUILDING_TYPES, file, local, repair=repair)
    gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    if grids is not None:
        gdf["grid_id"] = texts(_place(gdf, good, grids, file, local), gdf.index)
    _finish(local, issues)
    return gdf


def _place(
    gdf: gpd.GeoDataFrame, good: np.ndarray, grids: pd.DataFrame, file: str, issues: list
) -> list:
    """Leaf grid id of every building: the given one if known, else by point in polygon."""
    given = [text(v) for v in gdf["grid_id"]] if "grid_id" in gdf.columns else [None] * len(gdf)
    all_ids = {text(g) for g in grids["grid_id"]} if len(grids) else set()
    leaves = leaf_grids(grids) if len(grids) else grids
    leaf_ids = [text(g) for g in leaves["grid_id"]] if len(grids) else []
    for i, grid_id in enumerate(given):
        if grid_id is None:
            continue
        if grid_id not in all_ids:
            reason = f"grid '{grid_id}' does not exist"
            issues.append(ValidationIssue(file, _row(i), "grid_id", reason))
        elif grid_id not in leaf_ids:
            reason = f"grid '{grid_id}' has sub-grids; a building belongs to a leaf grid"
            issues.append(ValidationIssue(file, _row(i), "grid_id", reason))
    todo = np.array([g is None for g in given]) & good
    if not todo.any():
        return given
    if not leaf_ids:
        reason = "no grids to place buildings in: import the grids first or with the buildings"
        issues.append(ValidationIssue(file, None, "grid_id", reason))
        return given
    points = shapely.point_on_surface(np.asarray(gdf.geometry.values, dtype=object)[todo])
    tree = shapely.STRtree(np.asarray(leaves.geometry.values, dtype=object))
    found, hit = tree.query(points, predicate="intersects")
    first: dict[int, int] = {}
    for p, g in zip(found, hit, strict=True):
        first.setdefault(int(p), int(g))
    for k, i in enumerate(np.flatnonzero(todo)):
        if k in first:
            given[i] = leaf_ids[first[k]]
        else:
            x, y = points[k].x, points[k].y
            reason = f"building at ({x:.6f}, {y:.6f}) lies outside every leaf grid"
            issues.append(ValidationIssue(file, _row(int(i)), "geometry", reason))
    return given


def validate_households(
    df: pd.DataFrame,
    *,
    file: str,
    building_ids: set[str] | None,
    issues: list[ValidationIssue] | None = None,
) -> pd.DataFrame:
    """Check a household table: ids, known buildings, residents a whole number >= 0.

    ``building_ids`` None skips the building check. Returns a copy with text
    ids and Int64 ``residents``; raises ValidationError when ``issues`` is None.
    """
    local: list[ValidationIssue] = []
    df = df.reset_index(drop=True).copy()
    if _missing_columns(df, HOUSEHOLD_REQUIRED, file, local) & {"household_id", "building_id"}:
        _finish(local, issues)
        return df
    df["household_id"] = texts(_ids(df, "household_id", file, local), df.index)
    df["building_id"] = texts(df["building_id"], df.index)
    for i, building in enumerate(df["building_id"]):
        if building is None:
            local.append(ValidationIssue(file, _row(i), "building_id", "building is empty"))
        elif building_ids is not None and building not in building_ids:
            reason = f"building '{building}' does not exist"
            local.append(ValidationIssue(file, _row(i), "building_id", reason))
    for column in ("unit", "room"):
        if column in df.columns:
            df[column] = texts(df[column], df.index)
    _counts(df, ("residents",), file, local)
    _finish(local, issues)
    return df


def validate_status(
    df: pd.DataFrame,
    *,
    file: str,
    scheme_codes: set[str] | dict[str, str] | None,
    household_ids: set[str],
    building_ids: set[str],
    issues: list[ValidationIssue] | None = None,
) -> list[StatusRow]:
    """Check a status batch and turn it into StatusRow objects.

    Parameters
    ----------
    df
        Columns ``entity_id`` (or ``household_id`` / ``building_id``),
        ``status``, optional ``entity_kind`` and ``persons``.
    file
        File name used in the issues.
    scheme_codes
        Allowed status codes, or a dict of accepted spellings (lower case,
        labels too: :meth:`mapserver.status.scheme.Scheme.spellings`) -> code;
        ``None`` accepts any code.
    household_ids, building_ids
        The entities that exist; an unknown id is an issue.
    issues
        Append problems here; when ``None``, raise ValidationError if any.

    Returns
    -------
    list of StatusRow
        One per good row, in file order.
    """
    local: list[ValidationIssue] = []
    df = df.reset_index(drop=True)
    id_columns = [c for c in ("entity_id", "household_id", "building_id") if c in df.columns]
    if not id_columns:
        reason = (
            "no id column: give entity_id, household_id or building_id "
            f"(columns are: {list(df.columns)})"
        )
        local.append(ValidationIssue(file, None, "entity_id", reason))
    if "status" not in df.columns:
        reason = f"required column 'status' is missing (columns are: {list(df.columns)})"
        local.append(ValidationIssue(file, None, "status", reason))
    if local:
        _finish(local, issues)
        return []
    rows: list[StatusRow] = []
    seen: dict[tuple[str, str], int] = {}
    for i in range(len(df)):
        before = len(local)
        entity = _entity(df, i, id_columns, household_ids, building_ids, file, local)
        status = _status(df["status"].iloc[i], i, scheme_codes, file, local)
        persons = None
        if "persons" in df.columns:
            ok, persons = count(df["persons"].iloc[i])
            if not ok:
                reason = f"'{df['persons'].iloc[i]}' is not a whole number of zero or more"
                local.append(ValidationIssue(file, _row(i), "persons", reason))
        if entity is not None:
            if entity in seen:
                reason = (
                    f"{entity[0]} '{entity[1]}' appears twice in this batch "
                    f"(first at row {_row(seen[entity])})"
                )
                local.append(ValidationIssue(file, _row(i), _entity_column(id_columns), reason))
            else:
                seen[entity] = i
        if len(local) == before and entity is not None and status is not None:
            rows.append(StatusRow(entity[0], entity[1], status, persons))
    _finish(local, issues)
    return rows


def _entity_column(id_columns: list[str]) -> str:
    """The id column named in issues about an entity."""
    return id_columns[0]


def _entity(
    df: pd.DataFrame,
    i: int,
    id_columns: list[str],
    household_ids: set[str],
    building_ids: set[str],
    file: str,
    issues: list,
) -> tuple[str, str] | None:
    """(entity_kind, entity_id) of a status row, or None after reporting why not."""
    kind: str | None = None
    column = _entity_column(id_columns)
    if "entity_id" in id_columns and text(df["entity_id"].iloc[i]) is not None:
        entity_id = text(df["entity_id"].iloc[i])
        raw_kind = text(df["entity_kind"].iloc[i]) if "entity_kind" in df.columns else None
        if raw_kind is not None:
            kind = _KIND_NAMES.get(raw_kind.lower())
            if kind is None:
                reason = f"'{raw_kind}' is not an entity kind (known: {', '.join(ENTITY_KINDS)})"
                issues.append(ValidationIssue(file, _row(i), "entity_kind", reason))
                return None
    else:
        found = [
            (c, text(df[c].iloc[i]))
            for c in ("household_id", "building_id")
            if c in id_columns and text(df[c].iloc[i]) is not None
        ]
        if not found:
            issues.append(ValidationIssue(file, _row(i), column, "no entity id on this row"))
            return None
        column, entity_id = found[0]
        kind = column.removesuffix("_id")
    known = {"household": household_ids, "building": building_ids}
    if kind is None:
        kinds = [k for k in ENTITY_KINDS if entity_id in known[k]]
        if len(kinds) == 1:
            kind = kinds[0]
        elif kinds:
            reason = f"'{entity_id}' is both a household and a building: give entity_kind"
            issues.append(ValidationIssue(file, _row(i), column, reason))
            return None
        else:
            reason = f"'{entity_id}' is neither a known household nor a known building"
            issues.append(ValidationIssue(file, _row(i), column, reason))
            return None
    elif entity_id not in known[kind]:
        reason = f"{kind} '{entity_id}' does not exist"
        issues.append(ValidationIssue(file, _row(i), column, reason))
        return None
    return kind, entity_id


def _status(
    value: object, i: int, scheme_codes: set[str] | dict[str, str] | None, file: str, issues: list
) -> str | None:
    """The status code of a row, or None after reporting.

    ``scheme_codes`` is a set of codes (matched case-insensitively) or a dict of
    accepted spellings (lower case: codes and labels such as ``一直在沪``) -> code.
    """
    raw = text(value)
    if raw is None:
        issues.append(ValidationIssue(file, _row(i), "status", "status is empty"))
        return None
    if scheme_codes is None:
        return raw
    if isinstance(scheme_codes, dict):
        folded = scheme_codes
        scheme_codes = set(scheme_codes.values())
    else:
        folded = {c.lower(): c for c in scheme_codes}
    if raw in scheme_codes:
        return raw
    if raw.lower() in folded:
        return folded[raw.lower()]
    reason = f"'{raw}' is not a status of the scheme (allowed: {', '.join(sorted(scheme_codes))})"
    issues.append(ValidationIssue(file, _row(i), "status", reason))
    return None
