"""Vector tiles on both backends: a tile decodes (mapbox-vector-tile) and holds the right
features with the right ids and shapes; tiles are cached per data version."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import box, shape

from mapserver.mvt import BUFFER, EXTENT, Tile, decode_tile, mercator_to_lonlat, tile_of
from mapserver.services.tiles import TileCache
from mapserver.store import open_store


def _lonlat(tile: Tile, geometry: dict):
    """A decoded feature's geometry (tile units, y down) back in degrees."""
    minx, _, maxx, maxy = tile.mercator_bounds()
    scale = (maxx - minx) / EXTENT

    def back(coords: np.ndarray) -> np.ndarray:
        lon, lat = mercator_to_lonlat(minx + coords[:, 0] * scale, maxy - coords[:, 1] * scale)
        return np.column_stack([lon, lat])

    return shapely.transform(shape(geometry), back)


def test_a_grid_tile_holds_the_grids_it_shows(demo_store_url, demo_layers):
    store = open_store(demo_store_url)
    try:
        tiles = TileCache(store)
        grids = demo_layers["grids"]
        micro = grids[grids["level"] == "micro"].set_index("grid_id")
        centre_id = micro.index[len(micro) // 2]
        point = micro.geometry[centre_id].representative_point()
        tile = tile_of(point.x, point.y, 16)
        _, data = tiles.tile("grids", tile, level="micro")
        features = decode_tile(data)["grids"]
        ids = [f["properties"]["id"] for f in features]
        assert len(ids) == len(set(ids))
        inner = box(*tile.lonlat_bounds())
        wide = box(*tile.lonlat_bounds(margin=BUFFER / EXTENT))
        shown = {g for g, geom in micro.geometry.items() if geom.intersects(wide)}
        solid = {
            g
            for g, geom in micro.geometry.items()
            if geom.intersection(inner).area > 0.5 * geom.area  # mostly inside
        }
        assert centre_id in solid and solid <= set(ids) <= shown
        for feature in features:
            props = feature["properties"]
            assert props["level"] == "micro"
            assert props["name"] == micro.at[props["id"], "name"]
            if props["id"] in solid:  # the drawn shape is the grid's, within a few pixels
                drawn = _lonlat(tile, feature["geometry"])
                truth = micro.geometry[props["id"]].intersection(wide)
                assert drawn.symmetric_difference(truth).area < 0.02 * truth.area
        # buildings: none below zoom 13, every building of the tile above it
        low = tiles.tile("buildings", tile_of(point.x, point.y, 12))[1]
        assert decode_tile(low)["buildings"] == []
        buildings = demo_layers["buildings"].set_index("building_id")
        _, data = tiles.tile("buildings", tile)
        got = {f["properties"]["id"] for f in decode_tile(data)["buildings"]}
        inside = {b for b, geom in buildings.geometry.items() if geom.within(inner)}
        assert inside and inside <= got
        # cached per data version: the same tile is not made twice until an import
        made = tiles.encoded
        etag, _ = tiles.tile("grids", tile, level="micro")
        assert tiles.encoded == made
        store.import_layers({"checkpoints": demo_layers["checkpoints"]}, user="t")
        etag_after, _ = tiles.tile("grids", tile, level="micro")
        assert etag_after != etag and tiles.encoded == made + 1
    finally:
        store.dispose()


def test_tiles_over_http(app, client, viewer, demo_layers):
    grids = demo_layers["grids"]
    point = grids[grids["level"] == "micro"].geometry.iloc[0].representative_point()
    tile = tile_of(point.x, point.y, 15)
    url = f"/api/tiles/grids/{tile.z}/{tile.x}/{tile.y}.pbf?level=micro"
    first = viewer.get(url)
    assert first.status_code == 200
    assert first.mimetype == "application/vnd.mapbox-vector-tile"
    plain = decode_tile(first.data)["grids"]
    assert plain and all(f["properties"]["level"] == "micro" for f in plain)
    assert viewer.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    shifted = decode_tile(viewer.get(url + "&coords=gcj02").data)["grids"]
    one = next(
        f for f in plain if f["properties"]["id"] in {g["properties"]["id"] for g in shifted}
    )
    other = next(f for f in shifted if f["properties"]["id"] == one["properties"]["id"])
    a = _lonlat(tile, one["geometry"]).centroid
    b = _lonlat(tile, other["geometry"]).centroid
    metres = np.hypot((b.x - a.x) * 95_000, (b.y - a.y) * 111_000)
    assert 200 < metres < 1000  # Gaode's basemap: the grids moved by GCJ-02's offset
    assert client.get(f"/api/tiles/buildings/{tile.z}/{tile.x}/{tile.y}.pbf").status_code == 401
    assert viewer.get(f"/api/tiles/buildings/{tile.z}/{tile.x}/{tile.y}.pbf").status_code == 200
    assert viewer.get("/api/tiles/grids/3/9/0.pbf").status_code == 400
    assert viewer.get("/api/tiles/users/3/1/1.pbf").status_code == 404
