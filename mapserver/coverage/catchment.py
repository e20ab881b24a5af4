"""Who leaves through which checkpoint, and the staff a cordon needs per day."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.sparse.csgraph import dijkstra

from mapserver.coverage._graph import open_csr
from mapserver.coverage._sides import node_index
from mapserver.coverage.cordon import CordonPlan

PERSONS_PER_SHIFT: dict[str, int] = {
    "main": 3,
    "street": 2,
    "lane": 1,
    "path": 1,
    "gate": 2,
    "water": 2,
    "barrier": 0,
}
_RANK = {c: i for i, c in enumerate(("main", "street", "water", "gate", "lane", "path"))}


@dataclass(frozen=True)
class ExitLoad:
    """One staffed exit and the buildings whose nearest way out it is."""

    exit_id: str  # checkpoint id, or the edge id of a new staffed point
    node_id: str  # road node inside where the exit is reached
    road_class: str
    buildings: int
    households: int
    residents: int


@dataclass(frozen=True)
class Catchment:
    """Buildings and households per exit; buildings with no way to a staffed exit apart."""

    exits: tuple[ExitLoad, ...]
    assignment: tuple[tuple[str, str], ...]  # (building_id, exit_id)
    unreached: tuple[str, ...]  # building ids with no open path to a staffed exit
    households: int  # households inside (assigned or not)

    def to_dict(self) -> dict:
        """Plain data: exits with their loads, the unreached buildings, the totals."""
        return {
            "households": self.households,
            "exits": [asdict(e) for e in self.exits],
            "unreached": list(self.unreached),
            "assignment": dict(self.assignment),
        }


@dataclass(frozen=True)
class Post:
    """One staffed point of a cordon and its staff."""

    post_id: str
    road_class: str
    placement: str
    persons_per_shift: int
    persons_per_day: int


@dataclass(frozen=True)
class Rota:
    """Staff a cordon needs around the clock."""

    posts: tuple[Post, ...]
    shifts_per_day: int

    @property
    def persons_per_shift(self) -> int:
        """Persons on duty at any one time."""
        return sum(p.persons_per_shift for p in self.posts)

    @property
    def persons_per_day(self) -> int:
        """Person-shifts per 24 hours."""
        return sum(p.persons_per_day for p in self.posts)

    def to_dict(self) -> dict:
        """Plain data: posts and totals."""
        return {
            "shifts_per_day": self.shifts_per_day,
            "persons_per_shift": self.persons_per_shift,
            "persons_per_day": self.persons_per_day,
            "posts": [asdict(p) for p in self.posts],
        }


def _exits(plan_or_checkpoints, index: pd.Index) -> pd.DataFrame:
    """Staffed exits as rows (exit_id, node position, road_class)."""
    if isinstance(plan_or_checkpoints, CordonPlan):
        rows = [
            (c.checkpoint_id or c.edge_id, c.inside_node, c.road_class)
            for c in plan_or_checkpoints.cuts
            if c.placement in ("staffed", "existing")
        ]
        frame = pd.DataFrame(rows, columns=["exit_id", "node_id", "road_class"])
    else:
        cp = plan_or_checkpoints[plan_or_checkpoints["staffed"].astype(bool).to_numpy()]
        frame = pd.DataFrame(
            {
                "exit_id": cp["checkpoint_id"].astype(str).to_numpy(),
                "node_id": cp["node_id"].astype(str).to_numpy(),
                "road_class": cp["kind"].astype(str).to_numpy(),  # land / minor / water
            }
        )
    frame["node"] = index.get_indexer(frame["node_id"])
    return frame[frame["node"] >= 0].reset_index(drop=True)


def catchments(
    plan_or_checkpoints: CordonPlan | gpd.GeoDataFrame,
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    inside_nodes: Iterable[str] | None = None,
) -> Catchment:
    """Send every building inside to its nearest staffed exit along the roads.

    Distances are metres along open roads (undirected) inside the area; each
    building goes from its ``gate_node`` to the nearest exit (one multi-source
    Dijkstra from the exits inward). Barriers are not exits.

    Parameters
    ----------
    plan_or_checkpoints
        A cordon plan (its staffed and kept cut edges are the exits) or a
        checkpoints layer (its staffed checkpoints are).
    nodes, edges
        Road layers (``model`` columns); ``length_m`` in metres.
    buildings
        Buildings with ``building_id``, ``households``, ``residents``, ``gate_node``.
    inside_nodes
        Node ids inside; defaults to the plan's enclosed nodes (required with checkpoints).

    Returns
    -------
    Catchment
        Per exit, the buildings, households and residents it serves.
    """
    if inside_nodes is None:
        if not isinstance(plan_or_checkpoints, CordonPlan):
            msg = "inside_nodes is needed when catchments are asked of checkpoints"
            raise ValueError(msg)
        inside_nodes = plan_or_checkpoints.enclosed_nodes
    index, u, v = node_index(nodes, edges)
    n = len(index)
    exits = _exits(plan_or_checkpoints, index)
    inside = np.zeros(n, dtype=bool)
    pos = index.get_indexer(list(inside_nodes))
    inside[pos[pos >= 0]] = True
    reach = inside.copy()
    reach[exits["node"].to_numpy()] = True
    cut = set()
    if isinstance(plan_or_checkpoints, CordonPlan):
        cut = set(plan_or_checkpoints.cut_edge_ids())
    keep = ~edges["closed"].astype(bool).to_numpy() & ~edges["edge_id"].astype(str).isin(cut)
    keep = keep.to_numpy() & reach[u] & reach[v]
    length = pd.to_numeric(edges["length_m"]).to_numpy(float)
    graph = open_csr(n, u[keep], v[keep], length[keep])

    gate = index.get_indexer(buildings["gate_node"].astype(str))
    mine = (gate >= 0) & inside[np.maximum(gate, 0)]
    b = buildings[mine]
    gate = gate[mine]
    hh = pd.to_numeric(b["households"], errors="coerce").fillna(0).to_numpy(int)
    res = pd.to_numeric(b["residents"], errors="coerce").fillna(0).to_numpy(int)
    owner = np.full(len(b), -1)
    if len(exits):
        starts, first = np.unique(exits["node"].to_numpy(), return_index=True)
        dist, _, source = dijkstra(
            graph, directed=False, indices=starts, min_only=True, return_predecessors=True
        )
        at = source[gate]
        ok = np.isfinite(dist[gate]) & (at >= 0)
        owner[ok] = first[np.searchsorted(starts, at[ok])]
    ids = b["building_id"].astype(str).to_numpy()
    loads = []
    for k, row in exits.iterrows():
        take = owner == k
        loads.append((row, int(take.sum()), int(hh[take].sum()), int(res[take].sum())))
    merged: dict[str, list] = {}
    for row, nb, nh, nr in loads:
        entry = merged.setdefault(row["exit_id"], [row["node_id"], row["road_class"], 0, 0, 0])
        entry[2:] = [entry[2] + nb, entry[3] + nh, entry[4] + nr]
    return Catchment(
        exits=tuple(ExitLoad(k, *vals) for k, vals in merged.items()),
        assignment=tuple(
            (ids[i], str(exits["exit_id"].iat[owner[i]])) for i in np.flatnonzero(owner >= 0)
        ),
        unreached=tuple(ids[owner < 0].tolist()),
        households=int(hh.sum()),
    )


def rota(
    plan: CordonPlan,
    *,
    shifts_per_day: int = 3,
    persons_per_shift: Mapping[str, int] | None = None,
) -> Rota:
    """Staff for a cordon: persons per shift at each staffed point, and per day.

    Parameters
    ----------
    plan
        The cordon; each new staffed edge is a post, each kept checkpoint one post
        (classed by its busiest road), barriers need nobody.
    shifts_per_day
        Shifts per 24 hours (3 of 8 hours by default).
    persons_per_shift
        Persons per shift by road class (``main``, ``street``, ``lane``, ``path``,
        ``gate``, ``water``) and for a ``barrier``; missing keys take the defaults
        in ``PERSONS_PER_SHIFT``.

    Returns
    -------
    Rota
        Posts with persons per shift and per day, and the totals.
    """
    if shifts_per_day < 1:
        msg = f"shifts_per_day must be 1 or more, got {shifts_per_day}"
        raise ValueError(msg)
    table = {**PERSONS_PER_SHIFT, **(persons_per_shift or {})}
    posts: dict[str, tuple[str, str]] = {}
    for c in plan.cuts:
        if c.placement == "barrier":
            continue
        key = c.checkpoint_id if c.placement == "existing" else c.edge_id
        old = posts.get(key)
        if old is None or _RANK.get(c.road_class, 9) < _RANK.get(old[0], 9):
            posts[key] = (c.road_class, c.placement)
    out = []
    for key, (road_class, placement) in posts.items():
        per_shift = int(table.get(road_class, table["street"]))
        out.append(Post(key, road_class, placement, per_shift, per_shift * shifts_per_day))
    for c in plan.cuts:
        if c.placement == "barrier" and table["barrier"] > 0:
            per = int(table["barrier"])
            out.append(Post(c.edge_id, c.road_class, "barrier", per, per * shifts_per_day))
    return Rota(tuple(out), shifts_per_day)
