"""Event tables (case or report lists, CSV/XLSX with lon/lat): read, check, convert to WGS84."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from mapserver.errors import ValidationError, ValidationIssue
from mapserver.io.readers import read_table, to_wgs84
from mapserver.io.tables import points_from_table
from mapserver.model import STORAGE_CRS

# Header aliases of the event fields, first match wins (compared stripped and lower-case).
EVENT_ALIASES: dict[str, tuple[str, ...]] = {
    "event_id": (
        "event_id",
        "事件编号",
        "病例编号",
        "案例编号",
        "报告编号",
        "编号",
        "case_id",
        "report_id",
        "id",
    ),
    "occurred_at": (
        "occurred_at",
        "发生时间",
        "发生日期",
        "报告时间",
        "报告日期",
        "发病日期",
        "确诊日期",
        "日期",
        "时间",
        "datetime",
        "date",
        "time",
    ),
    "kind": ("kind", "类型", "类别", "事件类型", "病例类型", "category", "type"),
    "name": ("name", "名称", "小区", "小区名称"),
    "address": ("address", "地址", "详细地址", "住址"),
}
_SHIFTED = frozenset({"gcj02", "gcj-02", "gcj", "bd09", "bd-09", "bd09ll"})
_CN_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?")


@dataclass(frozen=True)
class EventTable:
    """Event points read from one file.

    Attributes
    ----------
    points
        EPSG:4326 points with ``event_id``, ``row`` (the user's 1-based data
        row), ``occurred_at`` (ISO text or None), ``day`` (YYYY-MM-DD or None),
        ``kind``, ``name``, ``address`` and ``properties`` (dict of the other
        columns' non-blank text).
    issues
        Rows left out (no usable coordinates) and fields dropped (a date that
        does not parse); none of these stops the import.
    fields
        Which column of the file became which event field.
    skipped
        Number of rows left out.
    """

    file: str
    points: gpd.GeoDataFrame
    issues: list[ValidationIssue] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    skipped: int = 0


def _key(name: object) -> str:
    return str(name).strip().lower().replace(" ", "_")


def _match_fields(columns: list[str], taken: set[str]) -> dict[str, str]:
    """Event field -> source column, by alias, never reusing a column."""
    keyed = {_key(c): c for c in columns if c not in taken}
    out: dict[str, str] = {}
    for name, aliases in EVENT_ALIASES.items():
        for alias in aliases:
            column = keyed.get(alias)
            if column is not None and column not in out.values():
                out[name] = column
                break
    return out


def parse_time(value: object) -> pd.Timestamp | None:
    """Parse a date or date-time cell (``2022-03-05``, ``2022/3/5 14:20``, ``2022年3月5日``).

    Returns None when the text is not a date.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    if not text:
        return None
    text = _CN_DATE.sub(lambda m: f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d} ", text).strip()
    text = text.replace("时", ":").replace("分", "").replace("秒", "")
    if re.fullmatch(r"\d{8}", text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        return None
    if pd.isna(stamp) or not 1900 <= stamp.year <= 2200:
        return None
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def _iso(stamp: pd.Timestamp | None) -> tuple[str | None, str | None]:
    """(occurred_at, day) text of a parsed time: the date alone when no time of day was given."""
    if stamp is None:
        return None, None
    day = stamp.strftime("%Y-%m-%d")
    has_time = (stamp.hour, stamp.minute, stamp.second) != (0, 0, 0)
    return (stamp.isoformat() if has_time else day), day


def _is_geographic(source_crs: str | None) -> bool:
    """True when coordinates are lon/lat degrees (WGS84, CGCS2000, GCJ-02, BD-09...)."""
    if not source_crs:
        return True
    key = str(source_crs).strip().lower().replace("_", "")
    if key in _SHIFTED:
        return True
    try:
        text = f"EPSG:{source_crs}" if str(source_crs).strip().isdigit() else str(source_crs)
        if text.strip().upper() in ("CGCS2000", "CGCS 2000"):
            return True
        return pyproj.CRS.from_user_input(text).is_geographic
    except pyproj.exceptions.CRSError:
        return True  # the conversion itself names the bad CRS


def _content_ids(frame: pd.DataFrame) -> list[str]:
    """Ids derived from each row's cells (same row, same id), ``-2``... for repeated rows."""
    seen: dict[str, int] = {}
    out: list[str] = []
    for values in frame.itertuples(index=False, name=None):
        text = "\x1f".join("" if pd.isna(v) else str(v) for v in values)
        base = "E" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


def _row_issues(
    table: gpd.GeoDataFrame, file: str, *, geographic: bool
) -> tuple[np.ndarray, list[ValidationIssue]]:
    """Rows with usable coordinates, and an issue for every other row (vectorised checks)."""
    geoms = np.asarray(table.geometry.values, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    point = ~missing & (shapely.get_type_id(geoms) == 0)
    x = np.where(point, shapely.get_x(np.where(point, geoms, None)), np.nan)
    y = np.where(point, shapely.get_y(np.where(point, geoms, None)), np.nan)
    finite = np.isfinite(x) & np.isfinite(y)
    in_range = (np.abs(x) <= 180) & (np.abs(y) <= 90)
    zero = (x == 0) & (y == 0)
    usable = point & finite & (in_range & ~zero if geographic else True)
    where = "lon/lat" if "lon" in table else "geometry"
    issues: list[ValidationIssue] = []
    for i in np.flatnonzero(~usable).tolist():
        if missing[i]:
            raw = (table["lon"].iat[i], table["lat"].iat[i]) if "lon" in table else (None, None)
            blank = all(v is None or (isinstance(v, float) and np.isnan(v)) for v in raw)
            reason = (
                "no coordinates" if blank else f"coordinates {raw[0]!r}, {raw[1]!r} are not numbers"
            )
        elif not point[i]:
            reason = f"a {geoms[i].geom_type}, not a point"
        elif not finite[i]:
            reason = "coordinates are not finite"
        elif not in_range[i]:
            reason = (
                f"{x[i]:g}, {y[i]:g} is not lon/lat in degrees (give the CRS, e.g. --crs EPSG:4549)"
            )
        else:
            reason = "0, 0 is not a location (not geocoded?)"
        issues.append(ValidationIssue(file, i + 1, where, reason))
    return usable, issues


def events_from_table(
    table: pd.DataFrame, *, file: str, source_crs: str | None = None
) -> EventTable:
    """Turn a table of event rows (text cells) into EPSG:4326 points.

    Parameters
    ----------
    table
        As read by :func:`mapserver.io.readers.read_table`: lon/lat columns
        (经度/纬度, lng/lat, x/y...) or WKT points in ``geometry``; optionally an
        id (事件编号/编号/id), a date or time (发生时间/日期/date/time), a kind
        (类型/类别), a name (名称/小区) and an address (地址). Other columns are
        kept as properties.
    file
        The name used in messages.
    source_crs
        What the coordinates are: None for WGS84, ``"gcj02"``, ``"bd09"`` or an EPSG code.

    Returns
    -------
    EventTable
        Rows without usable coordinates are left out and listed as issues;
        a date that does not parse is dropped from its row and listed.

    Raises
    ------
    ValidationError
        Only for problems of the whole file: no coordinate columns, an unknown
        CRS, or one event id on several rows (each listed).
    """
    if not len(table.columns):
        raise ValidationError([ValidationIssue(file, None, None, "the table has no columns")])
    with_points = points_from_table(table)
    if not isinstance(with_points, gpd.GeoDataFrame):
        reason = "no coordinate columns: need lon/lat (经度/纬度, lng, x/y) or WKT geometry"
        raise ValidationError([ValidationIssue(file, None, "lon/lat", reason)])
    coordinate_columns = {"lon", "lat", "geometry_text", "geometry"}
    fields = _match_fields(
        [c for c in with_points.columns if c not in coordinate_columns], coordinate_columns
    )
    usable, issues = _row_issues(with_points, file, geographic=_is_geographic(source_crs))
    rows = np.arange(1, len(with_points) + 1)
    original = [c for c in table.columns]
    if "event_id" in fields:
        ids = [
            None if pd.isna(v) else str(v).strip() or None for v in with_points[fields["event_id"]]
        ]
        for i, value in enumerate(ids):
            if value is None and usable[i]:
                issues.append(ValidationIssue(file, i + 1, fields["event_id"], "no event id"))
                usable[i] = False
        first: dict[str, int] = {}
        dup_issues = []
        for i, value in enumerate(ids):
            if value is None or not usable[i]:
                continue
            if value in first:
                reason = f"event id '{value}' appears twice (first at row {first[value]})"
                dup_issues.append(ValidationIssue(file, i + 1, fields["event_id"], reason))
            else:
                first[value] = i + 1
        if dup_issues:
            raise ValidationError(dup_issues)
    else:
        ids = _content_ids(table[original])
    kept = with_points[usable]
    used = set(fields.values()) | coordinate_columns
    extra = [c for c in kept.columns if c not in used and c != kept.geometry.name]
    times: list[str | None] = []
    days: list[str | None] = []
    parsed: dict[object, tuple[str | None, str | None]] = {}  # dates repeat: parse each once
    cells = kept[fields["occurred_at"]] if "occurred_at" in fields else [None] * len(kept)
    for i, value in zip(rows[usable].tolist(), cells, strict=True):
        blank = value is None or (isinstance(value, float) and np.isnan(value))
        if value not in parsed:
            stamp = None if blank else parse_time(value)
            parsed[value] = _iso(stamp)
        when, day = parsed[value]
        if when is None and not blank:
            reason = f"'{value}' is not a date; left blank"
            issues.append(ValidationIssue(file, i, fields["occurred_at"], reason))
        times.append(when)
        days.append(day)

    def column(name: str) -> list:
        if name not in fields:
            return [None] * len(kept)
        return [None if pd.isna(v) else str(v) for v in kept[fields[name]]]

    properties = [
        {c: str(v) for c, v in zip(extra, values, strict=True) if not pd.isna(v)}
        for values in kept[extra].itertuples(index=False, name=None)
    ]
    points = gpd.GeoDataFrame(
        {
            "event_id": [ids[i - 1] for i in rows[usable]],
            "row": rows[usable],
            "occurred_at": times,
            "day": days,
            "kind": column("kind"),
            "name": column("name"),
            "address": column("address"),
            "properties": properties,
        },
        geometry=list(kept.geometry),
    )
    try:
        points = to_wgs84(points, source_crs=source_crs)
    except ValueError as err:
        raise ValidationError([ValidationIssue(file, None, "crs", str(err))]) from err
    points = points.set_crs(STORAGE_CRS, allow_override=True).reset_index(drop=True)
    issues.sort(key=lambda issue: issue.row or 0)
    skipped = int((~usable).sum())
    return EventTable(file=file, points=points, issues=issues, fields=fields, skipped=skipped)


def read_events(
    path: str | Path, *, source_crs: str | None = None, file: str | None = None
) -> EventTable:
    """Read an event table (CSV or XLSX) and return its points in EPSG:4326.

    ``file`` is the name shown in messages (the path's name by default); see
    :func:`events_from_table` for columns, issues and errors.
    """
    path = Path(path)
    shown = file or path.name
    try:
        table = read_table(path)
    except (ValueError, OSError) as err:
        raise ValidationError([ValidationIssue(shown, None, None, f"cannot read: {err}")]) from err
    return events_from_table(table, file=shown, source_crs=source_crs)


def properties_json(properties: object) -> str | None:
    """The properties of one event as JSON text (None when empty)."""
    if not properties:
        return None
    return json.dumps(properties, ensure_ascii=False, sort_keys=True)
