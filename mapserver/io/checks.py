"""Checks shared by the layer validators: cells as text and numbers, ids, geometries."""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.validation import explain_validity

from mapserver import crs
from mapserver.errors import ValidationError, ValidationIssue
from mapserver.model import STORAGE_CRS

POLYGONAL = frozenset({"Polygon", "MultiPolygon"})


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


MAX_COUNT = 1_000_000_000  # households, residents, persons: far below a database integer


def count(value: object) -> tuple[bool, int | None]:
    """Parse a whole number from 0 to MAX_COUNT; returns (ok, value), blank is (True, None)."""
    raw = text(value)
    if raw is None:
        return True, None
    try:
        number = float(raw)
    except ValueError:
        return False, None
    if not np.isfinite(number) or not 0 <= number <= MAX_COUNT or not number.is_integer():
        return False, None
    return True, int(number)


def row_number(i: int) -> int:
    """The user's 1-based row (data row of a table, feature of a vector file)."""
    return i + 1


def finish(local: list[ValidationIssue], issues: list[ValidationIssue] | None) -> None:
    """Append to the caller's list, or raise when the caller gave none."""
    if issues is not None:
        issues.extend(local)
    elif local:
        raise ValidationError(local)


def missing_columns(
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


def check_ids(df: pd.DataFrame, column: str, file: str, issues: list[ValidationIssue]) -> list:
    """Identifiers as text; report blanks and duplicates (naming the first row)."""
    ids = [text(v) for v in df[column]]
    first: dict[str, int] = {}
    for i, value in enumerate(ids):
        if value is None:
            issues.append(ValidationIssue(file, row_number(i), column, "identifier is empty"))
        elif value in first:
            reason = f"'{value}' appears twice (first at row {row_number(first[value])})"
            issues.append(ValidationIssue(file, row_number(i), column, reason))
        else:
            first[value] = i
    return ids


def check_counts(df: pd.DataFrame, columns: Iterable[str], file: str, issues: list) -> None:
    """Check optional whole-number columns in place (text -> nullable Int64)."""
    for column in columns:
        if column not in df.columns:
            continue
        values = []
        for i, raw in enumerate(df[column]):
            ok, value = count(raw)
            if not ok:
                reason = f"'{raw}' is not a whole number of zero or more"
                issues.append(ValidationIssue(file, row_number(i), column, reason))
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


def check_geometries(
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
            issues.append(
                ValidationIssue(file, row_number(i), "geometry", _no_geometry_reason(gdf, i))
            )
            continue
        minx, miny, maxx, maxy = geom.bounds
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            reason = (
                f"coordinates ({minx:.6g}, {miny:.6g}) are outside lon -180..180 / lat -90..90: "
                "the coordinate system is probably wrong (projected metres read as degrees?); "
                "give the source CRS, e.g. EPSG:4549"
            )
            issues.append(ValidationIssue(file, row_number(i), "geometry", reason))
            continue
        if geom.geom_type not in allowed:
            reason = f"{geom.geom_type} geometry where {' or '.join(sorted(allowed))} is expected"
            issues.append(ValidationIssue(file, row_number(i), "geometry", reason))
            continue
        if not geom.is_valid:
            if not repair:
                reason = f"invalid geometry: {explain_validity(geom)} (import with repair to fix)"
                issues.append(ValidationIssue(file, row_number(i), "geometry", reason))
                continue
            geom = polygonal_part(shapely.make_valid(geom)) if geom.geom_type in POLYGONAL else geom
            if geom is None:
                reason = "invalid geometry that repair reduces to nothing polygonal"
                issues.append(ValidationIssue(file, row_number(i), "geometry", reason))
                continue
            geoms[i] = geom
        good[i] = True
    return geoms, good


def polygonal_part(geom):
    """The polygonal part of a repaired geometry (Polygon/MultiPolygon) or None."""
    if geom.geom_type in POLYGONAL:
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in POLYGONAL]
    if not parts:
        return None
    merged = shapely.union_all(parts)
    return merged if merged.geom_type in POLYGONAL else None


def metric_geometries(gdf: gpd.GeoDataFrame, good: np.ndarray) -> gpd.GeoSeries:
    """Good geometries in the metric CRS chosen from them (others become None)."""
    series = gpd.GeoSeries(np.where(good, gdf.geometry.values, None), crs=STORAGE_CRS)
    if not good.any():
        return series
    return series.to_crs(crs.metric_crs(series[good]))
