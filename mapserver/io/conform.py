"""The last step of an import: exactly the model columns of a layer, typed, defaults filled."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from mapserver import crs
from mapserver.io.checks import count, text, texts
from mapserver.model import LAYERS, STORAGE_CRS

_INT_COLUMNS = frozenset(
    {"target_households", "version", "units", "households", "residents", "persons", "shifts"}
)
_BOOL_COLUMNS = frozenset({"oneway", "closed", "staffed"})
_TRUE = frozenset({"true", "1", "yes", "y", "t", "是", "有"})
_DEFAULTS: dict[str, object] = {"area_class": "none", "version": 1}


def conform_layer(layer: str, df: pd.DataFrame) -> pd.DataFrame:
    """Exactly the model columns of a layer, typed, defaults filled, geometry in EPSG:4326."""
    df = df.reset_index(drop=True).copy()
    if layer == "road_edges" and "length_m" not in df.columns and len(df):
        df["length_m"] = crs.to_metric(gpd.GeoSeries(df.geometry, crs=STORAGE_CRS)).length
    columns = [c for c in LAYERS[layer] if c != "geometry"]
    for column in columns:
        if column not in df.columns:
            df[column] = _DEFAULTS.get(column)
        if column in _INT_COLUMNS:
            df[column] = pd.array([count(v)[1] for v in df[column]], dtype="Int64")
        elif column in _BOOL_COLUMNS:
            df[column] = [_boolean(v) for v in df[column]]
        elif column == "length_m":
            df[column] = pd.to_numeric(df[column], errors="coerce").astype(float)
        else:
            df[column] = texts(df[column], df.index)
    if "area_class" in columns:
        df["area_class"] = df["area_class"].fillna("none")
    if "version" in columns:
        df["version"] = df["version"].fillna(1)
    if "geometry" not in LAYERS[layer]:
        return pd.DataFrame(df[columns])
    return gpd.GeoDataFrame(df[columns], geometry=list(df.geometry.values), crs=STORAGE_CRS)


def _boolean(value: object) -> bool:
    """A yes/no cell (true/1/是 ...) as bool; blank and anything else is False."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raw = text(value)
    return raw is not None and raw.lower() in _TRUE
