"""Entrances of an area: every road crossing its boundary, and whether it is staffed or closed."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapserver.coverage._sides import Sides, read_sides, transformer
from mapserver.coverage.area import AreaLike, as_area

STATES: tuple[str, ...] = ("staffed", "closed", "uncovered")
_DELTA_M = 1.0  # step either side of a crossing to tell in from out (m)


@dataclass(frozen=True)
class Entrance:
    """One place where a road crosses the area's boundary (lon/lat in EPSG:4326)."""

    entrance_id: str
    edge_id: str
    lon: float
    lat: float
    road_class: str
    mode: str
    name: str
    direction: str  # "in", "out" (one-way roads) or "both"
    state: str  # "staffed", "closed" or "uncovered"
    checkpoint_id: str | None
    inside_node: str | None  # end node of the edge inside the area, if any
    outside_node: str | None


@dataclass(frozen=True)
class EntranceList:
    """The entrances of one area, with counts by state."""

    entrances: tuple[Entrance, ...]
    inside_nodes: int

    def counts(self) -> dict[str, int]:
        """Number of entrances in each state (every state present, zero when none)."""
        have = Counter(e.state for e in self.entrances)
        return {s: have.get(s, 0) for s in STATES}

    def uncovered(self) -> tuple[Entrance, ...]:
        """The entrances neither staffed nor closed."""
        return tuple(e for e in self.entrances if e.state == "uncovered")

    def to_dict(self) -> dict:
        """Plain data: ``{"counts", "total", "inside_nodes", "entrances": [...]}``."""
        return {
            "counts": self.counts(),
            "total": len(self.entrances),
            "inside_nodes": self.inside_nodes,
            "entrances": [asdict(e) for e in self.entrances],
        }

    def to_geojson(self) -> dict:
        """A FeatureCollection of entrance points (EPSG:4326) with their fields as properties."""
        features = []
        for e in self.entrances:
            props = asdict(e)
            lon, lat = props.pop("lon"), props.pop("lat")
            features.append(
                {
                    "type": "Feature",
                    "id": e.entrance_id,
                    "geometry": {"type": "Point", "coordinates": [lon, lat]},
                    "properties": props,
                }
            )
        return {"type": "FeatureCollection", "features": features, "counts": self.counts()}


def find_entrances(
    area: AreaLike,
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    checkpoints: gpd.GeoDataFrame | None = None,
    *,
    tolerance_m: float = 30.0,
    modes: tuple[str, ...] = ("drive", "walk", "water"),
) -> EntranceList:
    """List every road crossing an area's boundary and how each is covered.

    One entrance per crossing point: an edge passing through the area with both
    ends outside gives two. Where the boundary runs along a road, the roads
    leaving that road inward are the entrances, unless the checkpoints show it
    to be the area's own perimeter road (then the roads leaving it outward are).
    An entrance is ``"closed"`` when its edge is closed, ``"staffed"`` when a
    staffed checkpoint stands within ``tolerance_m`` of the crossing, on the
    edge's end node nearest the crossing, or on the edge's end inside the area,
    and ``"uncovered"`` otherwise.

    Parameters
    ----------
    area
        Polygon/MultiPolygon in EPSG:4326 (see :func:`~mapserver.coverage.area.as_area`).
    nodes, edges
        Road layers (``model.ROAD_NODE_COLUMNS``, ``model.ROAD_EDGE_COLUMNS``) in
        EPSG:4326; edge geometries run from ``u`` to ``v``.
    checkpoints
        Checkpoints layer (``model.CHECKPOINT_COLUMNS``), EPSG:4326, optional.
    tolerance_m
        Distance in metres within which a checkpoint covers a crossing.
    modes
        Edge modes to consider (``drive``, ``walk``, ``water``).

    Returns
    -------
    EntranceList
        Entrances ordered by edge, crossing points in EPSG:4326.

    Raises
    ------
    ValueError
        When the area is empty. An area holding no road node still has the
        entrances of the roads crossing it (two per road passing through); one
        holding every node has none.
    """
    poly = as_area(area)
    sides = read_sides(poly, nodes, edges, checkpoints, tolerance_m=tolerance_m)
    staffed = _staffed(checkpoints, sides)
    back = transformer(sides.crs, "EPSG:4326")
    cols = edges[["edge_id", "road_class", "mode", "name", "oneway", "closed"]]
    mode_ok = cols["mode"].astype(str).isin(modes).to_numpy()
    out = []
    for i, e in enumerate(sides.near):
        if not mode_ok[e]:
            continue
        row = cols.iloc[int(e)]
        for k, (t, before, after) in enumerate(_crossings(sides, i)):
            crossing = (i, int(e), k, t, before, after)
            out.append(_entrance(sides, crossing, row, staffed, back, tolerance_m))
    return EntranceList(tuple(out), int(sides.inside.sum()))


