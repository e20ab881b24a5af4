"""Export the stored layers as files that import back unchanged (GeoJSON and UTF-8 CSV)."""

from __future__ import annotations

from pathlib import Path

from mapserver.io.writers import write_csv, write_geojson
from mapserver.model import GEOMETRY_LAYERS, LAYERS
from mapserver.store import Store

# File name of each layer: the import recognises the layer from it.
EXPORT_FILES: dict[str, str] = {
    "grids": "grids.geojson",
    "buildings": "buildings.geojson",
    "households": "households.csv",
    "status": "status.csv",
    "road_nodes": "road_nodes.geojson",
    "road_edges": "road_edges.geojson",
    "checkpoints": "checkpoints.geojson",
}
_STATUS_EXPORT = ("entity_kind", "entity_id", "status", "persons", "updated_at")


def export_layers(
    store: Store, out_dir: str | Path, *, layers: list[str] | None = None
) -> dict[str, Path]:
    """Write stored layers to ``out_dir``: geometry layers as GeoJSON, tables as CSV.

    Empty layers are skipped. ``mapserver import out_dir/*`` into an empty
    store gives back the same rows (status keeps its time; the change log
    starts anew). Returns layer -> file written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for layer in layers or list(EXPORT_FILES):
        if layer not in LAYERS:
            msg = f"unknown layer {layer!r}; known: {', '.join(LAYERS)}"
            raise ValueError(msg)
        frame = store.read_layer(layer)
        if not len(frame):
            continue
        path = out / EXPORT_FILES[layer]
        if layer in GEOMETRY_LAYERS:
            written[layer] = write_geojson(frame, path)
        else:
            columns = _STATUS_EXPORT if layer == "status" else LAYERS[layer]
            written[layer] = write_csv(frame[list(columns)], path)
    return written
