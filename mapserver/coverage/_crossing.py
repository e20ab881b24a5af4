"""Roads passing through an area with both ends outside: a virtual node where they are inside."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops

from mapserver.coverage._sides import Sides, transformer

THROUGH = "@"  # virtual ids: "<edge id>@in" for the node, "<edge id>@1" / "@2" for the halves


def split_through_roads(
    sides: Sides, nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, np.ndarray]:
    """Split every edge that crosses the area with neither end inside at a virtual node inside.

    The node stands where the edge runs deepest inside the area (more than
    the snap distance from its boundary), so sealing the area must close the
    road at both crossings. Returns the nodes and edges with the
    virtual ones (model columns, EPSG:4326) and, per edge, the id of the edge
    it comes from (its own id when not split).
    """
    origin = edges["edge_id"].astype(str).to_numpy()
    picks = []
    for i, e in enumerate(sides.near):
        if sides.inside[sides.u[e]] or sides.inside[sides.v[e]]:
            continue
        line = sides.lines_m[i]
        pieces = [
            p
            for p in shapely.get_parts(shapely.intersection(line, sides.area_m))
            if p.geom_type == "LineString" and p.length > 2 * sides.snap_m
        ]
        if pieces:
            along = np.concatenate(
                [
                    shapely.line_interpolate_point(p, np.linspace(0.0, 1.0, 21), normalized=True)
                    for p in pieces
                ]
            )
            depth = shapely.distance(along, sides.boundary_m)
            if depth.max() > sides.snap_m:
                best = along[int(np.argmax(depth))]
                picks.append((int(e), float(line.project(best)), line))
    if not picks:
        return nodes, edges, origin
    back = transformer(sides.crs, "EPSG:4326")
    new_nodes, rows, drop = [], [], []
    for e, t, line in picks:
        row = edges.iloc[e]
        eid = str(row["edge_id"])
        x, y = back.transform(*shapely.line_interpolate_point(line, t).coords[0])
        node_id = f"{eid}{THROUGH}in"
        new_nodes.append({"node_id": node_id, "kind": "junction", "geometry": shapely.Point(x, y)})
        ll = edges.geometry.iat[e]
        share = t / line.length
        halves = (
            shapely.ops.substring(ll, 0.0, share, normalized=True),
            shapely.ops.substring(ll, share, 1.0, normalized=True),
        )
        length = float(row["length_m"])
        for k, (geom, a, b, part) in enumerate(
            [(halves[0], row["u"], node_id, share), (halves[1], node_id, row["v"], 1 - share)]
        ):
            rows.append(
                {
                    **row.to_dict(),
                    "edge_id": f"{eid}{THROUGH}{k + 1}",
                    "u": a,
                    "v": b,
                    "length_m": length * part,
                    "geometry": geom,
                }
            )
        drop.append(e)
    keep = np.ones(len(edges), dtype=bool)
    keep[drop] = False
    added = gpd.GeoDataFrame(rows, geometry="geometry", crs=edges.crs)[list(edges.columns)]
    out_edges = gpd.GeoDataFrame(
        pd.concat([edges[keep], added], ignore_index=True), geometry="geometry", crs=edges.crs
    )
    more = gpd.GeoDataFrame(new_nodes, geometry="geometry", crs=nodes.crs)[list(nodes.columns)]
    out_nodes = gpd.GeoDataFrame(
        pd.concat([nodes, more], ignore_index=True), geometry="geometry", crs=nodes.crs
    )
    split_from = [str(edges["edge_id"].iat[e]) for e, _, _ in picks for _ in (1, 2)]
    origin = np.concatenate([origin[keep], np.asarray(split_from, dtype=object)])
    return out_nodes, out_edges, origin
