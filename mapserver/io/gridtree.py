"""Grid layers from other people's files: parts joined by id, parents by code or containment."""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapserver import crs
from mapserver.errors import ValidationIssue
from mapserver.io.checks import text
from mapserver.io.conform import conform_layer
from mapserver.io.validate_grids import LEVEL_CODES, validate_grids
from mapserver.model import GRID_LEVELS, STORAGE_CRS, level_rank

if TYPE_CHECKING:
    from mapserver.io.imports import ImportFile

PARENT_BY: tuple[str, ...] = ("code", "containment")
# A child must have at least this share of its area inside the parent chosen by containment.
MIN_PARENT_SHARE = 0.5
_CODE_SEPARATORS = ("-", "_", ".", "/")


def join_parts(
    gdf: gpd.GeoDataFrame, *, file: str, issues: list[ValidationIssue]
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Join rows that share a ``grid_id`` and a name into one (Multi)Polygon grid.

    Real layers are often exported one part per row (社区 "SQ-3" in two rows).
    Rows with the same id but another name are left as they are (validation
    then reports the repeated id). Returns the layer (first row of each id
    kept, in file order) and notes such as ``"'SQ-3': 2 parts (rows 1, 2) joined"``.
    """
    if not isinstance(gdf, gpd.GeoDataFrame) or "grid_id" not in gdf.columns or not len(gdf):
        return gdf, []
    ids = [text(v) for v in gdf["grid_id"]]
    names = [text(v) for v in gdf["name"]] if "name" in gdf.columns else [None] * len(gdf)
    rows: dict[str, list[int]] = {}
    for i, grid_id in enumerate(ids):
        if grid_id is not None:
            rows.setdefault(grid_id, []).append(i)
    notes: list[str] = []
    drop: list[int] = []
    geoms = np.asarray(gdf.geometry.values, dtype=object).copy()
    for grid_id, found in rows.items():
        if len(found) < 2 or len({names[i] for i in found}) != 1:
            continue
        parts = [geoms[i] for i in found if geoms[i] is not None and not geoms[i].is_empty]
        if not parts:
            continue
        joined = shapely.union_all(shapely.make_valid(np.asarray(parts, dtype=object)))
        geoms[found[0]] = joined
        drop.extend(found[1:])
        shown = ", ".join(str(i + 1) for i in found)
        notes.append(f"{file}: '{grid_id}' {len(found)} parts (rows {shown}) joined into one grid")
    if not drop:
        return gdf, []
    out = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    return out.drop(index=out.index[drop]), notes


def assign_parents(
    gdf: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    *,
    by: str,
    file: str,
    issues: list[ValidationIssue],
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Fill ``parent_id`` of grids that have none, from the grids of higher levels.

    Parameters
    ----------
    gdf
        The grids of one file (model columns, ``level`` as codes, EPSG:4326).
    candidates
        Possible parents: grids of other files of this import and stored grids.
    by
        ``"code"``: the parent is the longest candidate id that starts the
        grid's id (``SQ-3`` for ``SQ-3-2``, ``330103001`` for ``330103001002``);
        ``"containment"``: among the candidates of the nearest level above the
        grid's level that overlap it, the one holding most of its area
        (at least half of it), measured in metres.
    file
        File name for issues.
    issues
        A grid for which no parent is found is an issue.

    Returns
    -------
    The layer with ``parent_id`` filled where it was blank, and one note
    per file saying how many parents were set and how.
    """
    if by not in PARENT_BY:
        msg = f"parent-by must be one of {', '.join(PARENT_BY)}, not {by!r}"
        raise ValueError(msg)
    gdf = gdf.copy()
    parents = [text(p) for p in gdf["parent_id"]] if "parent_id" in gdf.columns else []
    if not parents:
        parents = [None] * len(gdf)
    todo = [i for i, p in enumerate(parents) if p is None]
    pool = pd.concat(
        [candidates[["grid_id", "level", "geometry"]], gdf[["grid_id", "level", "geometry"]]],
        ignore_index=True,
    )
    pool = gpd.GeoDataFrame(pool, geometry="geometry", crs=STORAGE_CRS)
    pool["grid_id"] = [text(v) for v in pool["grid_id"]]
    ranks = np.array([level_rank(str(v)) for v in pool["level"]])
    top = ranks.min() if len(ranks) else 0
    if by == "code":
        found = _parents_by_code(gdf, todo, pool, ranks)
    else:
        found = _parents_by_containment(gdf, todo, pool, ranks)
    set_count = 0
    for i in todo:
        parent = found.get(i)
        level = gdf["level"].iloc[i]
        if parent is not None:
            parents[i] = parent
            set_count += 1
        elif level_rank(str(level)) > top:
            grid_id = text(gdf["grid_id"].iloc[i])
            how = "no grid id starts it" if by == "code" else "no grid of a higher level holds it"
            reason = f"no parent found for '{grid_id}' by {by}: {how}"
            issues.append(ValidationIssue(file, i + 1, "parent_id", reason))
    gdf["parent_id"] = pd.Series(parents, index=gdf.index, dtype=object)
    how = "by code" if by == "code" else "by containment"
    note = f"{file}: {set_count} parent(s) set {how}" if set_count else None
    return gdf, [note] if note else []


def _parents_by_code(
    gdf: gpd.GeoDataFrame, todo: list[int], pool: gpd.GeoDataFrame, ranks: np.ndarray
) -> dict[int, str]:
    """Parent of each row: the longest pooled id of a higher level that prefixes its id."""
    rank_of = dict(zip(pool["grid_id"], ranks, strict=True))
    found: dict[int, str] = {}
    for i in todo:
        grid_id = text(gdf["grid_id"].iloc[i])
        if grid_id is None:
            continue
        own = level_rank(str(gdf["level"].iloc[i]))
        best = None
        for other, rank in rank_of.items():
            if other is None or other == grid_id or rank >= own:
                continue
            if _code_prefix(other, grid_id) and (best is None or len(other) > len(best)):
                best = other
        if best is not None:
            found[i] = best
    return found


def _code_prefix(parent: str, child: str) -> bool:
    """True when ``parent`` is a code prefix of ``child``: ``SQ-3`` of ``SQ-3-2`` (not
    of ``SQ-31``), or an all-digit administrative code of a longer all-digit one."""
    if len(child) <= len(parent) or not child.startswith(parent):
        return False
    if child[len(parent)] in _CODE_SEPARATORS:
        return True
    return parent.isdigit() and child.isdigit()


def _parents_by_containment(
    gdf: gpd.GeoDataFrame, todo: list[int], pool: gpd.GeoDataFrame, ranks: np.ndarray
) -> dict[int, str]:
    """Parent of each row: the overlapping grid of the nearest higher level with most of it."""
    if not todo or not len(pool):
        return {}
    metric_crs = crs.metric_crs(pool)
    pool_m = np.asarray(pool.geometry.to_crs(metric_crs).values, dtype=object)
    rows_m = np.asarray(gdf.geometry.to_crs(metric_crs).values, dtype=object)
    valid = np.array([g is not None and not g.is_empty for g in pool_m])
    pool_m = np.where(valid, shapely.make_valid(np.where(valid, pool_m, None)), None)
    tree = shapely.STRtree(pool_m)
    found: dict[int, str] = {}
    for i in todo:
        geom = rows_m[i]
        if geom is None or geom.is_empty:
            continue
        geom = shapely.make_valid(geom)
        own = level_rank(str(gdf["level"].iloc[i]))
        hits = [int(h) for h in tree.query(geom, predicate="intersects") if ranks[h] < own]
        if not hits:
            continue
        nearest = max(ranks[h] for h in hits)
        hits = [h for h in hits if ranks[h] == nearest]
        shares = shapely.area(shapely.intersection(pool_m[hits], geom)) / max(geom.area, 1e-9)
        best = int(np.argmax(shares))
        if shares[best] >= MIN_PARENT_SHARE:
            found[i] = pool["grid_id"].iloc[hits[best]]
    return found


def check_grid_files(
    grid_files: list[tuple[ImportFile, pd.DataFrame]],
    stored: pd.DataFrame | None,
    *,
    repair: bool,
    parent_by: str | None,
    issues: list[ValidationIssue],
    notes: list[str],
) -> gpd.GeoDataFrame | None:
    """Validate grid files from the top level down, each against the others and the store.

    Rows of one id in several parts are joined first; then blank parents are
    set by code or containment when asked.
    """

    def top_rank(frame: pd.DataFrame) -> int:
        if "level" not in frame.columns:
            return len(GRID_LEVELS)
        ranks = [
            level_rank(LEVEL_CODES.get(str(v).strip().lower(), str(v))) for v in frame["level"]
        ]
        return min(ranks, default=len(GRID_LEVELS))

    ordered = sorted(grid_files, key=lambda pair: top_rank(pair[1]))
    done: list[gpd.GeoDataFrame] = []
    for item, frame in ordered:
        local: list[ValidationIssue] = []
        frame, joined = join_parts(frame, file=item.shown, issues=local)
        notes.extend(joined)
        context = _context_grids(done, stored)
        if parent_by and "level" in frame.columns and "grid_id" in frame.columns:
            probe = validate_grids(frame, file=item.shown, issues=[], repair=repair)
            frame, set_notes = assign_parents(
                probe, context, by=parent_by, file=item.shown, issues=local
            )
            notes.extend(set_notes)
        checked = validate_grids(
            frame,
            file=item.shown,
            repair=repair,
            parents_known=set(context["grid_id"]),
            context=context,
            issues=local,
            notes=notes,
        )
        issues.extend(local)
        if not local:
            done.append(checked)
    if not done:
        return None
    frames = [conform_layer("grids", d) for d in done]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=STORAGE_CRS)


def _context_grids(done: list[gpd.GeoDataFrame], stored: pd.DataFrame | None) -> gpd.GeoDataFrame:
    """Grids already checked in this import, then stored grids with other ids."""
    columns = ["grid_id", "parent_id", "level", "geometry"]
    frames = [conform_layer("grids", d)[columns] for d in done]
    ids = {g for d in frames for g in d["grid_id"]}
    if stored is not None and len(stored):
        keep = stored[~stored["grid_id"].isin(ids)]
        frames.append(keep[columns])
    if not frames:
        return gpd.GeoDataFrame(
            {"grid_id": [], "parent_id": [], "level": []}, geometry=[], crs=STORAGE_CRS
        )
    return gpd.GeoDataFrame(
        pd.concat(frames, ignore_index=True), geometry="geometry", crs=STORAGE_CRS
    )
