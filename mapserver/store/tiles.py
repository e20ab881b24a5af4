"""Vector tiles made by PostGIS (``ST_AsMVT``): the database selects, clips, simplifies
and encodes a tile in one statement, so no app process reads the layer for it.

The result follows the rules of :func:`mapserver.mvt.encode_tile` (EPSG:3857, 4,096
units, a 64-unit margin, simplified to one unit; string ids as the ``id`` property).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from mapserver.mvt import BUFFER, EXTENT, Tile


def postgis_tile(
    conn: sa.Connection,
    table: sa.Table,
    layer_name: str,
    tile: Tile,
    *,
    id_column: str,
    properties: Sequence[str],
    level: str | None = None,
) -> bytes:
    """One layer of a tile, encoded by PostGIS, of the rows of ``table`` it shows (grids
    of ``level`` only when given)."""
    margin = BUFFER / EXTENT
    columns = ", ".join(f't."{name}"' for name in properties if name != id_column)
    selected = f't."{id_column}" AS id' + (f", {columns}" if columns else "")
    level_filter = "AND t.level = :level" if level is not None else ""
    pixel = tile.pixel_m()
    statement = sa.text(
        f"""
        WITH env AS (SELECT ST_TileEnvelope(:z, :x, :y) AS box),
        wide AS (SELECT ST_Transform(ST_Expand(box, :pad), 4326) AS box FROM env),
        rows AS (
            SELECT {selected},
                   ST_AsMVTGeom(
                       ST_Simplify(ST_Transform(t.geometry, 3857), :pixel, true),
                       env.box, :extent, :buffer, true
                   ) AS geom
            FROM "{table.name}" t, env, wide
            WHERE t.geometry && wide.box {level_filter}
        )
        SELECT ST_AsMVT(rows.*, :name, :extent, 'geom') FROM rows WHERE geom IS NOT NULL
        """  # table and column names are ours, never the request's
    )
    values = {
        "z": tile.z,
        "x": tile.x,
        "y": tile.y,
        "pad": (tile.mercator_bounds()[2] - tile.mercator_bounds()[0]) * margin,
        "pixel": pixel,
        "extent": EXTENT,
        "buffer": BUFFER,
        "name": layer_name,
    }
    if level is not None:
        values["level"] = level
    found = conn.execute(statement, values).scalar_one()
    return bytes(found) if found is not None else b""
