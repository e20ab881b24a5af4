"""One import: read every uploaded file, validate them together, return model layers or raise."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from mapserver import crs
from mapserver.errors import ValidationError, ValidationIssue
from mapserver.io.readers import TABLE_SUFFIXES, read_table, read_vector, to_wgs84
from mapserver.io.tables import normalise_columns, points_from_table
from mapserver.io.validate import (
    count,
    text,
    texts,
    validate_buildings,
    validate_grids,
    validate_households,
    validate_status,
)
from mapserver.model import GEOMETRY_LAYERS, LAYERS, STATUS_COLUMNS, STORAGE_CRS
from mapserver.network.lines import roads_from_lines
from mapserver.network.osm import read_osm_roads

IMPORT_LAYERS: tuple[str, ...] = (
    "grids",
    "buildings",
    "households",
    "status",
    "road_edges",
    "roads",  # OSM file or road line layer -> road_nodes + road_edges
    "checkpoints",
)
OSM_SUFFIXES: tuple[str, ...] = (".pbf", ".osm")
# File-name words that name a layer, most specific first ("household_status" is status).
_LAYER_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("status", ("status", "状态")),
    ("checkpoints", ("checkpoint", "道口", "卡口")),
    ("households", ("household", "户")),
    ("buildings", ("building", "楼")),
    ("road_edges", ("road", "edge", "道路")),
    ("grids", ("grid", "网格")),
)
_INT_COLUMNS = frozenset(
    {"target_households", "version", "units", "households", "residents", "persons", "shifts"}
)
_BOOL_COLUMNS = frozenset({"oneway", "closed", "staffed"})
_TRUE = frozenset({"true", "1", "yes", "y", "t", "是", "有"})
_DEFAULTS: dict[str, object] = {"area_class": "none", "version": 1}


def detect_layer(path: str | Path) -> str | None:
    """Guess the layer of a file from its name (``grids.geojson``, ``楼栋.xlsx``...), or None.

    OpenStreetMap files (``.osm.pbf``, ``.osm``) are ``"roads"``.
    """
    if Path(path).suffix.lower() in OSM_SUFFIXES:
        return "roads"
    name = Path(path).stem.lower()
    for layer, words in _LAYER_WORDS:
        if any(word in name for word in words):
            return layer
    return None


def load_import(
    paths: dict[str, str | Path],
    *,
    source_crs: str | None = None,
    repair: bool = False,
    existing: dict[str, pd.DataFrame] | None = None,
    scheme_codes: set[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Read and validate the files of one import; all or nothing.

    Parameters
    ----------
    paths
        Layer name (``grids``, ``buildings``, ``households``, ``status``,
        ``road_edges``, ``roads``, ``checkpoints``) to file. ``roads`` is an OSM
        file or a road line layer, noded into ``road_nodes`` and ``road_edges``.
    source_crs
        What the coordinates really are (EPSG code, ``"gcj02"``, ``"bd09"``);
        ``None`` uses each file's own CRS, or EPSG:4326 when it has none.
    repair
        Repair invalid polygons with ``shapely.make_valid`` instead of rejecting them.
    existing
        The store's current layers, used for cross-checks of layers not uploaded
        (status against stored households/buildings, buildings against stored grids).
    scheme_codes
        Allowed status codes; ``None`` accepts any.

    Returns
    -------
    dict of layer name to (Geo)DataFrame
        The uploaded layers with exactly the model.py columns, optional ones
        filled (``version`` 1, ``area_class`` "none", building households and
        residents from the household table), geometry in EPSG:4326.

    Raises
    ------
    ValidationError
        With every issue of every file; nothing is returned then.
    """
    unknown = sorted(set(paths) - set(IMPORT_LAYERS))
    if unknown:
        msg = f"unknown layer(s) {unknown}: use {list(IMPORT_LAYERS)}"
        raise ValueError(msg)
    if "roads" in paths and "road_edges" in paths:
        msg = "give either 'roads' (to be noded) or 'road_edges' (edges as they are), not both"
        raise ValueError(msg)
    existing = existing or {}
    issues: list[ValidationIssue] = []
    raw: dict[str, pd.DataFrame] = {}
    names = {layer: Path(path).name for layer, path in paths.items()}
    for layer, path in paths.items():
        try:
            if layer == "roads":
                out_roads = _read_roads(Path(path), names[layer], source_crs)
                raw["road_nodes"], raw["road_edges"] = out_roads
            else:
                raw[layer] = _read(layer, Path(path), source_crs)
        except ValidationError as exc:
            issues.extend(exc.issues)
        except Exception as exc:  # any unreadable file is one issue, not a crash
            issues.append(ValidationIssue(names[layer], None, None, f"cannot read the file: {exc}"))
    out: dict[str, pd.DataFrame] = {}
    if "grids" in raw:
        out["grids"] = validate_grids(
            raw["grids"], file=names["grids"], repair=repair, issues=issues
        )
    grids = out.get("grids") if "grids" in paths else existing.get("grids")
    if "buildings" in raw:
        out["buildings"] = validate_buildings(
            raw["buildings"], file=names["buildings"], grids=grids, repair=repair, issues=issues
        )
    building_ids = _id_set(out, existing, "buildings", "building_id")
    if "households" in raw:
        out["households"] = validate_households(
            raw["households"], file=names["households"], building_ids=building_ids, issues=issues
        )
    if "status" in raw:
        rows = validate_status(
            raw["status"],
            file=names["status"],
            scheme_codes=scheme_codes,
            household_ids=_id_set(out, existing, "households", "household_id"),
            building_ids=building_ids,
            issues=issues,
        )
        out["status"] = _status_frame(rows)
    for layer in ("road_nodes", "road_edges", "checkpoints"):
        if layer in raw:
            out[layer] = raw[layer]
    if issues:
        raise ValidationError(issues)
    if "buildings" in out:
        households = out.get("households", existing.get("households"))
        out["buildings"] = _fill_from_households(out["buildings"], households)
    return {layer: _conform(layer, df) for layer, df in out.items()}


