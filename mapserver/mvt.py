"""Mapbox Vector Tiles: web-mercator tile arithmetic and an encoder for shapely geometries.

A tile ``z/x/y`` covers a square of the web-mercator plane (EPSG:3857); its features are
clipped to the square plus a margin, simplified to a pixel of the tile (so a tile of a
whole city at zoom 11 carries what can be seen, not every vertex) and encoded with
``mapbox-vector-tile`` in 4,096 units per side. Pure functions, no store.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import mapbox_vector_tile
import numpy as np
import shapely

EXTENT = 4096  # tile units per side, as PostGIS ST_AsMVT and every renderer use
BUFFER = 64  # tile units drawn beyond each edge, so strokes meet across tiles
MAX_ZOOM = 22
HALF_WORLD = 20037508.342789244  # metres from the centre of EPSG:3857 to its edge
EARTH_RADIUS = 6378137.0
MAX_LAT = 85.0511287798066


@dataclass(frozen=True)
class Tile:
    """One tile address ``z/x/y`` (x from the west, y from the north)."""

    z: int
    x: int
    y: int

    def __post_init__(self) -> None:
        if not 0 <= self.z <= MAX_ZOOM:
            msg = f"zoom {self.z} is not from 0 to {MAX_ZOOM}"
            raise ValueError(msg)
        side = 1 << self.z
        if not (0 <= self.x < side and 0 <= self.y < side):
            msg = f"tile {self.x}/{self.y} is outside zoom {self.z} (0 to {side - 1})"
            raise ValueError(msg)

    def mercator_bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) of the tile in EPSG:3857 metres."""
        size = 2 * HALF_WORLD / (1 << self.z)
        minx = -HALF_WORLD + self.x * size
        maxy = HALF_WORLD - self.y * size
        return minx, maxy - size, minx + size, maxy

    def lonlat_bounds(self, *, margin: float = 0.0) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the tile in degrees, widened by ``margin`` of its
        side on every edge (for selecting the features it may draw)."""
        minx, miny, maxx, maxy = self.mercator_bounds()
        pad = (maxx - minx) * margin
        lon, lat = mercator_to_lonlat(
            np.array([minx - pad, maxx + pad]), np.array([miny - pad, maxy + pad])
        )
        return float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])

    def pixel_m(self) -> float:
        """The width of one tile unit in EPSG:3857 metres."""
        return 2 * HALF_WORLD / (1 << self.z) / EXTENT


def lonlat_to_mercator(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude (degrees) to EPSG:3857 metres (latitudes clamped to ±85.05°)."""
    lat = np.clip(lat, -MAX_LAT, MAX_LAT)
    x = EARTH_RADIUS * np.radians(lon)
    y = EARTH_RADIUS * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))
    return x, y


def mercator_to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """EPSG:3857 metres to longitude and latitude in degrees."""
    lon = np.degrees(x / EARTH_RADIUS)
    lat = np.degrees(2 * np.arctan(np.exp(y / EARTH_RADIUS)) - np.pi / 2)
    return lon, lat


def tile_of(lon: float, lat: float, z: int) -> Tile:
    """The tile of zoom ``z`` that holds a point."""
    x, y = lonlat_to_mercator(np.array([lon]), np.array([lat]))
    size = 2 * HALF_WORLD / (1 << z)
    side = (1 << z) - 1
    col = min(side, max(0, math.floor((float(x[0]) + HALF_WORLD) / size)))
    row = min(side, max(0, math.floor((HALF_WORLD - float(y[0])) / size)))
    return Tile(z, col, row)


def encode_tile(
    tile: Tile,
    layers: Mapping[str, Iterable[tuple[object, Mapping[str, object]]]],
) -> bytes:
    """Encode layers of (geometry in EPSG:4326, properties) as one tile.

    Each geometry is projected to EPSG:3857, clipped to the tile and its margin,
    simplified to one tile unit and dropped when nothing of it is left; properties
    with None values are left out (MVT has no null). Features are numbered from 1 in
    each layer (MVT ids are integers; our string ids travel as the ``id`` property).
    """
    minx, _, _, maxy = tile.mercator_bounds()
    pixel = tile.pixel_m()

    def to_tile_units(coords: np.ndarray) -> np.ndarray:
        x, y = lonlat_to_mercator(coords[:, 0], coords[:, 1])
        return np.column_stack([(x - minx) / pixel, (maxy - y) / pixel])

    encoded = []
    for name, features in layers.items():
        out = []
        for number, (geometry, properties) in enumerate(features, start=1):
            if geometry is None or geometry.is_empty:
                continue
            shape = shapely.transform(geometry, to_tile_units)
            shape = shapely.clip_by_rect(shape, -BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
            if shape.is_empty:
                continue
            shape = shapely.simplify(shape, 1.0, preserve_topology=True)
            if shape.is_empty:
                continue
            kept = {k: v for k, v in properties.items() if v is not None}
            out.append({"geometry": shape, "properties": kept, "id": number})
        encoded.append({"name": name, "features": out})
    options = {"y_coord_down": True, "extents": EXTENT}
    return mapbox_vector_tile.encode(encoded, default_options=options)


def decode_tile(data: bytes) -> dict[str, list[dict]]:
    """Layer name -> features (GeoJSON-like dicts in tile units, y down) of an encoded tile."""
    decoded = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})
    return {name: layer["features"] for name, layer in decoded.items()}
