"""Residential compounds (小区) from OSM: polygons, gates on their roads, buildings' gate nodes."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import shapely
import shapely.ops

from mapserver import model
from mapserver.districting._common import metric_crs_of, polygonal
from mapserver.network.schema import edges_frame, nodes_frame

GATE_INSET_M = 1.0  # a gate node stands on the road this far inside the compound boundary
_GATE_MODES = ("drive", "walk")


def read_compounds(path: str | Path) -> gpd.GeoDataFrame:
    """Residential compounds of an OSM file: ``compound_id``, ``name``, ``kind``, geometry.

    A compound is an area tagged ``landuse=residential``, ``place=neighbourhood``
    (or ``quarter``/``housing_estate``) or a closed ``barrier=wall`` / ``fence``
    ring, with no ``building`` tag and no ``amenity`` (schools and hospitals
    are walled too but hold no households). Ids are ``"osm:w<way id>"`` or
    ``"osm:r<relation id>"``; EPSG:4326.
    """
    wkb = osmium.geom.WKBFactory()
    rows = []
    processor = osmium.FileProcessor(str(path)).with_areas()
    processor = processor.with_filter(osmium.filter.KeyFilter("landuse", "place", "barrier"))
    for obj in processor:
        if not obj.is_area():
            continue
        tags = obj.tags
        if tags.get("building") or tags.get("amenity"):
            continue
        if tags.get("landuse") == "residential":
            kind = "landuse"
        elif tags.get("place") in ("neighbourhood", "quarter", "housing_estate"):
            kind = "place"
        elif tags.get("barrier") in ("wall", "fence"):
            kind = "wall"
        else:
            continue
        try:
            geom = shapely.from_wkb(wkb.create_multipolygon(obj))
        except RuntimeError:
            continue
        rows.append(
            {
                "compound_id": f"osm:{'w' if obj.from_way() else 'r'}{obj.orig_id()}",
                "name": tags.get("name") or tags.get("name:zh") or None,
                "kind": kind,
                "geometry": shapely.make_valid(geom),
            }
        )
    if not rows:
        return gpd.GeoDataFrame(
            {"compound_id": [], "name": [], "kind": []}, geometry=[], crs=model.STORAGE_CRS
        )
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=model.STORAGE_CRS)
    return frame.drop_duplicates("compound_id").reset_index(drop=True)


def disjoint_compounds(compounds: gpd.GeoDataFrame, region) -> gpd.GeoDataFrame:
    """Compounds clipped to ``region`` and to each other (smaller ones win an overlap).

    Compounds left with no area are dropped; geometries are polygonal.
    """
    if len(compounds) == 0:
        return compounds.copy()
    clipped = shapely.intersection(shapely.make_valid(compounds.geometry.to_numpy()), region)
    order = np.argsort(shapely.area(clipped), kind="stable")
    taken = shapely.Polygon()
    out = np.empty(len(clipped), dtype=object)
    for k in order:
        own = polygonal(shapely.difference(clipped[k], taken))
        out[k] = own
        taken = shapely.union(taken, own)
    frame = compounds.copy()
    frame["geometry"] = out
    metric = metric_crs_of(region)
    big = frame.geometry.to_crs(metric).area.to_numpy() > 1.0
    return frame[big].reset_index(drop=True)


def compound_of(buildings: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame) -> np.ndarray:
    """The compound id holding each building's representative point, or None."""
    out = np.full(len(buildings), None, dtype=object)
    if len(compounds) == 0 or len(buildings) == 0:
        return out
    pts = shapely.point_on_surface(buildings.geometry.to_numpy())
    tree = shapely.STRtree(compounds.geometry.to_numpy())
    b, c = tree.query(pts, predicate="within")
    out[b] = compounds["compound_id"].to_numpy()[c]
    return out


