"""The part of the road network a solver needs: what lies around its area, never the city.

A cordon, a patrol or a micro-grid plan concerns one area; its roads, checkpoints and
buildings are read from the store by bounding box, widened by a margin in metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from mapserver.store import Store

AREA_MARGIN_M = 1_000.0  # roads read around an area beyond what its question reaches
_M_PER_DEG = 111_320.0


@dataclass(frozen=True)
class Surroundings:
    """Road nodes and edges, checkpoints and buildings around an area."""

    nodes: pd.DataFrame
    edges: pd.DataFrame
    checkpoints: pd.DataFrame
    buildings: pd.DataFrame


def widened_bbox(bounds, margin_m: float) -> tuple[float, float, float, float]:
    """Bounds ``(minx, miny, maxx, maxy)`` in degrees widened by ``margin_m`` metres."""
    minx, miny, maxx, maxy = bounds
    dlat = margin_m / _M_PER_DEG
    widest = math.cos(math.radians(max(abs(miny), abs(maxy))))
    dlon = margin_m / (_M_PER_DEG * max(widest, 0.01))
    return minx - dlon, miny - dlat, maxx + dlon, maxy + dlat


def road_network_around(store: Store, bounds, margin_m: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Road nodes and edges whose boxes meet ``bounds`` widened by ``margin_m`` (and every
    node an edge read needs, however far)."""
    bbox = widened_bbox(bounds, margin_m)
    edges = store.read_features("road_edges", bbox=bbox)
    ends = set(edges["u"].astype(str)) | set(edges["v"].astype(str))
    nodes = store.read_features("road_nodes", bbox=bbox)
    missing = ends - set(nodes["node_id"].astype(str))
    if missing:
        nodes = pd.concat(
            [nodes, store.read_features("road_nodes", ids=missing)], ignore_index=True
        )
    return nodes, edges


def surroundings(store: Store, area, margin_m: float) -> Surroundings:
    """The roads (:func:`road_network_around`), checkpoints and buildings within
    ``margin_m`` of an area's bounds."""
    nodes, edges = road_network_around(store, area.bounds, margin_m)
    bbox = widened_bbox(area.bounds, margin_m)
    return Surroundings(
        nodes=nodes,
        edges=edges,
        checkpoints=store.read_features("checkpoints", bbox=bbox),
        buildings=store.read_features("buildings", bbox=bbox),
    )
