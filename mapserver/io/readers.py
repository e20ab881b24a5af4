"""Read vector files (GeoJSON, GeoPackage, zipped Shapefile, KML) and tables (CSV, XLSX)."""

from __future__ import annotations

import codecs
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from shapely.geometry import (
    GeometryCollection,
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
)
from shapely.geometry.base import BaseGeometry

from mapserver import crs
from mapserver.errors import ValidationError, ValidationIssue
from mapserver.io import safety
from mapserver.io.encoding import detect_text, normal_encoding, shapefile_encoding
from mapserver.model import STORAGE_CRS

VECTOR_SUFFIXES: tuple[str, ...] = (".geojson", ".json", ".gpkg", ".zip", ".shp", ".kml")
TABLE_SUFFIXES: tuple[str, ...] = (".csv", ".xlsx")

# Columns LIBKML adds to every Placemark; dropped unless they hold something.
_KML_META = (
    "id",
    "description",
    "timestamp",
    "begin",
    "end",
    "altitudeMode",
    "tessellate",
    "extrude",
    "visibility",
    "drawOrder",
    "icon",
    "snippet",
)
_KML_NS = "{http://www.opengis.net/kml/2.2}"


def read_vector(
    path: str | Path, *, source_crs: str | None = None, encoding: str | None = None
) -> gpd.GeoDataFrame:
    """Read a vector file into a GeoDataFrame in EPSG:4326.

    Parameters
    ----------
    path
        ``.geojson``/``.json``, ``.gpkg`` (first layer), ``.zip`` holding a
        Shapefile, ``.shp`` or ``.kml`` (every folder concatenated).
    source_crs
        The coordinate system the coordinates are really in (EPSG code,
        ``"gcj02"``, ``"bd09"``); overrides the file's own CRS. ``None`` uses
        the file's CRS, or EPSG:4326 when the file has none. A WKT or PROJ
        string, or the path of a ``.prj`` file, is understood too.
    encoding
        Text encoding of a Shapefile's attributes; ``None`` detects it
        (``.cpg``, else a UTF-8 / GB18030 trial).

    Returns
    -------
    geopandas.GeoDataFrame
        Attribute columns as read (names stripped of blanks), a 0-based
        RangeIndex (feature ``i`` is the user's feature ``i + 1``), EPSG:4326;
        ``attrs["encoding"]`` says which text encoding was used and why.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VECTOR_SUFFIXES:
        msg = f"{path.name}: cannot read '{suffix}' files as a map layer (use {VECTOR_SUFFIXES})"
        raise ValueError(msg)
    used = None
    if suffix == ".kml":
        safety.sniff_kml(path, path.name)
        gdf = _read_kml(path)
        safety.check_rows(path.name, len(gdf))
    elif suffix in (".zip", ".shp"):
        if suffix == ".zip":
            source = f"/vsizip/{path}/{safety.check_zipped_shapefile(path, path.name)}"
        else:
            safety.check_shapefile(path, path.name)
            source = str(path)
        used = (normal_encoding(encoding), "given") if encoding else shapefile_encoding(path)
        gdf = _gdal_read(source, path.name, "Shapefile", encoding=used[0])
    elif suffix == ".gpkg":
        safety.sniff_geopackage(path, path.name)
        safety.check_rows(path.name, _feature_count(f"GPKG:{path}", path.name))
        gdf = _gdal_read(f"GPKG:{path}", path.name, "GeoPackage")
    else:
        safety.check_rows(path.name, safety.sniff_geojson(path, path.name))
        gdf = _gdal_read(f"GeoJSON:{path}", path.name, "GeoJSON")
    gdf = gdf.rename(columns=lambda c: str(c).strip()).reset_index(drop=True)
    out = to_wgs84(gdf, source_crs=source_crs, file=path.name)
    if used is not None:
        out.attrs["encoding"] = used
    return out


def _feature_count(source: str, file: str) -> int:
    """Features of the first layer of a dataset, from its header (nothing read yet)."""
    try:
        return int(pyogrio.read_info(source).get("features") or 0)
    except pyogrio.errors.DataSourceError as err:
        raise safety.refuse(file, f"cannot read the file: {safety.quote(err)}") from err


def _gdal_read(source: str, file: str, kind: str, **options: object) -> gpd.GeoDataFrame:
    """Read a checked dataset with GDAL; its errors quote at most a short part of the message."""
    try:
        return pyogrio.read_dataframe(source, **options)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as err:
        reason = f"cannot read the file as {kind}: {safety.quote(err)}"
        raise safety.refuse(file, reason) from err


def to_wgs84(
    gdf: gpd.GeoDataFrame, *, source_crs: str | None = None, file: str = "file"
) -> gpd.GeoDataFrame:
    """Return a layer in EPSG:4326, reading its coordinates as ``source_crs`` when given.

    Without ``source_crs`` the layer's own CRS is used (none means EPSG:4326).
    Coordinates that cannot be degrees in a geographic CRS (projected metres
    read without their CRS) raise ValidationError suggesting ``--crs``.
    """
    if source_crs:
        try:
            out = crs.convert_to_wgs84(gdf, source_crs)
        except ValueError as exc:
            raise ValidationError([ValidationIssue(file, None, "crs", str(exc))]) from exc
    else:
        if gdf.crs is None or gdf.crs.is_geographic:
            _check_degrees(gdf, file)
        out = crs.to_storage(gdf)
    return out


def _check_degrees(gdf: gpd.GeoDataFrame, file: str) -> None:
    """Refuse a layer whose coordinates cannot be lon/lat degrees, once for the file."""
    geoms = gdf.geometry[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if not len(geoms):
        return
    minx, miny, maxx, maxy = geoms.total_bounds
    if minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90:
        return
    reason = (
        f"coordinates x {minx:,.0f}…{maxx:,.0f}, y {miny:,.0f}…{maxy:,.0f} cannot be lon/lat "
        "degrees and the file names no coordinate system: give it with --crs "
        "(an EPSG code such as EPSG:4549 for CGCS2000 3° zone 120°E, a .prj file, WKT "
        "or a PROJ string)"
    )
    raise ValidationError([ValidationIssue(file, None, "geometry", reason)])


def read_table(path: str | Path, *, encoding: str | None = None) -> pd.DataFrame:
    """Read a CSV or XLSX sheet with every cell as text.

    CSV is read in ``encoding`` when given, else tried as UTF-8 (with or
    without BOM), then GB18030 (Chinese Excel exports); ``attrs["encoding"]``
    says which was used and why. Blank cells become missing values and trailing empty rows are
    dropped; identifiers such as ``"007"`` keep their leading zeros. Data row
    ``i`` (0-based index) is the user's "row ``i + 1``", spreadsheet line ``i + 2``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    used = None
    if suffix == ".csv":
        df, used = _read_csv(path, encoding)
    elif suffix in (".xlsx", ".xlsm"):
        safety.check_xlsx(path, path.name)
        df = pd.read_excel(
            path, dtype=str, engine="openpyxl", keep_default_na=False, na_values=[""]
        )
    else:
        msg = f"{path.name}: cannot read '{suffix}' files as a table (use .csv or .xlsx)"
        raise ValueError(msg)
    safety.check_rows(path.name, len(df))
    df = df.rename(columns=lambda c: str(c).strip())
    for column in df.columns:
        text = df[column].astype("str").str.strip()
        df[column] = text.where(df[column].notna() & (text != ""))
    filled = df.notna().any(axis=1).to_numpy().nonzero()[0]
    last = int(filled[-1]) + 1 if len(filled) else 0
    out = df.iloc[:last].reset_index(drop=True)  # trailing empty rows only: keep row numbers
    if used is not None:
        out.attrs["encoding"] = used
    return out


