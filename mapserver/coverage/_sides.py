"""Which road nodes lie inside an area, with boundary roads read as the area's own or not."""

# A grid boundary is often drawn along a road's centreline, so nodes sit on it. Each
# connected run of road along the boundary is read one way: as the area's own perimeter
# road (entrances are the roads leaving it outward) when a larger share of its outward
# roads carry a checkpoint than of its inward ones, otherwise as a shared road outside
# the area (entrances are the roads leaving it inward): a compound's street, a
# neighbourhood's main road. A village whose checkpoints stand where its perimeter
# road meets the roads out is read the first way.

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely.geometry import MultiPolygon, Polygon

from mapserver.crs import metric_crs

SNAP_M = 0.5  # a node this close to the boundary lies on it (m)
_DEG_PER_M = 1.0 / 80_000.0  # generous degrees per metre for bounding-box margins


@dataclass(frozen=True)
class Sides:
    """Road nodes and edges of an area, in the area's metric CRS (metres)."""

    crs: pyproj.CRS
    area_m: shapely.Geometry
    boundary_m: shapely.Geometry
    node_ids: np.ndarray  # str, all nodes
    xy: np.ndarray  # (n, 2) metres
    inside: np.ndarray  # bool: strictly inside, or on a boundary run read as the area's own
    on: np.ndarray  # bool: on the boundary
    u: np.ndarray  # int node index per edge
    v: np.ndarray
    near: np.ndarray  # int edge indices within snap of the boundary, not along it
    lines_m: np.ndarray  # their geometries in metres (u -> v)
    side_u: np.ndarray  # per near edge: side just after u (+1 in, -1 out, 0 along)
    side_v: np.ndarray  # per near edge: side just before v
    snap_m: float

    def to_metric(self, geom):
        """Project EPSG:4326 geometry (array or scalar) to the metric CRS."""
        return _project(geom, self.crs)

    def side_of(self, pts) -> np.ndarray:
        """+1 inside, -1 outside, 0 within snap of the boundary (metric points)."""
        inside = shapely.contains(self.area_m, pts)
        along = shapely.dwithin(pts, self.boundary_m, self.snap_m)
        return np.where(along, 0, np.where(inside, 1, -1))


@lru_cache(maxsize=16)
def _transformer(src: str, dst: str) -> pyproj.Transformer:
    """One transformer per CRS pair (building one takes ~0.1 s)."""
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def transformer(src: pyproj.CRS | str, dst: pyproj.CRS | str) -> pyproj.Transformer:
    """A cached lon/lat-ordered transformer between two CRSs."""
    return _transformer(pyproj.CRS(src).srs, pyproj.CRS(dst).srs)


def _project(geom, crs: pyproj.CRS):
    fwd = transformer("EPSG:4326", crs)

    def fn(coords: np.ndarray) -> np.ndarray:
        x, y = fwd.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, fn)


def node_index(nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame) -> tuple[pd.Index, ...]:
    """Node ids as an index and the u, v node positions of every edge.

    Raises
    ------
    ValueError
        When an edge names a node that is not in the nodes layer.
    """
    index = pd.Index(nodes["node_id"].astype(str))
    u = index.get_indexer(edges["u"].astype(str))
    v = index.get_indexer(edges["v"].astype(str))
    bad = np.flatnonzero((u < 0) | (v < 0))
    if len(bad):
        row = edges.iloc[int(bad[0])]
        msg = (
            f"road edge '{row['edge_id']}' joins node '{row['u']}' to '{row['v']}', "
            f"but the road nodes do not hold both ({len(bad)} such edges)"
        )
        raise ValueError(msg)
    return index, u, v


