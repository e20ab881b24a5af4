"""Read the road network from an OpenStreetMap file (.osm.pbf or .osm XML) with pyosmium."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pyproj
import shapely

from mapserver import crs
from mapserver.network.schema import CLASS_MODE, edges_frame, nodes_frame, oneway_of, road_class_of

_GATE_BARRIERS = frozenset(
    {
        "gate",
        "lift_gate",
        "swing_gate",
        "sliding_gate",
        "kissing_gate",
        "turnstile",
        "full-height_turnstile",
        "entrance",
    }
)
_CLOSED_ACCESS = frozenset({"no", "private"})
_SKIP_HIGHWAY = frozenset({"construction", "proposed", "abandoned", "disused", "razed"})


@dataclass
class _Way:
    """One kept way: its tags of interest and its nodes with locations."""

    way_id: int
    road_class: str
    highway: str
    oneway: bool
    reverse: bool
    name: str | None
    closed: bool
    refs: list[int]
    coords: list[tuple[float, float]]


def read_osm_roads(
    path: str | Path,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    polygon=None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Read roads and ferries from an OSM file into road nodes and edges.

    Ways tagged ``highway=*`` (known values, see ``schema.HIGHWAY_CLASS``) and
    ``route=ferry`` are kept and split at junctions (OSM nodes shared by two or
    more kept ways, or used twice by one), at way ends and at gate barriers.

    Parameters
    ----------
    path
        An ``.osm.pbf`` or ``.osm`` (XML) file.
    bbox
        ``(minx, miny, maxx, maxy)`` in EPSG:4326 degrees; ways with at least one
        node inside are kept whole (so roads crossing the edge stay entrances).
    polygon
        A shapely (Multi)Polygon in EPSG:4326 used the same way as ``bbox``.

    Returns
    -------
    (nodes, edges)
        GeoDataFrames in EPSG:4326 with exactly ``model.ROAD_NODE_COLUMNS`` and
        ``model.ROAD_EDGE_COLUMNS``. Node ids are ``"osm:<node id>"``, edge ids
        ``"osm:<way id>:<k>"`` (k counts pieces along the way from 0). A two-way
        road is one edge with ``oneway`` False; one-way edges run u -> v (ways
        tagged ``oneway=-1`` are reversed). ``length_m`` is in metres, measured
        in the local metric CRS (``crs.metric_crs``).
    """
    path = Path(path)
    if not path.exists():
        msg = f"{path.name}: no such file"
        raise FileNotFoundError(msg)
    ways, gates = _read_ways(path)
    area = _area(bbox, polygon)
    if area is not None:
        ways = [w for w in ways if _touches(w, area)]
    return _split(ways, gates)


def _read_ways(path: Path) -> tuple[list[_Way], set[int]]:
    """Every kept way with node locations, and the ids of gate barrier nodes."""
    ways: list[_Way] = []
    gates: set[int] = set()
    for obj in osmium.FileProcessor(str(path)).with_locations():
        if obj.is_node():
            if obj.tags.get("barrier") in _GATE_BARRIERS:
                gates.add(obj.id)
            continue
        if not obj.is_way():
            continue
        way = _way(obj)
        if way is not None:
            ways.append(way)
    return ways, gates


def _way(obj) -> _Way | None:
    """A kept way from an osmium way, or None (not a road, or under two located nodes)."""
    tags = obj.tags
    highway = tags.get("highway", "") or ""
    if highway:
        if highway in _SKIP_HIGHWAY:
            return None
        road_class = road_class_of(highway)
    elif tags.get("route") == "ferry":
        road_class = "water"
    else:
        return None
    if road_class is None:
        return None
    refs, coords = [], []
    for node in obj.nodes:
        if not node.location.valid():  # node outside the extract
            continue
        if refs and refs[-1] == node.ref:
            continue
        refs.append(node.ref)
        coords.append((node.location.lon, node.location.lat))
    if len(refs) < 2:
        return None
    oneway, reverse = oneway_of(tags.get("oneway"), highway=highway)
    if tags.get("junction") in ("roundabout", "circular") and tags.get("oneway") in (None, ""):
        oneway = True
    return _Way(
        way_id=obj.id,
        road_class=road_class,
        highway=highway,
        oneway=oneway,
        reverse=reverse,
        name=tags.get("name") or tags.get("name:zh") or None,
        closed=tags.get("access") in _CLOSED_ACCESS,
        refs=refs,
        coords=coords,
    )


def _area(bbox, polygon):
    """The area of interest as one shapely geometry (EPSG:4326), or None."""
    if bbox is not None and polygon is not None:
        return shapely.box(*bbox).intersection(polygon)
    if bbox is not None:
        return shapely.box(*bbox)
    return polygon


def _touches(way: _Way, area) -> bool:
    """Whether any node of the way lies inside or on the area."""
    return bool(shapely.intersects(area, shapely.points(np.asarray(way.coords))).any())


def _split(ways: list[_Way], gates: set[int]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Split ways at junctions, ends and gates into model node and edge frames."""
    uses: dict[int, int] = {}
    for way in ways:
        for ref in way.refs:
            uses[ref] = uses.get(ref, 0) + 1
    node_xy: dict[int, tuple[float, float]] = {}
    cols: dict[str, list] = {
        k: [] for k in ("edge_id", "u", "v", "name", "road_class", "oneway", "mode", "closed")
    }
    lines = []
    for way in ways:
        last = len(way.refs) - 1
        cuts = [
            i for i, ref in enumerate(way.refs) if i in (0, last) or uses[ref] > 1 or ref in gates
        ]
        for k, (a, b) in enumerate(itertools.pairwise(cuts)):
            coords = way.coords[a : b + 1]
            u, v = way.refs[a], way.refs[b]
            node_xy[u], node_xy[v] = way.coords[a], way.coords[b]
            if way.reverse:
                coords, u, v = coords[::-1], v, u
            cols["edge_id"].append(f"osm:{way.way_id}:{k}")
            cols["u"].append(f"osm:{u}")
            cols["v"].append(f"osm:{v}")
            cols["name"].append(way.name)
            cols["road_class"].append(way.road_class)
            cols["oneway"].append(way.oneway)
            cols["mode"].append(CLASS_MODE[way.road_class])
            cols["closed"].append(way.closed)
            lines.append(coords)
    refs = np.array(sorted(node_xy), dtype=np.int64)
    xy = np.array([node_xy[r] for r in refs], dtype=float).reshape(-1, 2)
    kinds = ["gate" if r in gates else "junction" for r in refs]
    nodes = nodes_frame([f"osm:{r}" for r in refs], kinds, xy[:, 0], xy[:, 1])
    geometry = np.array([shapely.LineString(c) for c in lines], dtype=object)
    lengths = _metric_lengths(geometry, xy)
    return nodes, edges_frame(cols, geometry, metric_lengths=lengths)


def _metric_lengths(geometry, xy: np.ndarray) -> np.ndarray:
    """Lengths in metres of EPSG:4326 lines, in the metric CRS chosen from the nodes."""
    if not len(xy):
        return np.zeros(0)
    bounds = (*xy.min(axis=0), *xy.max(axis=0))
    to_metric = pyproj.Transformer.from_crs(4326, crs.metric_crs(bounds), always_xy=True)
    projected = shapely.transform(
        np.asarray(geometry), lambda c: np.column_stack(to_metric.transform(c[:, 0], c[:, 1]))
    )
    return shapely.length(projected)
