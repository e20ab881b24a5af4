"""The event layer in the store: merge or replace by event id, audited, and read back."""

from __future__ import annotations

import json
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from mapserver import model
from mapserver.store.engine import fetch_rows
from mapserver.store.frames import check_crs
from mapserver.store.imports import log_import
from mapserver.store.schema import BBOX_COLUMNS
from mapserver.store.writes import bulk_insert, utc_now

_IN_CHUNK = 5_000


def _text(value: object) -> str | None:
    """Text of a cell, None for missing values."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    return str(value)


def _properties(value: object) -> str | None:
    """Properties as JSON text: a dict is encoded, text is kept, empty is None."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return value or None
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else None


def event_values(
    frame: gpd.GeoDataFrame, *, dialect: str, file: str | None, user: str, keep_origin: bool = False
) -> tuple[list[str], list[list]]:
    """Column names and per-column values to insert for joined events (EPSG:4326).

    ``keep_origin`` keeps the frame's own source_file, imported_at and imported_by
    (a re-join of stored events); otherwise they are ``file``, now and ``user``.
    """
    check_crs(frame, "events")
    n = len(frame)
    now = utc_now()
    names: list[str] = []
    values: list[list] = []
    for name in model.EVENT_COLUMNS:
        if name == "geometry":
            geoms = np.asarray(frame.geometry, dtype=object)
            if dialect == "postgresql":
                wkb = shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=True, include_srid=True)
            else:
                wkb = shapely.to_wkb(geoms)
            bounds = shapely.bounds(geoms)
            names.append(name)
            values.append(list(wkb))
            for i, bname in enumerate(BBOX_COLUMNS):
                names.append(bname)
                values.append([None if np.isnan(v) else float(v) for v in bounds[:, i]])
            continue
        names.append(name)
        if name not in frame.columns:
            values.append([None] * n)
        elif name == "building_distance_m":
            numbers = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
            values.append([None if np.isnan(v) else round(float(v), 2) for v in numbers])
        elif name == "properties":
            values.append([_properties(v) for v in frame[name]])
        else:
            values.append([_text(v) for v in frame[name]])
    for name, value in (("source_file", file), ("imported_at", now), ("imported_by", user)):
        names.append(name)
        if keep_origin and name in frame.columns:
            values.append([_text(v) for v in frame[name]])
        else:
            values.append([value] * n)
    return names, values


def _existing_ids(conn: sa.Connection, table: sa.Table, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` are already stored."""
    found: set[str] = set()
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start : start + _IN_CHUNK]
        query = sa.select(table.c.event_id).where(table.c.event_id.in_(chunk))
        found.update(conn.execute(query).scalars())
    return found


def write_events(
    conn: sa.Connection,
    tables: dict[str, sa.Table],
    frame: gpd.GeoDataFrame,
    *,
    replace: bool,
    user: str,
    file: str | None,
    report: dict | None = None,
    rejoin: bool = False,
) -> dict[str, int]:
    """Write joined events inside the caller's transaction and log it in ``import_log``.

    Parameters
    ----------
    frame
        Columns of ``model.EVENT_COLUMNS`` (EPSG:4326); event ids unique.
    replace
        True: the whole layer is replaced by ``frame``. False (merge): rows
        whose event id is already stored are replaced, the others added, the
        rest of the layer kept.
    rejoin
        The frame is the stored layer joined again to changed grids/buildings:
        its rows keep their source file and import time; recorded as "rejoin".

    Returns
    -------
    dict
        ``rows`` written, ``added``, ``replaced`` (ids that were stored before)
        and ``deleted`` (stored events removed that are not in the file;
        non-zero only with ``replace``).
    """
    table = tables["events"]
    ids = [str(v) for v in frame["event_id"]]
    if len(set(ids)) != len(ids):
        msg = "events: an event id appears twice in one write"
        raise ValueError(msg)
    present = _existing_ids(conn, table, ids)
    if replace:
        before = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        conn.execute(sa.delete(table))
        deleted = int(before) - len(present)
    else:
        gone = sorted(present)
        for start in range(0, len(gone), _IN_CHUNK):
            chunk = gone[start : start + _IN_CHUNK]
            conn.execute(sa.delete(table).where(table.c.event_id.in_(chunk)))
        deleted = 0
    names, values = event_values(
        frame, dialect=conn.dialect.name, file=file, user=user, keep_origin=rejoin
    )
    bulk_insert(conn, table, names, values)
    result = {
        "rows": len(ids),
        "added": len(ids) - len(present),
        "replaced": len(present),
        "deleted": deleted,
    }
    mode = "rejoin" if rejoin else "replace" if replace else "merge"
    plan = {"added": result["added"], "updated": result["replaced"], "deleted": deleted}
    log_import(
        conn,
        tables["import_log"],
        user=user,
        mode=json.dumps({"events": mode}),
        files=[file] if file else [],
        summary={"rows": {"events": len(ids)}, "plan": {"events": plan}, "join": report or {}},
    )
    return result


def read_events(
    conn: sa.Connection,
    table: sa.Table,
    *,
    dialect: str,
    grid_ids: Sequence[str] | None = None,
) -> gpd.GeoDataFrame:
    """Stored events (model.EVENT_COLUMNS plus source_file, imported_at, imported_by).

    ``grid_ids`` keeps only events joined to those grids; ``properties`` is a dict.
    """
    columns: list[sa.ColumnElement] = []
    for column in table.columns:
        if column.name in BBOX_COLUMNS:
            continue
        if column.name == "geometry" and dialect == "postgresql":
            columns.append(sa.func.ST_AsBinary(column, type_=sa.LargeBinary).label("geometry"))
        else:
            columns.append(column)
    names = [c.name for c in columns]
    rows: list = []
    if grid_ids is None:
        rows = fetch_rows(conn, sa.select(*columns).order_by(table.c.event_id))
    else:
        wanted = sorted({str(g) for g in grid_ids})
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            rows.extend(fetch_rows(conn, sa.select(*columns).where(table.c.grid_id.in_(chunk))))
        rows.sort(key=lambda r: r[names.index("event_id")])
    frame = pd.DataFrame([tuple(r) for r in rows], columns=names, dtype=object)
    wkb = [None if v is None else bytes(v) for v in frame["geometry"]]
    geoms = shapely.from_wkb(np.asarray(wkb, dtype=object)) if wkb else []
    frame["building_distance_m"] = pd.to_numeric(frame["building_distance_m"]).astype(float)
    frame["properties"] = pd.Series(
        [json.loads(v) if isinstance(v, str) and v else {} for v in frame["properties"]],
        dtype=object,
    )
    frame = frame.drop(columns="geometry")
    return gpd.GeoDataFrame(frame, geometry=list(geoms), crs=model.STORAGE_CRS)
