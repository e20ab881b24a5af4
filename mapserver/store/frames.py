"""Conversion between layer frames (EPSG:4326) and the plain column values the store writes."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from pyproj import CRS

from mapserver import model
from mapserver.store.schema import BBOX_COLUMNS, BOOLEAN_COLUMNS, FLOAT_COLUMNS, INTEGER_COLUMNS

_TRUE = frozenset({"true", "t", "1", "yes", "y"})
_FALSE = frozenset({"false", "f", "0", "no", "n"})


def column_kind(name: str) -> str:
    """Return ``int``, ``bool``, ``float``, ``geometry`` or ``text`` for a layer column."""
    if name == "geometry":
        return "geometry"
    if name in INTEGER_COLUMNS:
        return "int"
    if name in BOOLEAN_COLUMNS:
        return "bool"
    if name in FLOAT_COLUMNS:
        return "float"
    return "text"


def _blank_to_none(value: object) -> object:
    """Return None for missing values and blank text, the value otherwise."""
    if isinstance(value, str):
        return value if value.strip() else None
    return None if pd.isna(value) else value


def _int_values(series: pd.Series, where: str) -> list:
    """Return Python ints (None when missing) from a column of numbers or numeric text."""
    try:
        if not pd.api.types.is_numeric_dtype(series.dtype):
            series = pd.to_numeric(series.map(_blank_to_none), errors="raise")
        array = pd.array(series, dtype="Int64")
    except (TypeError, ValueError) as exc:
        msg = f"{where}: values are not whole numbers ({exc})"
        raise ValueError(msg) from exc
    mask = array.isna()
    values = array.to_numpy(dtype=np.int64, na_value=0).tolist()
    if mask.any():
        return [None if m else v for v, m in zip(values, mask.tolist(), strict=True)]
    return values


def _bool_values(series: pd.Series, where: str) -> list:
    """Return Python bools (None when missing) from bools, 0/1 or yes/no text."""
    out: list = []
    for value in series.tolist():
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            out.append(None)
        elif isinstance(value, str):
            word = value.strip().lower()
            if word in _TRUE:
                out.append(True)
            elif word in _FALSE:
                out.append(False)
            elif word == "":
                out.append(None)
            else:
                msg = f"{where}: {value!r} is not a yes/no value"
                raise ValueError(msg)
        else:
            out.append(bool(value))
    return out


def _float_values(series: pd.Series, where: str) -> list:
    """Return Python floats (None when missing)."""
    try:
        array = pd.to_numeric(series, errors="raise").astype("float64").to_numpy()
    except (TypeError, ValueError) as exc:
        msg = f"{where}: values are not numbers ({exc})"
        raise ValueError(msg) from exc
    return [None if np.isnan(v) else v for v in array.tolist()]


def _text_values(series: pd.Series) -> list:
    """Return Python strings (None when missing); numbers become their text."""
    mask = series.isna().tolist()
    values = series.tolist()
    return [
        None if m else (v if isinstance(v, str) else str(v))
        for v, m in zip(values, mask, strict=True)
    ]


def check_crs(frame: pd.DataFrame, layer: str) -> None:
    """Raise ValueError unless a GeoDataFrame's CRS is EPSG:4326 (lon, lat) or unset."""
    crs = getattr(frame, "crs", None)
    if crs is None:
        return
    if not CRS.from_user_input(crs).equals(CRS.from_user_input(model.STORAGE_CRS), True):
        msg = (
            f"layer {layer!r} is in {CRS.from_user_input(crs).to_string()}, "
            f"the store holds {model.STORAGE_CRS}: reproject it first"
        )
        raise ValueError(msg)


def _geometry_array(frame: pd.DataFrame, layer: str) -> np.ndarray:
    """Return the frame's geometries as an object array of shapely geometries (None if missing)."""
    if isinstance(frame, gpd.GeoDataFrame) and frame._geometry_column_name in frame.columns:
        series = frame.geometry
    elif "geometry" in frame.columns:
        series = frame["geometry"]
    else:
        return np.full(len(frame), None, dtype=object)
    values = np.asarray(series, dtype=object)
    if len(values) and not all(v is None or isinstance(v, shapely.Geometry) for v in values):
        msg = f"layer {layer!r}: column 'geometry' holds values that are not geometries"
        raise ValueError(msg)
    return values


