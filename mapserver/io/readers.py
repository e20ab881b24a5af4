"""Read vector files (GeoJSON, GeoPackage, zipped Shapefile, KML) and tables (CSV, XLSX)."""

from __future__ import annotations

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
from mapserver.model import STORAGE_CRS

VECTOR_SUFFIXES: tuple[str, ...] = (".geojson", ".json", ".gpkg", ".zip", ".shp", ".kml")
TABLE_SUFFIXES: tuple[str, ...] = (".csv", ".xlsx")
CSV_ENCODINGS: tuple[str, ...] = ("utf-8-sig", "gb18030")

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


def read_vector(path: str | Path, *, source_crs: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file into a GeoDataFrame in EPSG:4326.

    Parameters
    ----------
    path
        ``.geojson``/``.json``, ``.gpkg`` (first layer), ``.zip`` holding a
        Shapefile, ``.shp`` or ``.kml`` (every folder concatenated).
    source_crs
        The coordinate system the coordinates are really in (EPSG code,
        ``"gcj02"``, ``"bd09"``); overrides the file's own CRS. ``None`` uses
        the file's CRS, or EPSG:4326 when the file has none.

    Returns
    -------
    geopandas.GeoDataFrame
        Attribute columns as read (names stripped of blanks), a 0-based
        RangeIndex (feature ``i`` is the user's feature ``i + 1``), EPSG:4326.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VECTOR_SUFFIXES:
        msg = f"{path.name}: cannot read '{suffix}' files as a map layer (use {VECTOR_SUFFIXES})"
        raise ValueError(msg)
    if suffix == ".kml":
        gdf = _read_kml(path)
    elif suffix == ".zip":
        gdf = pyogrio.read_dataframe(f"/vsizip/{path}")
    else:
        gdf = pyogrio.read_dataframe(path)
    gdf = gdf.rename(columns=lambda c: str(c).strip()).reset_index(drop=True)
    return to_wgs84(gdf, source_crs=source_crs)


def to_wgs84(gdf: gpd.GeoDataFrame, *, source_crs: str | None = None) -> gpd.GeoDataFrame:
    """Return a layer in EPSG:4326, reading its coordinates as ``source_crs`` when given.

    Without ``source_crs`` the layer's own CRS is used (none means EPSG:4326).
    """
    if source_crs:
        return crs.convert_to_wgs84(gdf, source_crs)
    return crs.to_storage(gdf)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or XLSX sheet with every cell as text.

    CSV is tried as UTF-8 (with or without BOM), then GB18030 (Chinese Excel
    exports). Blank cells become missing values and trailing empty rows are
    dropped; identifiers such as ``"007"`` keep their leading zeros. Data row
    ``i`` (0-based index) is the user's "row ``i + 1``", spreadsheet line ``i + 2``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        df = _read_csv(path)
    elif suffix in (".xlsx", ".xlsm"):
        df = pd.read_excel(
            path, dtype=str, engine="openpyxl", keep_default_na=False, na_values=[""]
        )
    else:
        msg = f"{path.name}: cannot read '{suffix}' files as a table (use .csv or .xlsx)"
        raise ValueError(msg)
    df = df.rename(columns=lambda c: str(c).strip())
    for column in df.columns:
        text = df[column].astype("str").str.strip()
        df[column] = text.where(df[column].notna() & (text != ""))
    filled = df.notna().any(axis=1).to_numpy().nonzero()[0]
    last = int(filled[-1]) + 1 if len(filled) else 0
    return df.iloc[:last].reset_index(drop=True)  # trailing empty rows only: keep row numbers


def _read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV trying each encoding of CSV_ENCODINGS in turn."""
    last: UnicodeDecodeError | None = None
    for encoding in CSV_ENCODINGS:
        try:
            return pd.read_csv(
                path, dtype=str, encoding=encoding, keep_default_na=False, na_values=[""]
            )
        except UnicodeDecodeError as exc:
            last = exc
    msg = f"{path.name}: not readable as UTF-8 or GB18030 text ({last})"
    raise ValueError(msg)


def _read_kml(path: Path) -> gpd.GeoDataFrame:
    """Read every layer of a KML file with GDAL's LIBKML or KML driver, else with xml.etree."""
    drivers = pyogrio.list_drivers()
    driver = next((d for d in ("LIBKML", "KML") if d in drivers), None)
    if driver is None:
        return _parse_kml(path)
    layers = [name for name, _ in pyogrio.list_layers(path)]
    frames = [pyogrio.read_dataframe(path, layer=name) for name in layers]
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
