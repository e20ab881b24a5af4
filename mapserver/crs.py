"""The one CRS policy: store EPSG:4326, measure in a local metric CRS, undo GCJ-02/BD-09 shifts."""

# GCJ-02 and BD-09 are our own code: no maintained PyPI package does them (eviltransform
# and coord-convert were last released in 2018/2019), and the algorithm is ~60 lines.

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from mapserver.model import STORAGE_CRS

ArrayFunc = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

# Bounding box of China's territory (onshore and offshore, EPSG:4490 area of use).
CHINA_BOUNDS: tuple[float, float, float, float] = (73.62, 16.7, 134.77, 53.56)
# The looser box the GCJ-02 algorithm itself uses to decide "in China".
_GCJ_BOUNDS = (72.004, 0.8293, 137.8347, 55.8271)
_GCJ_A = 6378245.0  # Krasovsky 1940 semi-major axis, m
_GCJ_EE = 0.00669342162296594323  # Krasovsky 1940 first eccentricity squared
_BD_X_PI = np.pi * 3000.0 / 180.0
_INVERSE_TOL_DEG = 1e-9  # about 0.1 mm
_INVERSE_MAX_ITER = 30


def _bounds_4326(gdf_or_bounds) -> tuple[float, float, float, float]:
    """Return (minx, miny, maxx, maxy) in EPSG:4326 of a (Geo)Series/DataFrame or a bounds tuple."""
    if isinstance(gdf_or_bounds, gpd.GeoDataFrame | gpd.GeoSeries):
        data = gdf_or_bounds
        if data.crs is not None and not pyproj.CRS(data.crs).equals(pyproj.CRS(STORAGE_CRS)):
            data = data.to_crs(STORAGE_CRS)
        minx, miny, maxx, maxy = (float(v) for v in data.total_bounds)
    else:
        minx, miny, maxx, maxy = (float(v) for v in gdf_or_bounds)
    if not np.all(np.isfinite([minx, miny, maxx, maxy])):
        msg = "cannot choose a metric CRS for empty data (bounds are not finite)"
        raise ValueError(msg)
    return minx, miny, maxx, maxy


