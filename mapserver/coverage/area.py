"""The area to seal: a union of grids or a drawn polygon, checked against the road network."""

from __future__ import annotations

import json
from collections.abc import Iterable

import geopandas as gpd
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape

from mapserver.coverage._sides import Sides, read_sides
from mapserver.crs import to_storage

AreaLike = Polygon | MultiPolygon | gpd.GeoSeries | gpd.GeoDataFrame | dict | str


def area_polygon(grids: gpd.GeoDataFrame, grid_ids: str | Iterable[str]) -> Polygon | MultiPolygon:
    """Return the union of the chosen grids as one area.

    Parameters
    ----------
    grids
        The grids layer (``model.GRID_COLUMNS``), any CRS (none means EPSG:4326).
    grid_ids
        One grid id or several; their polygons are merged.

    Returns
    -------
    Polygon or MultiPolygon
        The area in EPSG:4326 (lon, lat).

    Raises
    ------
    ValueError
        When nothing is selected or an id is not a grid.
    """
    ids = [grid_ids] if isinstance(grid_ids, str) else [str(g) for g in grid_ids]
    if not ids:
        msg = "no grid selected: give at least one grid_id to seal"
        raise ValueError(msg)
    have = grids["grid_id"].astype(str)
    unknown = sorted(set(ids) - set(have))
    if unknown:
        shown = ", ".join(f"'{g}'" for g in unknown[:10])
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        msg = f"unknown grid_id {shown}{more}: not in the grids layer"
        raise ValueError(msg)
    chosen = to_storage(grids[have.isin(ids)])
    return _polygonal(shapely.union_all(shapely.make_valid(chosen.geometry.to_numpy())), ids)


def as_area(area: AreaLike) -> Polygon | MultiPolygon:
    """Read a drawn area: a shapely polygon, a GeoSeries/GeoDataFrame, GeoJSON or WKT.

    Parameters
    ----------
    area
        Polygon or MultiPolygon in EPSG:4326; a GeoSeries/GeoDataFrame in any CRS
        (its geometries are merged); a GeoJSON geometry, Feature or
        FeatureCollection as a dict or JSON text; or WKT text.

    Returns
    -------
    Polygon or MultiPolygon
        The area in EPSG:4326.

    Raises
    ------
    ValueError
        When the area is empty or not a polygon.
    """
    if isinstance(area, gpd.GeoDataFrame | gpd.GeoSeries):
        geom = shapely.union_all(to_storage(area).geometry.to_numpy())
    elif isinstance(area, dict):
        geom = _from_geojson(area)
    elif isinstance(area, str):
        text = area.strip()
        geom = _from_geojson(json.loads(text)) if text.startswith("{") else shapely.from_wkt(text)
    else:
        geom = area
    return _polygonal(shapely.make_valid(geom), None)


def _from_geojson(obj: dict) -> shapely.Geometry:
    """Union of the polygons in a GeoJSON geometry, Feature or FeatureCollection
    (ValueError for anything else: a missing type, coordinates of the wrong shape)."""
    try:
        kind = obj.get("type")
        if kind == "FeatureCollection":
            return shapely.union_all([shape(f["geometry"]) for f in obj.get("features", [])])
        if kind == "Feature":
            return shape(obj["geometry"])
        return shape(obj)
    except (AttributeError, KeyError, TypeError, IndexError, shapely.errors.GEOSException) as err:
        msg = f"not a GeoJSON polygon ({type(err).__name__}: {err})"
        raise ValueError(msg) from None


def _polygonal(geom: shapely.Geometry, ids: list[str] | None) -> Polygon | MultiPolygon:
    """Keep the polygonal part of a geometry; refuse an empty or non-areal one."""
    what = f"grids {', '.join(ids[:5])}" if ids else "the drawn area"
    if geom is None or geom.is_empty:
        msg = f"{what}: the area is empty"
        raise ValueError(msg)
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, Polygon | MultiPolygon)]
    if isinstance(geom, shapely.GeometryCollection) and parts:
        geom = shapely.union_all(parts)
    if not isinstance(geom, Polygon | MultiPolygon) or geom.area == 0:
        msg = f"{what}: the area must be a polygon, got {geom.geom_type}"
        raise ValueError(msg)
    return geom


def check_inside(sides: Sides) -> None:
    """Refuse an area holding no road node, or every road node of the network.

    Raises
    ------
    ValueError
        With the number of road nodes inside and in the network.
    """
    n_in, n_all = int(sides.inside.sum()), len(sides.inside)
    if n_in == 0:
        msg = (
            f"the area holds none of the {n_all} road nodes: it lies off the road network "
            "or between roads; choose a larger area"
        )
        raise ValueError(msg)
    if n_in == n_all:
        msg = (
            f"the area holds all {n_all} road nodes: it covers the whole network, "
            "so there is no boundary to seal; choose a smaller area"
        )
        raise ValueError(msg)


def area_nodes(
    area: AreaLike,
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    checkpoints: gpd.GeoDataFrame | None = None,
    *,
    tolerance_m: float = 30.0,
) -> frozenset[str]:
    """Return the ids of the road nodes inside an area.

    A node on the boundary (within 0.5 m) is inside when the road along the boundary
    there reads as the area's own perimeter road: more of its outward roads than of
    its inward roads carry a checkpoint (within ``tolerance_m`` metres).

    Parameters
    ----------
    area
        The area (see :func:`as_area`), EPSG:4326.
    nodes, edges
        Road layers (``model.ROAD_NODE_COLUMNS``, ``model.ROAD_EDGE_COLUMNS``), EPSG:4326.
    checkpoints
        Checkpoints layer, optional; used to read boundary roads.
    tolerance_m
        How near a checkpoint must stand to a boundary node, in metres.

    Returns
    -------
    frozenset of str
        Node ids inside.

    Raises
    ------
    ValueError
        When the area holds no road node or all of them.
    """
    sides = read_sides(as_area(area), nodes, edges, checkpoints, tolerance_m=tolerance_m)
    check_inside(sides)
    return frozenset(sides.node_ids[sides.inside].tolist())