def _crossings(s: Sides, i: int) -> list[tuple[float, int, int]]:
    """Crossings of near edge ``i`` as (metres along u -> v, side before, side after)."""
    line = s.lines_m[i]
    length = line.length
    u, v = s.u[s.near[i]], s.v[s.near[i]]
    step = min(max(4.0 * s.snap_m, 2.0), 0.5 * length)
    found = []
    if s.on[u] and s.side_u[i] != 0:
        at_u = 1 if s.inside[u] else -1
        if at_u != s.side_u[i]:
            found.append((0.0, at_u, int(s.side_u[i])))
    if s.on[v] and s.side_v[i] != 0:
        at_v = 1 if s.inside[v] else -1
        if at_v != s.side_v[i]:
            found.append((length, int(s.side_v[i]), at_v))
    points = shapely.get_parts(shapely.intersection(line, s.boundary_m))
    points = shapely.get_coordinates(points)  # line pieces along the boundary give their ends
    ts = sorted(
        {round(float(t), 3) for t in shapely.line_locate_point(line, shapely.points(points))}
    )
    lo = step + s.snap_m if s.on[u] else 0.0
    hi = length - step - s.snap_m if s.on[v] else length
    last = -np.inf
    for t in ts:
        if t < lo or t > hi or t - last < s.snap_m:
            continue
        pts = shapely.line_interpolate_point(
            line, [max(t - _DELTA_M, 0.0), min(t + _DELTA_M, length)]
        )
        before, after = np.where(shapely.contains(s.area_m, pts), 1, -1)
        if before != after:
            found.append((t, int(before), int(after)))
            last = t
    return sorted(found)


def _staffed(checkpoints: gpd.GeoDataFrame | None, s: Sides) -> pd.DataFrame:
    """Staffed checkpoints with metric points and node positions."""
    if checkpoints is None or len(checkpoints) == 0:
        return pd.DataFrame({"checkpoint_id": [], "node": [], "geom": []})
    cp = checkpoints[checkpoints["staffed"].astype(bool).to_numpy()]
    return pd.DataFrame(
        {
            "checkpoint_id": cp["checkpoint_id"].astype(str).to_numpy(),
            "node": pd.Index(s.node_ids).get_indexer(cp["node_id"].astype(str)),
            "geom": s.to_metric(cp.geometry.to_numpy()),
        }
    )


def _entrance(s, crossing, row, staffed, back, tolerance_m) -> Entrance:
    """Build one entrance record with its state and covering checkpoint."""
    i, e, k, t, before, after = crossing
    line = s.lines_m[i]
    pt = shapely.line_interpolate_point(line, t)
    u, v = int(s.u[e]), int(s.v[e])
    inside = u if s.inside[u] else (v if s.inside[v] else None)
    outside = u if not s.inside[u] else (v if not s.inside[v] else None)
    nearest_end = u if t <= line.length / 2 else v
    oneway = bool(row["oneway"])
    direction = "both" if not oneway else ("in" if before < after else "out")
    checkpoint_id = None
    if len(staffed):
        dist = shapely.distance(staffed["geom"].to_numpy(), pt)
        at_node = staffed["node"].isin([nearest_end, inside]).to_numpy()
        ok = (dist <= tolerance_m) | at_node
        if ok.any():
            checkpoint_id = str(staffed["checkpoint_id"].to_numpy()[ok][np.argmin(dist[ok])])
    closed = bool(row["closed"])
    state = "closed" if closed else ("staffed" if checkpoint_id else "uncovered")
    lon, lat = back.transform(pt.x, pt.y)
    return Entrance(
        entrance_id=f"{row['edge_id']}#{k + 1}",
        edge_id=str(row["edge_id"]),
        lon=round(float(lon), 7),
        lat=round(float(lat), 7),
        road_class=str(row["road_class"]),
        mode=str(row["mode"]),
        name=str(row["name"]) if pd.notna(row["name"]) else "",
        direction=direction,
        state=state,
        checkpoint_id=checkpoint_id,
        inside_node=None if inside is None else str(s.node_ids[inside]),
        outside_node=None if outside is None else str(s.node_ids[outside]),
    )
