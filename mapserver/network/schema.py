"""Road class, mode and one-way rules shared by the OSM and line readers, and the model frames."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapserver import crs
from mapserver.model import ROAD_CLASSES, ROAD_EDGE_COLUMNS, ROAD_NODE_COLUMNS, STORAGE_CRS

# OSM highway=* values (without "_link") to our road classes.
HIGHWAY_CLASS: dict[str, str] = {
    **dict.fromkeys(("motorway", "trunk", "primary", "secondary"), "main"),
    **dict.fromkeys(("tertiary", "residential", "unclassified", "living_street", "road"), "street"),
    **dict.fromkeys(("service", "track"), "lane"),
    **dict.fromkeys(("footway", "path", "pedestrian", "cycleway", "steps", "bridleway"), "path"),
    "ferry": "water",
}
CLASS_MODE: dict[str, str] = {
    "main": "drive",
    "street": "drive",
    "lane": "drive",
    "gate": "drive",
    "path": "walk",
    "water": "water",
}
MODES: tuple[str, ...] = ("drive", "walk", "water")
_FORWARD = frozenset({"yes", "true", "1", "y", "t", "f", "是", "单向"})  # Geofabrik: F forward
_BACKWARD = frozenset({"-1", "reverse", "backward"})  # Geofabrik uses T for backward
_TWO_WAY = frozenset({"no", "false", "0", "n", "b", "否", "双向", ""})
_IMPLIED_ONEWAY = frozenset({"motorway"})


def road_class_of(value: object) -> str | None:
    """Our road class for a class or OSM highway value (``"primary_link"`` -> ``"main"``).

    Returns None for a value that names no road class.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    raw = str(value).strip().lower()
    if raw in ROAD_CLASSES:
        return raw
    raw = raw.removesuffix("_link")
    if raw.startswith("track_grade"):  # Geofabrik fclass
        raw = "track"
    return HIGHWAY_CLASS.get(raw)


def oneway_of(value: object, *, highway: str = "", geofabrik: bool = False) -> tuple[bool, bool]:
    """Parse a one-way tag; returns ``(oneway, reversed)``.

    ``-1`` (and Geofabrik's ``T`` when ``geofabrik``) means one way against the
    drawing direction; motorways are one way unless tagged otherwise.
    """
    raw = "" if value is None or value is pd.NA else str(value).strip().lower()
    if raw == "nan":
        raw = ""
    if raw in _BACKWARD or (geofabrik and raw == "t"):
        return True, True
    if raw in _FORWARD and not (geofabrik and raw == "t"):
        return True, False
    if raw == "" and highway.removesuffix("_link") in _IMPLIED_ONEWAY:
        return True, False
    return False, False


def nodes_frame(node_ids, kinds, lon: np.ndarray, lat: np.ndarray) -> gpd.GeoDataFrame:
    """Road nodes with exactly the model columns, EPSG:4326 points from lon/lat degrees."""
    return gpd.GeoDataFrame(
        {"node_id": pd.Series(list(node_ids), dtype=object), "kind": list(kinds)},
        geometry=shapely.points(np.column_stack([lon, lat])) if len(lon) else [],
        crs=STORAGE_CRS,
    )[list(ROAD_NODE_COLUMNS)]


def edges_frame(columns: dict[str, list], geometry, *, metric_lengths=None) -> gpd.GeoDataFrame:
    """Road edges with exactly the model columns, EPSG:4326 lines.

    ``length_m`` is taken from ``metric_lengths`` (metres) when given, else
    measured on the geometry in the local metric CRS.
    """
    df = gpd.GeoDataFrame(
        {c: pd.Series(columns[c], dtype=object) for c in ("edge_id", "u", "v", "name")},
        geometry=gpd.GeoSeries(list(geometry), crs=STORAGE_CRS),
        crs=STORAGE_CRS,
    )
    df["road_class"] = pd.Series(columns["road_class"], dtype=object)
    df["oneway"] = np.asarray(columns["oneway"], dtype=bool)
    df["mode"] = pd.Series(columns["mode"], dtype=object)
    if metric_lengths is None:
        metric_lengths = crs.to_metric(df.geometry).length.to_numpy() if len(df) else []
    df["length_m"] = np.asarray(metric_lengths, dtype=float)
    df["closed"] = np.asarray(columns["closed"], dtype=bool)
    return df[list(ROAD_EDGE_COLUMNS)]
