"""Road network from a line layer (GeoJSON, GeoPackage...): validate, snap, node, measure."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from mapserver import crs
from mapserver.errors import ValidationError, ValidationIssue
from mapserver.model import STORAGE_CRS
from mapserver.network.schema import (
    CLASS_MODE,
    MODES,
    edges_frame,
    nodes_frame,
    oneway_of,
    road_class_of,
)

CLASS_COLUMNS: tuple[str, ...] = ("road_class", "highway", "class", "fclass")
LINEAR = frozenset({"LineString", "MultiLineString"})
GRID_M = 0.01  # noding precision (snap rounding), metres
DEFAULT_CLASS = "street"
_TRUE = frozenset({"true", "1", "yes", "y", "t", "是"})
_GEOFABRIK_ONEWAY = frozenset({"f", "t", "b"})


def _text(value: object) -> str | None:
    """A cell as stripped text, or None when blank/missing."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    out = str(value).strip()
    return out or None


def roads_from_lines(
    gdf: gpd.GeoDataFrame, *, file: str, snap_m: float = 0.5
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Turn a layer of road lines into road nodes and edges.

    Lines are split where they cross or touch (at shared vertices or at
    intersections) unless their ``layer`` values differ (bridges, tunnels: they
    then meet only at their ends); line ends closer than ``snap_m`` to another
    end or to another line are snapped onto it first.

    Parameters
    ----------
    gdf
        LineString/MultiLineString features, any CRS (none means EPSG:4326).
        Optional columns: ``road_class`` (or ``highway``/``class``/``fclass``
        with OSM values; blank is "street"), ``oneway`` (yes/true/1, ``-1`` for
        against the drawing direction, Geofabrik F/T/B), ``name``, ``closed``,
        ``mode`` (drive/walk/water; blank follows the class), ``edge_id``,
        ``layer``.
    file
        File name used in validation issues.
    snap_m
        Snapping distance in metres (in the local metric CRS).

    Returns
    -------
    (nodes, edges)
        Model road layers in EPSG:4326. Edge ids are the feature's ``edge_id``
        (or ``L<feature number>``), with ``:<k>`` added when a feature is cut
        into several edges (k counts along the line from 0); node ids are
        ``n<k>``. ``length_m`` in metres.

    Raises
    ------
    ValidationError
        Naming the file, 1-based feature number and field of every empty,
        invalid, non-line or zero-length geometry and every unknown class, mode
        or repeated ``edge_id``; nothing is returned then.
    """
    if gdf.crs is None:
        gdf = gdf.set_crs(STORAGE_CRS)
    gdf = gdf.to_crs(STORAGE_CRS).reset_index(drop=True)
    issues: list[ValidationIssue] = []
    _check_geometries(gdf, file, issues)
    attrs = _attributes(gdf, file, issues)
    if issues:
        raise ValidationError(issues)
    if not len(gdf):
        return nodes_frame([], [], np.zeros(0), np.zeros(0)), edges_frame(
            {
                k: []
                for k in ("edge_id", "u", "v", "name", "road_class", "oneway", "mode", "closed")
            },
            [],
        )
    metric = crs.metric_crs(gdf.geometry)
    lines = gdf.geometry.to_crs(metric).to_numpy()
    parts, owner = shapely.get_parts(lines, return_index=True)
    flip = attrs["reverse"].to_numpy()[owner]
    parts[flip] = shapely.reverse(parts[flip])
    parts = _snap(parts, snap_m)
    pieces, piece_part = _node(parts, attrs["layer"].to_numpy()[owner])
    position = shapely.line_locate_point(parts[piece_part], shapely.get_point(pieces, 0))
    return _frames(pieces, piece_part, position, owner, attrs, metric)


def _check_geometries(gdf: gpd.GeoDataFrame, file: str, issues: list[ValidationIssue]) -> None:
    """Report every geometry that is not a valid line of some length."""
    for i, geom in enumerate(gdf.geometry.values):
        reason = None
        if geom is None or geom.is_empty:
            reason = "geometry is empty"
        elif geom.geom_type not in LINEAR:
            reason = f"{geom.geom_type} geometry where LineString or MultiLineString is expected"
        elif not np.all(np.isfinite(geom.bounds)):
            reason = "coordinates are not finite numbers"
        elif not (-180 <= geom.bounds[0] <= geom.bounds[2] <= 180) or not (
            -90 <= geom.bounds[1] <= geom.bounds[3] <= 90
        ):
            reason = (
                f"coordinates ({geom.bounds[0]:.6g}, {geom.bounds[1]:.6g}) are outside lon/lat: "
                "give the source CRS, e.g. EPSG:4549"
            )
        elif geom.length == 0:
            reason = "zero length: every point of the line is the same"
        elif not geom.is_valid:
            reason = f"invalid geometry: {shapely.is_valid_reason(geom)}"
        elif any(part.length == 0 for part in shapely.get_parts(geom)):
            reason = "a part of the line has zero length"
        if reason is not None:
            issues.append(ValidationIssue(file, i + 1, "geometry", reason))


def _attributes(gdf: gpd.GeoDataFrame, file: str, issues: list[ValidationIssue]) -> pd.DataFrame:
    """Per feature: class, mode, oneway, reverse, name, closed, edge id base and layer."""
    n = len(gdf)
    column = next((c for c in CLASS_COLUMNS if c in gdf.columns), None)
    raw_class = [_text(v) for v in gdf[column]] if column else [None] * n
    classes = []
    for i, raw in enumerate(raw_class):
        cls = DEFAULT_CLASS if raw is None else road_class_of(raw)
        if cls is None:
            reason = (
                f"'{raw}' is not a road class: use main/street/lane/gate/path/water "
                "or an OSM highway value"
            )
            issues.append(ValidationIssue(file, i + 1, column, reason))
        classes.append(cls)
    modes = []
    given_modes = [_text(v) for v in gdf["mode"]] if "mode" in gdf.columns else [None] * n
    for i, (mode, cls) in enumerate(zip(given_modes, classes, strict=True)):
        if mode is not None and mode.lower() not in MODES:
            issues.append(
                ValidationIssue(file, i + 1, "mode", f"'{mode}' is not one of {list(MODES)}")
            )
        modes.append(mode.lower() if mode else CLASS_MODE.get(cls or "", "drive"))
    raw_oneway = [_text(v) for v in gdf["oneway"]] if "oneway" in gdf.columns else [None] * n
    geofabrik = all((v or "").lower() in _GEOFABRIK_ONEWAY | {""} for v in raw_oneway) and any(
        v is not None for v in raw_oneway
    )
    parsed = [
        oneway_of(v, highway=(r or "").lower(), geofabrik=geofabrik)
        for v, r in zip(raw_oneway, raw_class, strict=True)
    ]
    ids = [_text(v) for v in gdf["edge_id"]] if "edge_id" in gdf.columns else [None] * n
    first: dict[str, int] = {}
    for i, eid in enumerate(ids):
        if eid is not None and eid in first:
            reason = f"'{eid}' appears twice (first at row {first[eid] + 1})"
            issues.append(ValidationIssue(file, i + 1, "edge_id", reason))
        elif eid is not None:
            first[eid] = i
    closed = (
        [(_text(v) or "").lower() in _TRUE or v is True for v in gdf["closed"]]
        if "closed" in gdf.columns
        else [False] * n
    )
    return pd.DataFrame(
        {
            "road_class": classes,
            "mode": modes,
            "oneway": [p[0] for p in parsed],
            "reverse": [p[1] for p in parsed],
            "name": [_text(v) for v in gdf["name"]] if "name" in gdf.columns else [None] * n,
            "closed": closed,
            "base": [eid or f"L{i + 1}" for i, eid in enumerate(ids)],
            "layer": [_text(v) or "0" for v in gdf["layer"]]
            if "layer" in gdf.columns
            else ["0"] * n,
        }
    )


def _snap(parts: np.ndarray, snap_m: float) -> np.ndarray:
    """Move line ends within ``snap_m`` metres of another end or line onto it."""
    if snap_m <= 0:
        return parts
    coords = [shapely.get_coordinates(p) for p in parts]
    ends = np.vstack([np.vstack([c[0], c[-1]]) for c in coords])
    pairs = cKDTree(ends).query_pairs(snap_m, output_type="ndarray")
    if len(pairs):
        link = sp.coo_matrix(
            (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(ends),) * 2
        )
        _, label = connected_components(link, directed=False)
        centre = np.column_stack(
            [np.bincount(label, weights=ends[:, k]) / np.bincount(label) for k in (0, 1)]
        )
        ends = centre[label]
        for k, c in enumerate(coords):
            c[0], c[-1] = ends[2 * k], ends[2 * k + 1]
        parts = np.array([shapely.LineString(c) for c in coords], dtype=object)
    tree = shapely.STRtree(parts)
    points = shapely.points(ends)
    near_pt, near_part = tree.query(points, predicate="dwithin", distance=snap_m)
    own = near_pt // 2
    keep = near_part != own
    near_pt, near_part = near_pt[keep], near_part[keep]
    if len(near_pt):
        dist = shapely.distance(points[near_pt], parts[near_part])
        order = np.lexsort((dist, near_pt))
        near_pt, near_part, dist = near_pt[order], near_part[order], dist[order]
        first = np.ones(len(near_pt), dtype=bool)
        first[1:] = near_pt[1:] != near_pt[:-1]
        move = first & (dist > 0)
        for p, line in zip(near_pt[move], near_part[move], strict=True):
            target = shapely.line_interpolate_point(
                parts[line], shapely.line_locate_point(parts[line], points[p])
            )
            ends[p] = shapely.get_coordinates(target)[0]
    for k, c in enumerate(coords):
        c[0], c[-1] = ends[2 * k], ends[2 * k + 1]
    return np.array([shapely.LineString(c) for c in coords], dtype=object)


def _node(parts: np.ndarray, layer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split lines of the same layer at every crossing; returns pieces and their source part."""
    pieces, sources = [], []
    for value in pd.unique(layer):
        idx = np.flatnonzero(layer == value)
        noded = shapely.get_parts(shapely.union_all(parts[idx], grid_size=GRID_M))
        noded = noded[shapely.get_type_id(noded) == 1]  # LineStrings only
        noded = noded[shapely.length(noded) > 0]
        mid = shapely.line_interpolate_point(noded, 0.5, normalized=True)
        where, hit = shapely.STRtree(parts[idx]).query_nearest(mid, all_matches=True)
        best = pd.Series(hit).groupby(where).min()
        src = idx[best.to_numpy()]
        noded = noded[best.index.to_numpy()]
        pieces.append(_orient(noded, parts[src]))
        sources.append(src)
    return np.concatenate(pieces), np.concatenate(sources)


def _orient(pieces: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Turn each piece to run the way its source line is drawn."""
    ahead = shapely.line_locate_point(
        sources, shapely.line_interpolate_point(pieces, 0.75, normalized=True)
    )
    behind = shapely.line_locate_point(
        sources, shapely.line_interpolate_point(pieces, 0.25, normalized=True)
    )
    flip = ahead < behind
    pieces = pieces.copy()
    pieces[flip] = shapely.reverse(pieces[flip])
    return pieces


def _frames(
    pieces: np.ndarray,
    piece_part: np.ndarray,
    position: np.ndarray,
    owner: np.ndarray,
    attrs: pd.DataFrame,
    metric: pyproj.CRS,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Model node and edge frames from oriented pieces (metric CRS) and their features.

    ``position`` is where each piece starts along its source part (m), to number
    the pieces of a feature in drawing order.
    """
    feature = owner[piece_part]
    start = shapely.get_point(pieces, 0)
    order = np.lexsort((position, piece_part, feature))
    pieces, feature, start = pieces[order], feature[order], start[order]
    end = shapely.get_point(pieces, -1)
    ends = np.vstack([shapely.get_coordinates(start), shapely.get_coordinates(end)])
    keys = np.rint(ends / GRID_M).astype(np.int64)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    node_ids = np.array([f"n{i + 1}" for i in range(len(uniq))], dtype=object)
    m = len(pieces)
    counts = np.bincount(feature, minlength=len(attrs))
    rank = np.arange(m) - np.searchsorted(feature, feature)
    base = attrs["base"].to_numpy()[feature]
    edge_ids = [
        b if counts[f] == 1 else f"{b}:{k}" for b, f, k in zip(base, feature, rank, strict=True)
    ]
    to_ll = pyproj.Transformer.from_crs(metric, STORAGE_CRS, always_xy=True)

    def _back(c: np.ndarray) -> np.ndarray:
        return np.column_stack(to_ll.transform(c[:, 0], c[:, 1]))

    node_xy = _back(uniq * GRID_M)
    take = attrs.iloc[feature]
    columns = {
        "edge_id": edge_ids,
        "u": node_ids[inverse[:m]].tolist(),
        "v": node_ids[inverse[m:]].tolist(),
        "name": take["name"].tolist(),
        "road_class": take["road_class"].tolist(),
        "oneway": take["oneway"].tolist(),
        "mode": take["mode"].tolist(),
        "closed": take["closed"].tolist(),
    }
    nodes = nodes_frame(node_ids, ["junction"] * len(node_ids), node_xy[:, 0], node_xy[:, 1])
    geometry = shapely.transform(pieces, _back)
    return nodes, edges_frame(columns, geometry, metric_lengths=shapely.length(pieces))
