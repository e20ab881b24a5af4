"""Small deterministic road lattices for the coverage tests (EPSG:4326 near Qingpu)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer

METRIC = "EPSG:4549"
ORIGIN = (121.2, 31.1)
SPACING_M = 100.0


def _to_lonlat():
    fwd = Transformer.from_crs("EPSG:4326", METRIC, always_xy=True)
    back = Transformer.from_crs(METRIC, "EPSG:4326", always_xy=True)
    ox, oy = fwd.transform(*ORIGIN)

    def conv(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(back.transform(xy[:, 0] + ox, xy[:, 1] + oy))

    return conv


def make_lattice(k: int, *, seed: int = 0, classes=("main", "street", "lane", "path")) -> dict:
    """A k x k lattice of nodes 100 m apart with random road classes and households.

    Node ``n{i}_{j}`` sits at (100 i, 100 j) m; returns nodes, edges, buildings
    (one building per node) and a function ``square(cells)`` giving the polygon
    (EPSG:4326) that holds exactly the given (i, j) nodes, 30 m round each.
    """
    rng = np.random.default_rng(seed)
    conv = _to_lonlat()
    ij = [(i, j) for i in range(k) for j in range(k)]
    ids = [f"n{i}_{j}" for i, j in ij]
    xy = np.array(ij, dtype=float) * SPACING_M
    nodes = gpd.GeoDataFrame(
        {"node_id": ids, "kind": "junction"}, geometry=shapely.points(conv(xy)), crs="EPSG:4326"
    )
    pairs = [((i, j), (i + 1, j)) for i in range(k - 1) for j in range(k)]
    pairs += [((i, j), (i, j + 1)) for i in range(k) for j in range(k - 1)]
    lines = [shapely.LineString(conv(np.array([a, b], dtype=float) * SPACING_M)) for a, b in pairs]
    edges = gpd.GeoDataFrame(
        {
            "edge_id": [f"e{n}" for n in range(len(pairs))],
            "u": [f"n{a[0]}_{a[1]}" for a, _ in pairs],
            "v": [f"n{b[0]}_{b[1]}" for _, b in pairs],
            "name": [f"road {n}" for n in range(len(pairs))],
            "road_class": rng.choice(list(classes), size=len(pairs)),
            "oneway": False,
            "mode": "drive",
            "length_m": SPACING_M,
            "closed": False,
        },
        geometry=lines,
        crs="EPSG:4326",
    )
    buildings = gpd.GeoDataFrame(
        {
            "building_id": [f"b{n}" for n in range(len(ids))],
            "households": rng.integers(0, 30, size=len(ids)),
            "residents": rng.integers(0, 80, size=len(ids)),
            "gate_node": ids,
        },
        geometry=nodes.geometry.to_numpy(),
        crs="EPSG:4326",
    )

    def square(cells) -> shapely.Geometry:
        pts = np.array(list(cells), dtype=float) * SPACING_M
        metric = shapely.union_all(shapely.buffer(shapely.points(pts), 30.0, cap_style="square"))
        return shapely.transform(metric, conv)

    return {"nodes": nodes, "edges": edges, "buildings": buildings, "square": square, "k": k}


@pytest.fixture
def lattice():
    """The lattice builder."""
    return make_lattice


@pytest.fixture(scope="module")
def demo(demo_layers) -> dict:
    """The scale-1 demo district (generated once per session)."""
    return demo_layers


def checkpoints_at(node_ids, nodes: gpd.GeoDataFrame, *, staffed=True) -> gpd.GeoDataFrame:
    """Checkpoints standing on the given nodes."""
    at = nodes.set_index("node_id").loc[list(node_ids)]
    return gpd.GeoDataFrame(
        {
            "checkpoint_id": [f"CP{n}" for n in range(len(at))],
            "name": "",
            "node_id": list(node_ids),
            "kind": "land",
            "staffed": staffed,
            "shifts": 3,
        },
        geometry=at.geometry.to_numpy(),
        crs="EPSG:4326",
    )


@pytest.fixture
def place_checkpoints():
    """The checkpoint builder."""
    return checkpoints_at
