"""Validation of imported layers; every problem becomes an issue naming file, row and field."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapserver.errors import ValidationError, ValidationIssue
from mapserver.io.checks import (
    check_counts,
    check_geometries,
    check_ids,
    count,
    finish,
    missing_columns,
    row_number,
    text,
    texts,
)
from mapserver.io.validate_grids import leaf_grids, validate_grids
from mapserver.model import (
    BUILDING_REQUIRED,
    ENTITY_KINDS,
    HOUSEHOLD_REQUIRED,
    StatusRow,
)

__all__ = [
    "ValidationError",
    "ValidationIssue",
    "validate_buildings",
    "validate_grids",
    "validate_households",
    "validate_status",
]

BUILDING_TYPES = frozenset({"Point", "Polygon", "MultiPolygon"})

_KIND_NAMES: dict[str, str] = {
    **{k: k for k in ENTITY_KINDS},
    "户": "household",
    "住户": "household",
    "楼": "building",
    "楼栋": "building",
}


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
    missing = missing_columns(gdf, BUILDING_REQUIRED, file, local)
    if missing:
        finish(local, issues)
        return gdf
    gdf["building_id"] = pd.Series(
        check_ids(gdf, "building_id", file, local), index=gdf.index, dtype=object
    )
    check_counts(gdf, ("units", "households", "residents"), file, local)
    geoms, good = check_geometries(gdf, BUILDING_TYPES, file, local, repair=repair)
    gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    if grids is not None:
        gdf["grid_id"] = texts(_place(gdf, good, grids, file, local), gdf.index)
    finish(local, issues)
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
            issues.append(ValidationIssue(file, row_number(i), "grid_id", reason))
        elif grid_id not in leaf_ids:
            reason = f"grid '{grid_id}' has sub-grids; a building belongs to a leaf grid"
            issues.append(ValidationIssue(file, row_number(i), "grid_id", reason))
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
            issues.append(ValidationIssue(file, row_number(int(i)), "geometry", reason))
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
    if missing_columns(df, HOUSEHOLD_REQUIRED, file, local) & {"household_id", "building_id"}:
        finish(local, issues)
        return df
    df["household_id"] = texts(check_ids(df, "household_id", file, local), df.index)
    df["building_id"] = texts(df["building_id"], df.index)
    for i, building in enumerate(df["building_id"]):
        if building is None:
            local.append(ValidationIssue(file, row_number(i), "building_id", "building is empty"))
        elif building_ids is not None and building not in building_ids:
            reason = f"building '{building}' does not exist"
            local.append(ValidationIssue(file, row_number(i), "building_id", reason))
    for column in ("unit", "room"):
        if column in df.columns:
            df[column] = texts(df[column], df.index)
    check_counts(df, ("residents",), file, local)
    finish(local, issues)
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
        finish(local, issues)
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
                local.append(ValidationIssue(file, row_number(i), "persons", reason))
        if entity is not None:
            if entity in seen:
                reason = (
                    f"{entity[0]} '{entity[1]}' appears twice in this batch "
                    f"(first at row {row_number(seen[entity])})"
                )
                local.append(
                    ValidationIssue(file, row_number(i), _entity_column(id_columns), reason)
                )
            else:
                seen[entity] = i
        if len(local) == before and entity is not None and status is not None:
            rows.append(StatusRow(entity[0], entity[1], status, persons))
    finish(local, issues)
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
                issues.append(ValidationIssue(file, row_number(i), "entity_kind", reason))
                return None
    else:
        found = [
            (c, text(df[c].iloc[i]))
            for c in ("household_id", "building_id")
            if c in id_columns and text(df[c].iloc[i]) is not None
        ]
        if not found:
            issues.append(ValidationIssue(file, row_number(i), column, "no entity id on this row"))
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
            issues.append(ValidationIssue(file, row_number(i), column, reason))
            return None
        else:
            reason = f"'{entity_id}' is neither a known household nor a known building"
            issues.append(
                ValidationIssue(
                    file, row_number(i), column, reason, code="unknown_entity", value=entity_id
                )
            )
            return None
    elif entity_id not in known[kind]:
        reason = f"{kind} '{entity_id}' does not exist"
        issues.append(
            ValidationIssue(
                file, row_number(i), column, reason, code="unknown_entity", value=entity_id
            )
        )
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
        issues.append(ValidationIssue(file, row_number(i), "status", "status is empty"))
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
    issues.append(
        ValidationIssue(file, row_number(i), "status", reason, code="bad_status", value=raw)
    )
    return None