def _read_csv(path: Path, encoding: str | None) -> tuple[pd.DataFrame, tuple[str, str]]:
    """Read a CSV in the given encoding, else the first of UTF-8 / GB18030 that decodes it."""
    if encoding:
        used = (normal_encoding(encoding), "given")
    else:
        data = path.read_bytes()
        if data.startswith(codecs.BOM_UTF8):
            used = ("utf-8-sig", "byte-order mark")
        else:
            found = detect_text(data)
            if found == "latin-1":
                msg = f"{path.name}: not readable as UTF-8 or GB18030 text: give --encoding"
                raise ValueError(msg)
            used = (found, "trial")
    try:
        df = pd.read_csv(
            path,
            dtype=str,
            encoding=used[0],
            keep_default_na=False,
            na_values=[""],
            nrows=safety.limits().max_rows + 1,  # one past the limit: enough to refuse
        )
    except UnicodeDecodeError as exc:
        msg = f"{path.name}: not readable as {used[0]} text ({exc})"
        raise ValueError(msg) from exc
    return df, used


def _read_kml(path: Path) -> gpd.GeoDataFrame:
    """Read every layer of a KML file with GDAL's LIBKML or KML driver, else with xml.etree."""
    drivers = pyogrio.list_drivers()
    driver = next((d for d in ("LIBKML", "KML") if d in drivers), None)
    if driver is None:
        return _parse_kml(path)
    try:
        layers = [name for name, _ in pyogrio.list_layers(path)]
    except pyogrio.errors.DataSourceError as err:
        raise safety.refuse(path.name, f"cannot read the file as KML: {safety.quote(err)}") from err
    frames = [_gdal_read(str(path), path.name, "KML", layer=name) for name in layers]
    frames = [f for f in frames if len(f)]
    if not frames:
        return gpd.GeoDataFrame(geometry=[], crs=STORAGE_CRS)
    gdf = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    gdf = gpd.GeoDataFrame(gdf, geometry="geometry", crs=frames[0].crs or STORAGE_CRS)
    return _tidy_kml(gdf)


