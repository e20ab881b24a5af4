"""Merging an import into the stored layers: rows by id, columns the file lacks kept."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from mapserver.errors import ValidationError, ValidationIssue
from mapserver.io.checks import text
from mapserver.model import (
    BUILDING_REQUIRED,
    GRID_REQUIRED,
    HOUSEHOLD_REQUIRED,
    ID_COLUMN,
    LAYERS,
    STORAGE_CRS,
)

REQUIRED: dict[str, tuple[str, ...]] = {
    "grids": GRID_REQUIRED,
    "buildings": BUILDING_REQUIRED,
    "households": HOUSEHOLD_REQUIRED,
}


def fill_from_stored(
    layer: str, frame: pd.DataFrame, stored: pd.DataFrame | None, *, file: str
) -> pd.DataFrame:
    """Rows whose id is stored take the stored values of the columns the file lacks.

    A table without geometry becomes a GeoDataFrame with the stored geometry
    of its rows. Rows of new ids when the file lacks a required column raise
    ValidationError (one issue per row).
    """
    id_column = ID_COLUMN.get(layer)
    if stored is None or not len(stored) or id_column is None or id_column not in frame.columns:
        return frame
    by_id = stored.drop_duplicates(id_column).set_index(id_column)
    keys = [text(v) for v in frame[id_column]]
    missing = [c for c in LAYERS[layer] if c not in frame.columns and c in by_id.columns]
    if not missing:
        return frame
    required = [c for c in REQUIRED.get(layer, ()) if c in missing]
    if required:
        new = [i for i, k in enumerate(keys) if k not in by_id.index]
        reason = "'{}' is not stored yet, and a new {} needs {} (the file gives only: {})"
        issues = [
            ValidationIssue(
                file,
                i + 1,
                id_column,
                reason.format(
                    keys[i], layer, ", ".join(required), ", ".join(map(str, frame.columns))
                ),
            )
            for i in new
        ]
        if issues:
            raise ValidationError(issues)
    frame = frame.copy()
    for column in missing:
        if column != "geometry":
            frame[column] = by_id[column].reindex(keys).to_numpy(dtype=object)
    if "geometry" in missing:
        values = by_id["geometry"].reindex(keys).to_numpy(dtype=object)
        return gpd.GeoDataFrame(frame, geometry=list(values), crs=STORAGE_CRS)
    return frame


def merged_layer(new: pd.DataFrame | None, stored: pd.DataFrame | None, key: str, *, merge: bool):
    """The layer after the import: the new rows, plus the stored rows of other ids on a merge."""
    if new is None:
        return stored
    if not merge or stored is None or not len(stored):
        return new
    keep = stored[~stored[key].isin(set(new[key]))]
    return gpd.GeoDataFrame(pd.concat([new, keep], ignore_index=True), crs=STORAGE_CRS)


def ids_after_import(
    out: dict[str, pd.DataFrame],
    existing: dict[str, pd.DataFrame],
    layer: str,
    column: str,
    *,
    merge: bool = False,
) -> set[str]:
    """Ids of a layer after the import: the uploaded ones (plus the stored ones on a
    merge), else the stored ones, else none."""
    found: set[str] = set()
    frames = [out.get(layer, existing.get(layer))]
    if merge and layer in out:
        frames.append(existing.get(layer))
    for df in frames:
        if df is not None and column in df.columns:
            found |= {v for v in (text(x) for x in df[column]) if v is not None}
    return found
