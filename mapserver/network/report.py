"""Health report of a road network: size, fragments, dangling edges, loops, zero lengths."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from mapserver import crs

SAMPLE_SIZE = 5


@dataclass(frozen=True)
class Fragment:
    """A weakly connected piece of the network apart from the largest one."""

    size: int  # nodes
    node_ids: list[str]  # up to SAMPLE_SIZE of them
    bbox: tuple[float, float, float, float]  # (minx, miny, maxx, maxy), EPSG:4326 degrees


@dataclass(frozen=True)
class NetworkReport:
    """What :func:`network_report` found; lengths in kilometres."""

    n_nodes: int
    n_edges: int
    total_km: float
    fragments: list[Fragment] = field(default_factory=list)
    dangling_edges: list[str] = field(default_factory=list)
    self_loops: list[str] = field(default_factory=list)
    zero_length_edges: list[str] = field(default_factory=list)

    def is_clean(self) -> bool:
        """True when the network is one piece with no dangling, looping or zero-length edge."""
        return not (
            self.fragments or self.dangling_edges or self.self_loops or self.zero_length_edges
        )

    def to_dict(self) -> dict:
        """The report as a JSON-ready dict."""
        out = asdict(self)
        out["fragments"] = [{**f, "bbox": list(f["bbox"])} for f in out["fragments"]]
        out["is_clean"] = self.is_clean()
        return out


def network_report(nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame) -> NetworkReport:
    """Check a road network (every mode, closed edges included) and report its problems.

    Parameters
    ----------
    nodes, edges
        Road layers with the ``model`` columns; EPSG:4326, ``length_m`` in metres
        (measured in the metric CRS when missing).

    Returns
    -------
    NetworkReport
        Counts, total length (km), every weakly connected component other than
        the largest (largest first; isolated nodes count as fragments), edges
        whose ``u`` or ``v`` is not a node, self-loops and zero-length edges.
        Nothing is dropped from the data.
    """
    node_ids = nodes["node_id"].astype(str).to_numpy(dtype=object)
    index = pd.Series(np.arange(len(node_ids)), index=node_ids)
    index = index[~index.index.duplicated()]
    edge_ids = edges["edge_id"].astype(str).to_numpy(dtype=object)
    u = edges["u"].astype(str).map(index)
    v = edges["v"].astype(str).map(index)
    dangling = (u.isna() | v.isna()).to_numpy()
    loops = (edges["u"].astype(str) == edges["v"].astype(str)).to_numpy()
    lengths = _lengths(edges)
    zero = ~(lengths > 0)

    ok = ~dangling
    n = len(node_ids)
    graph = sp.coo_matrix(
        (np.ones(ok.sum()), (u[ok].to_numpy(dtype=np.int64), v[ok].to_numpy(dtype=np.int64))),
        shape=(n, n),
    )
    fragments: list[Fragment] = []
    if n:
        n_comp, labels = connected_components(graph, directed=True, connection="weak")
        sizes = np.bincount(labels, minlength=n_comp)
        points = crs.to_storage(gpd.GeoSeries(nodes.geometry.values, crs=nodes.crs))
        xs, ys = points.x.to_numpy(), points.y.to_numpy()
        order = np.argsort(-sizes, kind="stable")
        members = pd.Series(np.arange(n)).groupby(labels).agg(list)
        for comp in order[1:]:
            idx = np.asarray(members[comp])
            bbox = (
                float(np.nanmin(xs[idx])),
                float(np.nanmin(ys[idx])),
                float(np.nanmax(xs[idx])),
                float(np.nanmax(ys[idx])),
            )
            sample = [str(node_ids[i]) for i in idx[:SAMPLE_SIZE]]
            fragments.append(Fragment(int(sizes[comp]), sample, bbox))
    return NetworkReport(
        n_nodes=n,
        n_edges=len(edges),
        total_km=float(np.nansum(lengths) / 1000.0),
        fragments=fragments,
        dangling_edges=[str(e) for e in edge_ids[dangling]],
        self_loops=[str(e) for e in edge_ids[loops]],
        zero_length_edges=[str(e) for e in edge_ids[zero]],
    )


def _lengths(edges: gpd.GeoDataFrame) -> np.ndarray:
    """Edge lengths in metres: the ``length_m`` column, else measured in the metric CRS."""
    if "length_m" in edges.columns and edges["length_m"].notna().all():
        return pd.to_numeric(edges["length_m"]).to_numpy(dtype=float)
    if not len(edges):
        return np.zeros(0)
    measured = crs.to_metric(gpd.GeoSeries(edges.geometry.values, crs=edges.crs)).length
    if "length_m" in edges.columns:
        given = pd.to_numeric(edges["length_m"]).to_numpy(dtype=float)
        return np.where(np.isnan(given), measured.to_numpy(), given)
    return measured.to_numpy()
