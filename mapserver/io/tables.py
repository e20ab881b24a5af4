"""Tables to layers: Chinese/English column aliases and points from lon/lat or WKT columns."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapserver.model import LAYERS

# Header aliases per layer (compared after strip + lower-case + blanks to "_").
_COMMON: dict[str, str] = {
    "名称": "name",
    "地址": "address",
    "网格编号": "grid_id",
    "网格id": "grid_id",
    "网格": "grid_id",
    "楼栋编号": "building_id",
    "楼栋id": "building_id",
    "楼号": "building_id",
    "建筑编号": "building_id",
    "户编号": "household_id",
    "户号": "household_id",
    "住户编号": "household_id",
    "状态": "status",
    "状态码": "status",
    "人员状态": "status",
    "几何": "geometry",
    "wkt": "geometry",
    "geom": "geometry",
}
_ALIASES: dict[str, dict[str, str]] = {
    "grids": {
        "上级网格": "parent_id",
        "上级编号": "parent_id",
        "上级网格编号": "parent_id",
        "父网格": "parent_id",
        "parent": "parent_id",
        "层级": "level",
        "级别": "level",
        "网格层级": "level",
        "网格名称": "name",
        "网格长": "person",
        "网格员": "person",
        "负责人": "person",
        "电话": "phone",
        "联系电话": "phone",
        "目标户数": "target_households",
        "区域类型": "area_class",
        "管控类型": "area_class",
        "版本": "version",
    },
    "buildings": {
        "楼栋名称": "name",
        "小区编号": "compound_id",
        "小区": "compound_id",
        "单元数": "units",
        "户数": "households",
        "人数": "residents",
        "居民数": "residents",
        "人口": "residents",
        "交接点": "gate_node",
    },
    "households": {
        "单元": "unit",
        "单元号": "unit",
        "房号": "room",
        "室": "room",
        "室号": "room",
        "房间号": "room",
        "门牌": "room",
        "人数": "residents",
        "户籍人数": "residents",
        "楼栋": "building_id",
        "所在楼栋": "building_id",
    },
    "status": {
        "编号": "entity_id",
        "类型": "entity_kind",
        "人数": "persons",
        "人员数": "persons",
        "更新时间": "updated_at",
        "楼栋": "building_id",
        "所在楼栋": "building_id",
    },
    "checkpoints": {
        "道口编号": "checkpoint_id",
        "卡口编号": "checkpoint_id",
        "类型": "kind",
        "值守": "staffed",
        "班次": "shifts",
    },
    "road_edges": {"道路名称": "name", "等级": "road_class", "单行": "oneway"},
}
LON_ALIASES: tuple[str, ...] = ("lon", "lng", "long", "longitude", "经度", "x")
LAT_ALIASES: tuple[str, ...] = ("lat", "latitude", "纬度", "y")
# Fields a layer's file may hold besides the model columns.
KNOWN_COLUMNS: dict[str, set[str]] = {
    "status": {"household_id", "building_id"},
    "households": set(),
}
SHAPEFILE_NAME_LIMIT = 10  # dBASE cuts field names to 10 characters


def _targets(layer: str) -> tuple[str, ...]:
    """Model columns a layer's file can hold, in model order."""
    extra = tuple(sorted(KNOWN_COLUMNS.get(layer, set())))
    return tuple(LAYERS.get(layer, ())) + extra


def guess_column(name: object, layer: str) -> str | None:
    """The model field a header stands for, or None.

    Matches the field name itself (any case, blanks as ``_``), the Chinese and
    English aliases, and names cut to 10 characters by Shapefiles
    (``building_i`` is ``building_id``).
    """
    key = _key(name)
    aliases = {**_COMMON, **_ALIASES.get(layer, {})}
    targets = _targets(layer)
    if key in targets:
        return key
    if key in aliases:
        return aliases[key]
    if len(key) == SHAPEFILE_NAME_LIMIT:
        cut = [t for t in targets if len(t) > SHAPEFILE_NAME_LIMIT and t.startswith(key)]
        if len(cut) == 1:
            return cut[0]
    return None


def _key(name: object) -> str:
    """Normalised header: stripped, lower-case, blanks and dashes as underscores."""
    return str(name).strip().lower().replace(" ", "_").replace("-", "_")


def normalise_columns(
    df: pd.DataFrame, layer: str, *, keep: set[str] | frozenset[str] = frozenset()
) -> pd.DataFrame:
    """Rename a layer's headers to model.py names (``户数`` -> ``households``, ``Grid ID`` -> ...).

    A header is renamed only when the target name is not already a column;
    the columns named in ``keep`` (set by a mapping) are left as they are.
    """
    renames: dict[str, str] = {c: c for c in df.columns if c in keep}
    taken = {_key(c) for c in df.columns}
    for column in df.columns:
        if column in keep:
            continue
        key = _key(column)
        target = guess_column(column, layer) or key
        if target != key and target in taken:
            target = key
        if target not in renames.values():
            renames[column] = target
            taken.add(target)
    return df.rename(columns=renames)


def _find(columns: pd.Index, aliases: tuple[str, ...]) -> str | None:
    """First column whose normalised header is one of the aliases."""
    for alias in aliases:
        for column in columns:
            if _key(column) == alias:
                return column
    return None


def points_from_table(df: pd.DataFrame) -> pd.DataFrame:
    """Give a table a geometry from lon/lat (经度/纬度, x/y) columns or a WKT ``geometry`` column.

    Parameters
    ----------
    df
        A table as read by :func:`mapserver.io.readers.read_table` (text cells).

    Returns
    -------
    geopandas.GeoDataFrame or pandas.DataFrame
        A GeoDataFrame without CRS (the caller says what the numbers are)
        whose geometry is missing where a cell does not parse; the raw ``lon``
        and ``lat`` text stays for error messages. The table unchanged when it
        has neither coordinate nor WKT columns.
    """
    lon_col, lat_col = _find(df.columns, LON_ALIASES), _find(df.columns, LAT_ALIASES)
    if lon_col is not None and lat_col is not None:
        out = df.rename(columns={lon_col: "lon", lat_col: "lat"})
        lon = pd.to_numeric(out["lon"], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(out["lat"], errors="coerce").to_numpy(dtype=float)
        good = np.isfinite(lon) & np.isfinite(lat)
        geoms = np.full(len(out), None, dtype=object)
        geoms[good] = shapely.points(lon[good], lat[good])
        return gpd.GeoDataFrame(out, geometry=list(geoms))
    if "geometry" in df.columns:
        text = df["geometry"]
        geoms = np.full(len(df), None, dtype=object)
        for i, wkt in enumerate(text):
            if isinstance(wkt, str):
                geoms[i] = shapely.from_wkt(wkt, on_invalid="ignore")
        out = df.rename(columns={"geometry": "geometry_text"})
        return gpd.GeoDataFrame(out, geometry=list(geoms))
    return df
