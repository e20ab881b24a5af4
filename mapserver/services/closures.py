"""Road closures: mark the edges a closure layer touches as closed, in the store."""

from __future__ import annotations

import geopandas as gpd

from mapserver.network.graph import apply_closures
from mapserver.store import Store


def close_roads(
    store: Store, closures: gpd.GeoDataFrame, *, buffer_m: float = 5.0, reopen: bool = False
) -> dict:
    """Close every road edge within ``buffer_m`` metres of the closure geometries.

    ``reopen`` first opens every edge (the closure layer then is the whole truth).
    Returns the numbers of edges closed before and after and the newly closed ids.
    """
    edges = store.read_layer("road_edges")
    if not len(edges):
        msg = "the store has no roads: import a road network first"
        raise ValueError(msg)
    before = set(edges.loc[edges["closed"].fillna(False).astype(bool), "edge_id"])
    if reopen:
        edges = edges.assign(closed=False)
    updated = apply_closures(edges, closures, buffer_m=buffer_m)
    after = set(updated.loc[updated["closed"].astype(bool), "edge_id"])
    store.import_layers({"road_edges": updated}, user="closures")
    return {
        "closed_before": len(before),
        "closed_after": len(after),
        "newly_closed": sorted(after - before),
        "reopened": sorted(before - after),
    }
