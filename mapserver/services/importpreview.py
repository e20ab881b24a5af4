"""Preview of an uploaded file for the mapping step: columns, first rows, suggestions."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from mapserver.errors import ValidationError, ValidationIssue
from mapserver.io.checks import text
from mapserver.io.imports import OSM_SUFFIXES, detect_layer
from mapserver.io.mapping import suggest_mapping
from mapserver.io.readers import TABLE_SUFFIXES, read_table, read_vector
from mapserver.model import LAYERS

PREVIEW_ROWS = 8


def preview_file(path: Path, *, layer: str | None = None, encoding: str | None = None) -> dict:
    """What a file holds, for choosing its layer and column mapping.

    Returns ``file``, ``layer`` (given or guessed from the name, may be None),
    ``columns``, ``rows`` (the first PREVIEW_ROWS as text, blanks as None),
    ``count``, ``geometry`` (types found), ``encoding`` (codec, how found),
    ``fields`` (the model fields of the layer) and ``suggested`` (field -> column).
    Raises ValidationError naming the file when it cannot be read.
    """
    layer = layer or detect_layer(path)
    if path.suffix.lower() in OSM_SUFFIXES:
        return {"file": path.name, "layer": "roads", "columns": [], "rows": [], "count": None}
    try:
        if path.suffix.lower() in TABLE_SUFFIXES:
            frame = read_table(path, encoding=encoding)
        else:
            frame = read_vector(path, encoding=encoding)
    except ValidationError:
        raise
    except Exception as exc:
        raise ValidationError(
            [ValidationIssue(path.name, None, None, f"cannot read: {exc}")]
        ) from exc
    geometry: list[str] = []
    if isinstance(frame, gpd.GeoDataFrame):
        geometry = sorted(set(frame.geom_type.dropna()))
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    columns = [str(c) for c in frame.columns]
    rows = [[text(v) for v in row] for row in frame.head(PREVIEW_ROWS).itertuples(index=False)]
    used = frame.attrs.get("encoding")
    return {
        "file": path.name,
        "layer": layer,
        "columns": columns,
        "rows": rows,
        "count": len(frame),
        "geometry": geometry,
        "encoding": list(used) if used else None,
        "fields": [c for c in LAYERS.get(layer, ()) if c != "geometry"] if layer else [],
        "suggested": suggest_mapping(columns, layer) if layer else {},
    }