def read_sides(
    area: Polygon | MultiPolygon,
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    checkpoints: gpd.GeoDataFrame | None,
    *,
    tolerance_m: float,
    snap_m: float = SNAP_M,
) -> Sides:
    """Classify road nodes against an area (EPSG:4326 in; metres inside)."""
    crs = metric_crs(area.bounds)
    index, u, v = node_index(nodes, edges)
    lon = shapely.get_x(nodes.geometry.to_numpy())
    lat = shapely.get_y(nodes.geometry.to_numpy())
    x, y = transformer("EPSG:4326", crs).transform(lon, lat)
    xy = np.column_stack([x, y])
    area_m = _project(area, crs)
    boundary = area_m.boundary
    shapely.prepare(area_m)
    shapely.prepare(boundary)

    n = len(index)
    x0, y0, x1, y1 = area_m.bounds
    pad = snap_m + 1.0
    box_mask = (x >= x0 - pad) & (x <= x1 + pad) & (y >= y0 - pad) & (y <= y1 + pad)
    cand = np.flatnonzero(box_mask)
    pts = shapely.points(xy[cand])
    on = np.zeros(n, dtype=bool)
    inside = np.zeros(n, dtype=bool)
    on[cand] = shapely.dwithin(pts, boundary, snap_m)
    inside[cand] = shapely.contains(area_m, pts) & ~on[cand]

    # edges whose box meets the area's box, projected once
    b = shapely.bounds(edges.geometry.to_numpy())
    ax0, ay0, ax1, ay1 = area.bounds
    m = (tolerance_m + snap_m) * _DEG_PER_M
    hit = (b[:, 2] >= ax0 - m) & (b[:, 0] <= ax1 + m) & (b[:, 3] >= ay0 - m) & (b[:, 1] <= ay1 + m)
    near = np.flatnonzero(hit)
    lines = _project(edges.geometry.to_numpy()[near], crs)
    keep = shapely.dwithin(lines, boundary, snap_m)
    near, lines = near[keep], lines[keep]
    # along the boundary: both ends on it and the whole road within snap of it (a road
    # that dips deeper inside between two boundary nodes is a way in, not a boundary run)
    along = on[u[near]] & on[v[near]]
    if along.any():
        band = shapely.buffer(boundary, snap_m * 1.001)  # a hair wider: float noise
        along[along] = shapely.covered_by(lines[along], band)
    runs_e = near[along]
    near, lines = near[~along], lines[~along]

    length = shapely.length(lines)
    step = np.minimum(np.maximum(4.0 * snap_m, 2.0), 0.5 * length)
    sides = Sides(crs, area_m, boundary, index.to_numpy(), xy, inside, on, u, v, near, lines,
                  np.zeros(0), np.zeros(0), snap_m)  # fmt: skip
    side_u = sides.side_of(shapely.line_interpolate_point(lines, step))
    side_v = sides.side_of(shapely.line_interpolate_point(lines, length - step))

    own = _own_runs(sides, runs_e, side_u, side_v, checkpoints, tolerance_m=tolerance_m)
    inside = inside | own
    return Sides(crs, area_m, boundary, sides.node_ids, xy, inside, on, u, v, near, lines,
                 side_u, side_v, snap_m)  # fmt: skip


def _own_runs(
    s: Sides,
    runs_e: np.ndarray,
    side_u: np.ndarray,
    side_v: np.ndarray,
    checkpoints: gpd.GeoDataFrame | None,
    *,
    tolerance_m: float,
) -> np.ndarray:
    """Boolean mask of boundary nodes on runs read as the area's own perimeter road."""
    n = len(s.node_ids)
    own = np.zeros(n, dtype=bool)
    if checkpoints is None or len(checkpoints) == 0 or not s.on.any():
        return own
    graph = coo_matrix((np.ones(len(runs_e)), (s.u[runs_e], s.v[runs_e])), shape=(n, n))
    _, run = connected_components(graph, directed=False)
    cp_nodes = pd.Index(s.node_ids).get_indexer(checkpoints["node_id"].astype(str))
    on_cp = np.zeros(n, dtype=bool)
    on_cp[cp_nodes[cp_nodes >= 0]] = True
    cp_pts = s.to_metric(checkpoints.geometry.to_numpy())
    near_cp = np.zeros(n, dtype=bool)
    on_idx = np.flatnonzero(s.on)
    tree = shapely.STRtree(cp_pts)
    hits = tree.query(shapely.points(s.xy[on_idx]), predicate="dwithin", distance=tolerance_m)
    near_cp[on_idx[np.unique(hits[0])]] = True

    # touching ends: (boundary node, side of the edge next to it, node at the far end)
    ends = []
    for end, far, side in ((s.u[s.near], s.v[s.near], side_u), (s.v[s.near], s.u[s.near], side_v)):
        mask = s.on[end] & (side != 0)
        ends.append(pd.DataFrame({"node": end[mask], "far": far[mask], "side": side[mask]}))
    touch = pd.concat(ends, ignore_index=True)
    if touch.empty:
        return own
    touch["run"] = run[touch["node"].to_numpy()]
    touch["marked"] = near_cp[touch["node"].to_numpy()] | on_cp[touch["far"].to_numpy()]
    share = touch.groupby(["run", "side"])["marked"].mean().unstack(fill_value=0.0)
    share = share.reindex(columns=[-1, 1], fill_value=0.0)
    own_runs = share.index[share[-1].to_numpy() > share[1].to_numpy()].to_numpy()
    own[s.on & np.isin(run, own_runs)] = True
    return own