def metric_crs(gdf_or_bounds) -> pyproj.CRS:
    """Choose the local metric CRS for some data.

    Parameters
    ----------
    gdf_or_bounds
        A GeoDataFrame/GeoSeries (any CRS; none means EPSG:4326) or a tuple
        ``(minx, miny, maxx, maxy)`` in EPSG:4326 degrees.

    Returns
    -------
    pyproj.CRS
        The CGCS2000 3-degree Gauss–Krüger zone (EPSG:4534..4554, false easting
        500 km, no zone prefix) whose central meridian is nearest the data's
        centre when that centre lies in China; otherwise the WGS84 UTM zone of
        the centre (EPSG:326xx north, 327xx south). Units are metres.
    """
    minx, miny, maxx, maxy = _bounds_4326(gdf_or_bounds)
    lon, lat = (minx + maxx) / 2.0, (miny + maxy) / 2.0
    cx0, cy0, cx1, cy1 = CHINA_BOUNDS
    if cx0 <= lon <= cx1 and cy0 <= lat <= cy1:
        meridian = int(min(max(round(lon / 3.0) * 3, 75), 135))
        return pyproj.CRS.from_epsg(4534 + (meridian - 75) // 3)
    zone = int(min(max(np.floor((lon + 180.0) / 6.0) + 1, 1), 60))
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def to_metric(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoDataFrame | gpd.GeoSeries:
    """Project data to its local metric CRS (see :func:`metric_crs`); metres.

    Data without a CRS is taken to be EPSG:4326.
    """
    if gdf.crs is None:
        gdf = gdf.set_crs(STORAGE_CRS)
    return gdf.to_crs(metric_crs(gdf))


def to_storage(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoDataFrame | gpd.GeoSeries:
    """Return data in the storage CRS EPSG:4326 (data without a CRS is taken to be in it)."""
    if gdf.crs is None:
        return gdf.set_crs(STORAGE_CRS)
    return gdf.to_crs(STORAGE_CRS)


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Mask of points inside the box where GCJ-02 applies (degrees)."""
    x0, y0, x1, y1 = _GCJ_BOUNDS
    return (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 offset (dlon, dlat) in degrees at WGS84 positions (degrees)."""
    x = lon - 105.0
    y = lat - 35.0
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _GCJ_EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrtmagic) * np.pi)
    dlon = dlon * 180.0 / (_GCJ_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def _arrays(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Coerce coordinates to float arrays of one shape."""
    return np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Shift WGS84 lon/lat (degrees) to GCJ-02 (degrees); points outside China are unchanged."""
    lon, lat = _arrays(lon, lat)
    dlon, dlat = _gcj_offset(lon, lat)
    inside = _in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def _invert(forward: ArrayFunc, lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Invert a small-shift transform by fixed-point iteration (degrees in, degrees out)."""
    lon, lat = _arrays(lon, lat)
    x, y = lon.copy(), lat.copy()
    for _ in range(_INVERSE_MAX_ITER):
        fx, fy = forward(x, y)
        ex, ey = fx - lon, fy - lat
        x, y = x - ex, y - ey
        if np.all(np.abs(np.nan_to_num(ex)) < _INVERSE_TOL_DEG) and np.all(
            np.abs(np.nan_to_num(ey)) < _INVERSE_TOL_DEG
        ):
            break
    return x, y


def gcj02_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Undo the GCJ-02 shift (degrees in and out), iteratively to well under 0.5 m."""
    return _invert(wgs84_to_gcj02, lon, lat)


def gcj02_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Shift GCJ-02 lon/lat (degrees) to Baidu BD-09 (degrees)."""
    x, y = _arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Undo the BD-09 shift to GCJ-02 (degrees in and out), iteratively to well under 0.5 m."""
    return _invert(gcj02_to_bd09, lon, lat)


def wgs84_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Shift WGS84 lon/lat (degrees) to Baidu BD-09 (degrees)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Undo BD-09 to WGS84 (degrees in and out) through GCJ-02."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def transform_geometries(geoseries: gpd.GeoSeries, func: ArrayFunc) -> gpd.GeoSeries:
    """Apply a vectorised ``(lon, lat) -> (lon, lat)`` function to every coordinate.

    Parameters
    ----------
    geoseries
        Shapely 2 geometries in degrees; the CRS is kept as it is.
    func
        For instance :func:`gcj02_to_wgs84`; receives and returns 1-D arrays.
    """

    def _apply(coords: np.ndarray) -> np.ndarray:
        x, y = func(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    values = shapely.transform(np.asarray(geoseries.values), _apply)
    return gpd.GeoSeries(values, index=geoseries.index, crs=geoseries.crs, name=geoseries.name)


_SHIFTED: dict[str, ArrayFunc] = {
    "gcj02": gcj02_to_wgs84,
    "gcj-02": gcj02_to_wgs84,
    "gcj": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
    "bd-09": bd09_to_wgs84,
    "bd09ll": bd09_to_wgs84,
}


def convert_to_wgs84(gdf: gpd.GeoDataFrame, source: str) -> gpd.GeoDataFrame:
    """Interpret a layer's coordinates as ``source`` and return it in EPSG:4326.

    Parameters
    ----------
    gdf
        The layer; its own CRS, if any, is overridden by ``source``.
    source
        ``"gcj02"`` or ``"bd09"`` (lon/lat in degrees on the shifted Chinese
        web-map systems), or anything pyproj understands: ``"EPSG:4547"``,
        ``"4490"``, ``"CGCS2000"`` (taken as EPSG:4490)...

    Returns
    -------
    geopandas.GeoDataFrame
        A copy in EPSG:4326 (lon, lat degrees).
    """
    key = str(source).strip().lower().replace("_", "")
    if key in _SHIFTED:
        out = gdf.copy()
        out = out.set_geometry(transform_geometries(out.geometry, _SHIFTED[key]))
        return out.set_crs(STORAGE_CRS, allow_override=True)
    crs = _parse_crs(str(source).strip())
    return gdf.set_crs(crs, allow_override=True).to_crs(STORAGE_CRS)


def _parse_crs(source: str) -> pyproj.CRS:
    """Parse a CRS name, code or bare EPSG number; say what was given when it fails."""
    if source.upper() in ("CGCS2000", "CGCS 2000"):
        return pyproj.CRS.from_epsg(4490)
    if source.lower().endswith(".prj"):
        try:
            source = Path(source).read_text(encoding="utf-8", errors="replace").strip()
        except OSError as exc:
            msg = f"cannot read the .prj file {source!r}: {exc}"
            raise ValueError(msg) from exc
    if source.isdigit():
        source = f"EPSG:{source}"
    try:
        return pyproj.CRS.from_user_input(source)
    except pyproj.exceptions.CRSError as exc:
        shown = source if len(source) <= 80 else source[:77] + "…"
        msg = (
            f"unknown coordinate system {shown!r}: use an EPSG code, 'gcj02', 'bd09', "
            f"a .prj file, WKT or a PROJ string ({exc})"
        )
        raise ValueError(msg) from exc