def _read(layer: str, path: Path, source_crs: str | None) -> pd.DataFrame:
    """Read one file as a layer: model column names, geometry in EPSG:4326."""
    if path.suffix.lower() in TABLE_SUFFIXES:
        df = normalise_columns(read_table(path), layer)
        if layer in GEOMETRY_LAYERS:
            df = points_from_table(df)
            if isinstance(df, gpd.GeoDataFrame):
                df = to_wgs84(df, source_crs=source_crs)
        return df
    gdf = normalise_columns(read_vector(path, source_crs=source_crs), layer)
    if layer not in GEOMETRY_LAYERS:
        return pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    return gdf


def _read_roads(
    path: Path, name: str, source_crs: str | None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Road nodes and edges from an OSM file or a line layer (noded, measured in metres)."""
    if path.suffix.lower() in OSM_SUFFIXES:
        return read_osm_roads(path)
    return roads_from_lines(read_vector(path, source_crs=source_crs), file=name)


def _id_set(
    out: dict[str, pd.DataFrame], existing: dict[str, pd.DataFrame], layer: str, column: str
) -> set[str]:
    """Ids of a layer: the uploaded one when given, else the stored one, else none."""
    df = out.get(layer, existing.get(layer))
    if df is None or column not in df.columns:
        return set()
    return {v for v in (text(x) for x in df[column]) if v is not None}


def _status_frame(rows: list) -> pd.DataFrame:
    """Status rows as a model.STATUS_COLUMNS frame stamped now (UTC), source 'import'."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return pd.DataFrame(
        {
            "entity_kind": [r.entity_kind for r in rows],
            "entity_id": [r.entity_id for r in rows],
            "status": [r.status for r in rows],
            "persons": pd.array([r.persons for r in rows], dtype="Int64"),
            "updated_at": [now] * len(rows),
            "source": ["import"] * len(rows),
            "seq": pd.array([None] * len(rows), dtype="Int64"),
        },
        columns=list(STATUS_COLUMNS),
    )


def _fill_from_households(
    buildings: gpd.GeoDataFrame, households: pd.DataFrame | None
) -> gpd.GeoDataFrame:
    """Fill blank building household and resident counts from the household table."""
    if households is None or not len(households) or "building_id" not in households.columns:
        return buildings
    ids = households["building_id"].map(text)
    counts = ids.value_counts()
    buildings = buildings.copy()
    per_building = buildings["building_id"].map(counts)
    current = buildings["households"] if "households" in buildings.columns else None
    buildings["households"] = per_building if current is None else current.fillna(per_building)
    if "residents" in households.columns:
        residents = pd.to_numeric(households["residents"], errors="coerce").groupby(ids).sum()
        summed = buildings["building_id"].map(residents)
        current = buildings["residents"] if "residents" in buildings.columns else None
        buildings["residents"] = summed if current is None else current.fillna(summed)
    return buildings


def _conform(layer: str, df: pd.DataFrame) -> pd.DataFrame:
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
