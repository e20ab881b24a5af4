"""Write layers to GeoJSON and UTF-8 CSV for exports and the demo data."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from mapserver import crs


def write_geojson(gdf: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write a layer as GeoJSON in EPSG:4326 (RFC 7946 lon/lat order); returns the path.

    A layer without CRS is taken to be in EPSG:4326. An existing file is replaced.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    pyogrio.write_dataframe(crs.to_storage(gdf), path, driver="GeoJSON")
    return path


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as UTF-8 CSV without index; geometry, if any, as WKT in EPSG:4326.

    Returns the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(df, gpd.GeoDataFrame):
        df = crs.to_storage(df)
        df = pd.DataFrame(df).assign(**{df.geometry.name: df.geometry.to_wkt()})
    df.to_csv(path, index=False, encoding="utf-8")
    return path