def _tidy_kml(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Drop empty KML bookkeeping columns and call the placemark name ``name``."""
    empty = [c for c in _KML_META if c in gdf.columns and gdf[c].isna().all()]
    gdf = gdf.drop(columns=empty)
    if "Name" in gdf.columns and "name" not in gdf.columns:
        gdf = gdf.rename(columns={"Name": "name"})
    elif "Name" in gdf.columns and gdf["Name"].isna().all():
        gdf = gdf.drop(columns="Name")
    return gdf


def _parse_kml(path: Path) -> gpd.GeoDataFrame:
    """Parse Placemarks (name, ExtendedData, Point/LineString/Polygon/MultiGeometry) by hand."""
    root = ET.parse(path).getroot()
    ns = _KML_NS if root.tag.startswith(_KML_NS) else ""
    records: list[dict] = []
    for placemark in root.iter(f"{ns}Placemark"):
        record: dict = {}
        name = placemark.find(f"{ns}name")
        if name is not None and name.text:
            record["name"] = name.text.strip()
        for data in placemark.iter(f"{ns}Data"):
            value = data.find(f"{ns}value")
            record[data.get("name")] = value.text if value is not None else None
        for data in placemark.iter(f"{ns}SimpleData"):
            record[data.get("name")] = data.text
        geoms: list[BaseGeometry] = []
        for child in placemark:
            found = _kml_geometry(child, ns)
            if isinstance(found, list):
                geoms.extend(found)
            elif found is not None:
                geoms.append(found)
        record["geometry"] = geoms[0] if len(geoms) == 1 else _multi(geoms)
        records.append(record)
    if not records:
        return gpd.GeoDataFrame(geometry=[], crs=STORAGE_CRS)
    return gpd.GeoDataFrame(records, geometry="geometry", crs=STORAGE_CRS)


def _kml_coords(element: ET.Element | None, ns: str) -> list[tuple[float, float]]:
    """Coordinates ``lon,lat[,alt]`` of a KML <coordinates> element, altitude dropped."""
    node = element.find(f".//{ns}coordinates") if element is not None else None
    if node is None or not node.text:
        return []
    return [tuple(float(v) for v in item.split(",")[:2]) for item in node.text.split()]


def _kml_geometry(element: ET.Element, ns: str) -> BaseGeometry | list | None:
    """Shapely geometry (or list of them for MultiGeometry) of a KML geometry element."""
    tag = element.tag.removeprefix(ns)
    if tag == "Point":
        return Point(_kml_coords(element, ns)[0])
    if tag == "LineString":
        return LineString(_kml_coords(element, ns))
    if tag == "Polygon":
        shell = _kml_coords(element.find(f"{ns}outerBoundaryIs"), ns)
        holes = [_kml_coords(h, ns) for h in element.findall(f"{ns}innerBoundaryIs")]
        return Polygon(shell, holes)
    if tag == "MultiGeometry":
        parts = [_kml_geometry(child, ns) for child in element]
        return [p for p in parts if isinstance(p, BaseGeometry)]
    return None


def _multi(geoms: list[BaseGeometry]) -> BaseGeometry | None:
    """Join parts of one MultiGeometry into the matching shapely multi-type."""
    if not geoms:
        return None
    kinds = {g.geom_type for g in geoms}
    if kinds == {"Polygon"}:
        return MultiPolygon(geoms)
    if kinds == {"LineString"}:
        return MultiLineString(geoms)
    if kinds == {"Point"}:
        return MultiPoint(geoms)
    return GeometryCollection(geoms)
