"""Map layers as Mapbox Vector Tiles: geometry apart from status, cached per data version.

On PostgreSQL a tile is one ``ST_AsMVT`` statement; on SQLite (and for Gaode's GCJ-02
coordinates, which PostGIS does not know) the tile's rows are read by bounding box and
encoded here. Tiles are kept in a cache bounded in bytes and keyed by the store's data
version, so an import invalidates them and nothing else does: status never travels in a
tile (the map colours tiles from the compact status tables). No Flask here.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import shapely

from mapserver.crs import wgs84_to_gcj02
from mapserver.model import ID_COLUMN
from mapserver.mvt import BUFFER, EXTENT, Tile, encode_tile
from mapserver.store import Store

CACHE_BYTES = 64 * 1024 * 1024  # tiles kept per process
VERSION_MAX_AGE_S = 1.0  # how long the store's data version is trusted without asking
GCJ02_MARGIN_DEG = 0.01  # GCJ-02 lies up to ~700 m from WGS 84: select this much wider


@dataclass(frozen=True)
class TileLayer:
    """A layer served as tiles: its store layer, the columns its features carry, and the
    lowest zoom at which it is drawn (below it a tile is empty)."""

    layer: str
    properties: tuple[str, ...]
    min_zoom: int


TILE_LAYERS: dict[str, TileLayer] = {
    "grids": TileLayer("grids", ("grid_id", "parent_id", "level", "name"), 0),
    "buildings": TileLayer("buildings", ("building_id", "grid_id", "name"), 13),
    "roads": TileLayer("road_edges", ("edge_id", "name", "road_class", "mode", "closed"), 11),
    "checkpoints": TileLayer("checkpoints", ("checkpoint_id", "name", "kind", "staffed"), 11),
}


def _shift_gcj02(coords: np.ndarray) -> np.ndarray:
    lon, lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
    return np.column_stack([lon, lat])


def _plain(value: object) -> object:
    """A property value MVT can carry (numbers, text, booleans), None when missing."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


class TileCache:
    """Vector tiles of one store, encoded once per data version and kept within a byte
    budget (least recently used tiles go first)."""

    def __init__(self, store: Store, *, max_bytes: int = CACHE_BYTES) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._tiles: OrderedDict[tuple, bytes] = OrderedDict()
        self._bytes = 0
        self._version = -1
        self._version_at = -float("inf")
        self._writes = -1
        self.encoded = 0  # tiles made (not found in the cache), for benchmarks and tests

    def version(self) -> int:
        """The store's data version, asked at most once a second (at once after an import
        through this process's store)."""
        writes = self.store.layer_writes
        young = time.monotonic() - self._version_at < VERSION_MAX_AGE_S
        if young and writes == self._writes:
            return self._version
        version = self.store.data_version()
        with self._lock:
            self._version, self._version_at, self._writes = version, time.monotonic(), writes
        return version

    def tile(
        self, name: str, tile: Tile, *, level: str | None = None, coords: str = "wgs84"
    ) -> tuple[str, bytes]:
        """(entity tag, encoded tile) of one layer: an empty tile below the layer's zoom."""
        if name not in TILE_LAYERS:
            msg = f"no tile layer {name!r}; known: {', '.join(TILE_LAYERS)}"
            raise ValueError(msg)
        version = self.version()
        key = (version, name, level or "", coords, tile.z, tile.x, tile.y)
        etag = f"{version}.{name}.{level or ''}.{coords}.{tile.z}.{tile.x}.{tile.y}"
        with self._lock:
            found = self._tiles.get(key)
            if found is not None:
                self._tiles.move_to_end(key)
                return etag, found
        data = self._encode(TILE_LAYERS[name], name, tile, level, coords)
        with self._lock:
            self.encoded += 1
            if key not in self._tiles:
                self._tiles[key] = data
                self._bytes += len(data)
            while self._bytes > self.max_bytes and self._tiles:
                _, dropped = self._tiles.popitem(last=False)
                self._bytes -= len(dropped)
        return etag, data

    def clear(self) -> None:
        """Forget every tile (benchmarks measure cold tiles this way)."""
        with self._lock:
            self._tiles.clear()
            self._bytes = 0

    def _encode(
        self, spec: TileLayer, name: str, tile: Tile, level: str | None, coords: str
    ) -> bytes:
        if tile.z < spec.min_zoom:
            return encode_tile(tile, {name: []})
        grid_level = level if spec.layer == "grids" else None
        if coords == "wgs84":
            made = self.store.vector_tile(
                spec.layer, tile, name=name, properties=spec.properties, level=grid_level
            )
            if made is not None:
                return made
        bbox = tile.lonlat_bounds(margin=BUFFER / EXTENT)
        if coords == "gcj02":
            pad = GCJ02_MARGIN_DEG
            bbox = (bbox[0] - pad, bbox[1] - pad, bbox[2] + pad, bbox[3] + pad)
        rows = self.store.read_features(
            spec.layer, bbox=bbox, columns=(*spec.properties, "geometry"), level=grid_level
        )
        id_column = ID_COLUMN[spec.layer]
        features = []
        for row in rows.itertuples(index=False):
            geometry = row.geometry
            if geometry is not None and coords == "gcj02":
                geometry = shapely.transform(geometry, _shift_gcj02)
            props = {"id": _plain(getattr(row, id_column))}
            for column in spec.properties:
                if column != id_column:
                    props[column] = _plain(getattr(row, column))
            features.append((geometry, props))
        return encode_tile(tile, {name: features})