def add_gates(
    nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict[str, list[str]]]:
    """Put a gate node where each road crosses a compound's boundary.

    Every drive or walk edge crossing a compound boundary is split at a new
    node of kind ``"gate"`` placed on the road ``GATE_INSET_M`` metres inside
    the compound, so the compound holds a road node even when no junction lies
    in it. The pieces keep the edge's attributes; their ids are the edge id
    with ``/1``, ``/2``... and gate node ids are ``"gate:<compound>:<k>"``.
    Edge lengths are re-measured in metres. Returns the new nodes and edges and
    compound id -> its gate node ids (a compound no road enters has none).
    """
    gates: dict[str, list[str]] = {str(c): [] for c in compounds["compound_id"]}
    if len(compounds) == 0 or len(edges) == 0:
        return nodes, edges, gates
    crs = metric_crs_of(None, edges)
    lines = edges.geometry.to_crs(crs).to_numpy()
    areas = compounds.geometry.to_crs(crs).to_numpy()
    mode_ok = edges["mode"].astype(str).isin(_GATE_MODES).to_numpy()
    tree = shapely.STRtree(lines)
    cuts: dict[int, list[tuple[float, str]]] = {}
    new_nodes: list[tuple[str, float, float]] = []
    for c, area in enumerate(areas):
        cid = str(compounds["compound_id"].iat[c])
        boundary = area.boundary
        for e in tree.query(boundary, predicate="intersects"):
            if not mode_ok[e]:
                continue
            for t in _gate_positions(lines[e], area, boundary):
                gid = f"gate:{cid}:{len(gates[cid]) + 1}"
                gates[cid].append(gid)
                pt = shapely.line_interpolate_point(lines[e], t)
                new_nodes.append((gid, pt.x, pt.y))
                cuts.setdefault(int(e), []).append((t, gid))
    if not new_nodes:
        return nodes, edges, gates
    edges = _split_edges(edges, lines, cuts, crs)
    xy = gpd.GeoSeries(shapely.points([(x, y) for _, x, y in new_nodes]), crs=crs).to_crs(
        model.STORAGE_CRS
    )
    coords = shapely.get_coordinates(xy.to_numpy())
    added = nodes_frame([g for g, _, _ in new_nodes], ["gate"] * len(new_nodes), *coords.T)
    nodes = pd.concat([nodes, added], ignore_index=True)
    return gpd.GeoDataFrame(nodes, geometry="geometry", crs=model.STORAGE_CRS), edges, gates


def _gate_positions(line, area, boundary) -> list[float]:
    """Metres along ``line`` of a point just inside ``area`` at each boundary crossing."""
    length = line.length
    if length <= 2 * GATE_INSET_M:
        return []
    hits = shapely.get_coordinates(shapely.intersection(line, boundary))
    ts = sorted({round(float(t), 2) for t in shapely.line_locate_point(line, shapely.points(hits))})
    out: list[float] = []
    for t in ts:
        for cand in (t + GATE_INSET_M, t - GATE_INSET_M):
            if GATE_INSET_M / 2 < cand < length - GATE_INSET_M / 2:
                pt = shapely.line_interpolate_point(line, cand)
                if area.contains(pt) and all(abs(cand - o) > GATE_INSET_M for o in out):
                    out.append(cand)
                    break
    return out


def _split_edges(edges: gpd.GeoDataFrame, lines, cuts: dict, crs) -> gpd.GeoDataFrame:
    """Split the edges in ``cuts`` at their gate positions; the rest stay as they are."""
    keep = np.ones(len(edges), dtype=bool)
    rows: dict[str, list] = {c: [] for c in model.ROAD_EDGE_COLUMNS if c != "geometry"}
    pieces = []
    for e, at in cuts.items():
        keep[e] = False
        row = edges.iloc[e]
        at = sorted(at)
        stops = [0.0, *[t for t, _ in at], lines[e].length]
        ends = [str(row["u"]), *[g for _, g in at], str(row["v"])]
        for k in range(len(stops) - 1):
            piece = shapely.ops.substring(lines[e], stops[k], stops[k + 1])
            pieces.append(piece)
            for col in rows:
                rows[col].append(row[col])
            rows["edge_id"][-1] = f"{row['edge_id']}/{k + 1}"
            rows["u"][-1], rows["v"][-1] = ends[k], ends[k + 1]
    geometry = gpd.GeoSeries(pieces, crs=crs)
    rows.pop("length_m")
    added = edges_frame(
        rows, geometry.to_crs(model.STORAGE_CRS).to_numpy(), metric_lengths=shapely.length(pieces)
    )
    out = pd.concat([edges[keep], added], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=model.STORAGE_CRS)


def gate_nodes(
    buildings: gpd.GeoDataFrame,
    nodes: gpd.GeoDataFrame,
    gates: dict[str, list[str]],
) -> np.ndarray:
    """The road node where each building's deliveries are handed over.

    A building in a compound with gates is served at the compound gate nearest
    to it; any other building at the nearest road node (straight-line, metres).
    """
    out = np.full(len(buildings), None, dtype=object)
    if len(nodes) == 0 or len(buildings) == 0:
        return out
    crs = metric_crs_of(None, buildings)
    pts = shapely.point_on_surface(buildings.geometry.to_crs(crs).to_numpy())
    node_geom = nodes.geometry.to_crs(crs).to_numpy()
    node_ids = nodes["node_id"].astype(str).to_numpy()
    tree = shapely.STRtree(node_geom)
    out[:] = node_ids[tree.query_nearest(pts, return_distance=False, all_matches=False)[1]]
    position = pd.Index(node_ids)
    compound = buildings["compound_id"].to_numpy()
    for cid, ids in gates.items():
        mine = np.flatnonzero(compound == cid)
        if not ids or len(mine) == 0:
            continue
        geoms = node_geom[position.get_indexer(ids)]
        dist = shapely.distance(pts[mine][:, None], geoms[None, :])
        out[mine] = np.asarray(ids, dtype=object)[dist.argmin(axis=1)]
    return out