def layer_values(frame: pd.DataFrame, layer: str, *, dialect: str) -> tuple[list[str], list[list]]:
    """Return the columns and per-column Python values to write for a layer frame.

    Parameters
    ----------
    frame
        DataFrame or GeoDataFrame with the columns of ``model.LAYERS[layer]``;
        missing optional columns become NULL, extra columns are ignored.
        Geometries must be in EPSG:4326.
    layer
        A key of ``model.LAYERS``.
    dialect
        ``"sqlite"`` (geometry as WKB bytes) or ``"postgresql"`` (hex EWKB, SRID 4326).

    Returns
    -------
    Column names (geometry followed by minx, miny, maxx, maxy) and one list of
    values per column.
    """
    check_crs(frame, layer)
    names: list[str] = []
    values: list[list] = []
    n = len(frame)
    for name in model.LAYERS[layer]:
        kind = column_kind(name)
        where = f"layer {layer!r} column {name!r}"
        if kind == "geometry":
            geoms = _geometry_array(frame, layer)
            bounds = shapely.bounds(geoms)
            if dialect == "postgresql":
                wkb = shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=True, include_srid=True)
            else:
                wkb = shapely.to_wkb(geoms)
            names.append(name)
            values.append(wkb.tolist())
            for i, bname in enumerate(BBOX_COLUMNS):
                column = bounds[:, i]
                names.append(bname)
                values.append([None if np.isnan(v) else v for v in column.tolist()])
            continue
        names.append(name)
        if name not in frame.columns:
            values.append([None] * n)
        elif kind == "int":
            values.append(_int_values(frame[name], where))
        elif kind == "bool":
            values.append(_bool_values(frame[name], where))
        elif kind == "float":
            values.append(_float_values(frame[name], where))
        else:
            values.append(_text_values(frame[name]))
    return names, values


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of row tuples are made and dropped."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _series(values: np.ndarray, kind: str) -> pd.Series:
    """Return a column read from the database (object array) with the dtype of its kind."""
    if kind in ("int", "bool"):
        nullable = bool(pd.isna(values).any())
        if kind == "int":
            dtype = "Int64" if nullable else "int64"
        else:
            dtype = "boolean" if nullable else "bool"
        return pd.Series(pd.array(values, dtype=dtype) if nullable else values.astype(dtype))
    if kind == "float":
        return pd.Series(values, dtype="float64")
    return pd.Series(values, dtype="str")


def build_frame(
    columns: Sequence[str], rows: Sequence[Sequence], *, geometry: bool
) -> pd.DataFrame | gpd.GeoDataFrame:
    """Return a frame from database rows, typed by column name.

    Integer columns are ``int64`` (``Int64`` when some are missing), yes/no
    columns ``bool`` (``boolean`` when some are missing), text ``str``; a
    ``geometry`` column of WKB becomes a GeoDataFrame in EPSG:4326.
    """
    table = np.empty((len(rows), len(columns)), dtype=object)
    if len(rows):
        table[:] = rows
    series: dict[str, pd.Series] = {}
    for index, name in enumerate(columns):
        kind = column_kind(name)
        if kind != "geometry":
            series[name] = _series(table[:, index], kind)
    frame = pd.DataFrame(series, columns=[c for c in columns if c != "geometry"])
    if not geometry:
        return frame
    wkb = table[:, list(columns).index("geometry")]
    if any(isinstance(v, memoryview) for v in wkb):
        wkb = np.asarray([None if v is None else bytes(v) for v in wkb], dtype=object)
    geoms = shapely.from_wkb(wkb) if len(wkb) else np.empty(0, dtype=object)
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms), crs=model.STORAGE_CRS)
    return gdf[list(columns)]


def selectable(table: sa.Table, dialect: str) -> list[sa.ColumnElement]:
    """The table's columns to read, geometry as WKB on both backends."""
    out: list[sa.ColumnElement] = []
    for column in table.columns:
        if column.name == "geometry" and dialect == "postgresql":
            out.append(sa.func.ST_AsBinary(column, type_=sa.LargeBinary).label("geometry"))
        else:
            out.append(column)
    return out
