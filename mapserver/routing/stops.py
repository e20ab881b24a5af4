"""Delivery stops: orders rolled up to handover points, and the road graph a route may use."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from mapserver.coverage import EntranceList, area_polygon, find_entrances
from mapserver.crs import to_storage
from mapserver.model import STORAGE_CRS
from mapserver.network import RoadGraph, build_graph
from mapserver.routing.orders import Order
from mapserver.status.colour import effective_area_class

_SNAP_CANDIDATES = 16


class Drop(NamedTuple):
    """What one stop hands over for one order: boxes for a building (or a compound).

    An order larger than a vehicle holds is carried in several loads: its
    drop then holds load ``part`` of ``parts`` (1-based), ``boxes`` of them.
    """

    building_id: str | None
    boxes: int
    kind: str
    order_id: str
    label: str
    part: int = 1
    parts: int = 1


@dataclass(frozen=True)
class Stop:
    """A handover point: the road node the vehicle stops at and what it drops there.

    ``demand`` in boxes; ``service_s`` seconds spent at the stop; ``window``
    the (earliest, latest) start of service in seconds since midnight, or
    ``None``. ``sealed`` marks a stop serving a sealed area at its gate:
    volunteers carry the last metres using ``drops``. A handover point whose
    boxes do not fit one vehicle is served by several stops at the same
    node: this one is ``part`` of ``parts`` (1-based).
    """

    stop_id: str
    node_id: str
    demand: int
    drops: tuple[Drop, ...]
    sealed: bool = False
    service_s: int = 0
    window: tuple[int, int] | None = None
    name: str = ""
    part: int = 1
    parts: int = 1

    @property
    def order_ids(self) -> tuple[str, ...]:
        """The ids of the orders served here."""
        return tuple(d.order_id for d in self.drops)


def build_stops(
    orders: Sequence[Order],
    buildings: gpd.GeoDataFrame,
    grids: pd.DataFrame,
    *,
    graph: RoadGraph,
    service_s: int = 120,
    service_per_box_s: int = 6,
    window: tuple[int, int] | None = None,
    max_boxes: int | None = None,
) -> list[Stop]:
    """Roll orders up to stops, one per handover node.

    Every building of a sealed compound (one with a building in a sealed
    area: a grid classed sealed, or under one) is served at the compound's
    gate node, the most common ``gate_node`` of its buildings. Other
    buildings are served at their own ``gate_node``; orders whose buildings
    share a handover node roll up into one stop. A handover node off the
    graph's roads is moved to the nearest node on them (metres, in the graph's
    metric CRS), preferring the graph's largest connected piece; a building
    without a known gate node is snapped from its centroid.

    Parameters
    ----------
    orders
        From :mod:`mapserver.routing.orders`.
    buildings, grids
        Model layers, EPSG:4326.
    graph
        The road graph routes will use (see :func:`access_graph`).
    service_s, service_per_box_s
        Time at a stop: a fixed part plus a part per box, in seconds.
    window
        (earliest, latest) start of service at every stop, seconds since midnight.
    max_boxes
        Split a stop whose orders add up to more than this many boxes into
        several stops at the same node (``"<id>/1"``, ``"<id>/2"``...), each
        of at most ``max_boxes``, so that each fits a vehicle. Orders stay
        whole where they fit; an order larger than ``max_boxes`` is cut into
        full loads of ``max_boxes`` and the rest (its drops say load k of n),
        which together deliver every box of it.

    Returns
    -------
    list of Stop
        Ordered by stop id.

    Raises
    ------
    ValueError
        Naming an order whose building or compound is not in ``buildings``.
    """
    info = _building_info(buildings, grids, graph)
    groups: dict[str, list[_Item]] = {}
    sealed_of: dict[str, bool] = {}
    for order in orders:
        node, row, sealed = _handover(order, info)
        groups.setdefault(node, []).extend(_loads(order, row, max_boxes))
        sealed_of[node] = sealed_of.get(node, False) or sealed
    out: list[Stop] = []
    used: set[str] = set()
    for node, items in groups.items():
        base = _stop_name(node, items, used)
        parts = _split(items, max_boxes)
        for k, part in enumerate(parts, start=1):
            drops = tuple(_drop(item) for item in part)
            demand = sum(d.boxes for d in drops)
            out.append(
                Stop(
                    stop_id=base if len(parts) == 1 else f"{base}/{k}",
                    node_id=node,
                    demand=demand,
                    drops=drops,
                    sealed=sealed_of[node],
                    service_s=int(service_s + service_per_box_s * demand),
                    window=window,
                    name=_label(part),
                    part=k,
                    parts=len(parts),
                )
            )
    return sorted(out, key=lambda s: s.stop_id)


def _building_info(
    buildings: gpd.GeoDataFrame, grids: pd.DataFrame, graph: RoadGraph
) -> pd.DataFrame:
    """Per building (index building_id): compound, sealed flag, handover node, label."""
    b = to_storage(buildings) if isinstance(buildings, gpd.GeoDataFrame) else buildings
    ids = b["building_id"].astype(str).to_numpy()
    cls = effective_area_class(grids)
    sealed_grids = set(cls.index[cls.to_numpy() == "sealed"].astype(str))
    grid = b["grid_id"].astype(str) if "grid_id" in b.columns else pd.Series("", index=b.index)
    compound = _texts(b.get("compound_id"), len(b))
    gate = _texts(b.get("gate_node"), len(b))
    centroid = b.geometry.representative_point()
    node = _snap_nodes(graph, gate, centroid.x.to_numpy(), centroid.y.to_numpy())
    info = pd.DataFrame(
        {
            "compound_id": compound,
            "sealed": grid.isin(sealed_grids).to_numpy(),
            "node": node,
            "label": [_building_label(r) for r in b.to_dict("records")],
        },
        index=pd.Index(ids, name="building_id"),
    )
    has = info["compound_id"].notna()
    sealed_c = info[has].groupby("compound_id")["sealed"].any()
    in_sealed = has & info["compound_id"].map(sealed_c).eq(True)
    gate_of = (
        info[in_sealed].groupby("compound_id")["node"].agg(lambda s: s.value_counts().index[0])
    )
    info.loc[in_sealed, "node"] = info.loc[in_sealed, "compound_id"].map(gate_of).to_numpy()
    info.loc[in_sealed, "sealed"] = True
    return info


def _texts(col: pd.Series | None, n: int) -> np.ndarray:
    """A column of ids as text, blank/None/NaN as None."""
    if col is None:
        return np.full(n, None, dtype=object)
    out = col.astype(object).where(col.notna(), None).to_numpy()
    return np.array(
        [None if v is None or str(v).strip() in ("", "None", "nan") else str(v) for v in out],
        dtype=object,
    )


def _building_label(row: dict) -> str:
    """Building name and address for the drop list."""
    parts = [str(row.get(k)) for k in ("name", "address") if row.get(k) not in (None, "", "None")]
    parts = [p for p in parts if p != "nan"]
    return " ".join(parts) or str(row["building_id"])


def _snap_nodes(graph: RoadGraph, gates: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> list[str]:
    """Per building: its gate node when on the graph's roads, else the nearest road node.

    The nearest node is searched from the gate node's position, or from the
    building's point (``lon``/``lat``, EPSG:4326) when the gate is unknown;
    all points are projected to the graph's metric CRS with one transformer.
    """
    n = len(gates)
    active = graph.active
    on_road = np.zeros(graph.n_nodes, dtype=bool)
    on_road[active] = True
    where = np.array([graph.index.get(g, -1) if g is not None else -1 for g in gates], dtype=int)
    keep = where >= 0
    keep[keep] = on_road[where[keep]]
    out = np.array([str(g) for g in gates], dtype=object)
    todo = np.flatnonzero(~keep)
    if not len(todo):
        return out.tolist()
    if not len(active):
        msg = f"the {graph.mode} road graph has no roads to stop on"
        raise ValueError(msg)
    x = np.empty(n)
    y = np.empty(n)
    known = where >= 0
    x[known], y[known] = graph.x[where[known]], graph.y[where[known]]
    free = np.flatnonzero(~known)
    if len(free):
        to_m = pyproj.Transformer.from_crs(STORAGE_CRS, graph.metric_crs, always_xy=True)
        x[free], y[free] = to_m.transform(lon[free], lat[free])
    comp = graph.component[active]
    main = np.bincount(comp).argmax()
    k = min(_SNAP_CANDIDATES, len(active))
    _, near = graph.tree.query(np.column_stack([x[todo], y[todo]]), k=k)
    near = near.reshape(len(todo), k)
    in_main = comp[near] == main
    first = np.where(in_main.any(axis=1), in_main.argmax(axis=1), 0)
    chosen = near[np.arange(len(todo)), first]
    out[todo] = graph.node_ids[active[chosen]].astype(str)
    return out.tolist()


def _handover(order: Order, info: pd.DataFrame) -> tuple[str, pd.Series | None, bool]:
    """Handover node, building row (None for a compound order) and sealed flag."""
    if order.building_id is not None:
        if order.building_id not in info.index:
            msg = f"order '{order.order_id}': building '{order.building_id}' is not in buildings"
            raise ValueError(msg)
        row = info.loc[order.building_id]
        return str(row["node"]), row, bool(row["sealed"])
    rows = info[info["compound_id"] == order.compound_id]
    if rows.empty:
        msg = f"order '{order.order_id}': compound '{order.compound_id}' has no buildings"
        raise ValueError(msg)
    return str(rows["node"].value_counts().index[0]), None, bool(rows["sealed"].any())


class _Item(NamedTuple):
    """One order, or one load of an order too large for a vehicle, with its building row."""

    order: Order
    row: pd.Series | None
    boxes: int
    part: int = 1
    parts: int = 1


def _loads(order: Order, row: pd.Series | None, max_boxes: int | None) -> list[_Item]:
    """The order whole, or cut into full loads of ``max_boxes`` and the rest (which may share
    a stop with other orders)."""
    if max_boxes is None or order.boxes <= max_boxes:
        return [_Item(order, row, order.boxes)]
    full, rest = divmod(order.boxes, max_boxes)
    sizes = [max_boxes] * full + ([rest] if rest else [])
    return [_Item(order, row, b, k, len(sizes)) for k, b in enumerate(sizes, start=1)]


def _drop(item: _Item) -> Drop:
    """The drop-list line of one order (or one load of it)."""
    order, row = item.order, item.row
    label = str(row["label"]) if row is not None else f"小区 compound {order.compound_id}"
    return Drop(
        order.building_id, item.boxes, order.kind, order.order_id, label, item.part, item.parts
    )


def _stop_name(node: str, items: list[_Item], used: set[str]) -> str:
    """A readable unique stop id: the building, the compound, else the node."""
    compounds = {_compound(it.order, it.row) for it in items}
    buildings = {it.order.building_id for it in items}
    if len(buildings) == 1 and None not in buildings:
        base = str(next(iter(buildings)))
    elif len(compounds) == 1 and None not in compounds:
        base = str(next(iter(compounds)))
    else:
        base = node
    if base in used:
        base = f"{base}@{node}"
    used.add(base)
    return base


def _compound(order: Order, row: pd.Series | None) -> str | None:
    """The compound an order goes to, ``None`` when its building has none."""
    value = row["compound_id"] if row is not None else order.compound_id
    return None if value is None or pd.isna(value) else str(value)


def _label(part: list[_Item]) -> str:
    """A short name of a stop in the words on the ground: its building's name and address,
    or the buildings it serves by name (their shared compound name once: "海欣一村 2号楼、
    5号楼（2 栋）"), the compound's id only when no building has a name."""
    buildings = {it.order.building_id for it in part if it.order.building_id is not None}
    labels = sorted({str(it.row["label"]) for it in part if it.row is not None})
    if len(buildings) == 1 and labels:
        return labels[0]
    if labels:  # the building names, not their addresses, make the title
        names = sorted({label.split(" ")[0] for label in labels})
        return stop_title(names, len(buildings) or len(labels))
    compounds = sorted({c for it in part if (c := _compound(it.order, it.row)) is not None})
    head = "、".join(f"小区 {c}" for c in compounds) or "—"
    return f"{head}（{len(buildings)} 栋）" if buildings else head


def _natural(text: str) -> list:
    """A sort key that puts 2号楼 before 11号楼."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _shared_start(names: list[str]) -> str:
    """The characters every name begins with."""
    first, last = min(names), max(names)  # the extremes share what all share
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def stop_title(names: list[str], count: int, shown: int = 3) -> str:
    """Building names said once: the part they share (a compound's name) then each one's
    own ("海欣一村 2号楼、5号楼（2 栋）"); the first ``shown`` and "等" for more."""
    prefix = _shared_start(names).rstrip("0123456789 -")
    rest = sorted((n[len(prefix) :].strip() or n for n in names), key=_natural)
    listed = "、".join(rest[:shown]) + (" 等" if len(rest) > shown else "")
    head = f"{prefix} {listed}" if prefix else listed
    return f"{head}（{count} 栋）"


def _split(items: list[_Item], max_boxes: int | None) -> list[list[_Item]]:
    """Items (each at most ``max_boxes``) packed first-fit decreasing into parts of at most
    ``max_boxes`` boxes."""
    total = sum(it.boxes for it in items)
    if max_boxes is None or total <= max_boxes:
        return [items]
    parts: list[list[_Item]] = []
    loads: list[int] = []
    for item in sorted(items, key=lambda it: (-it.boxes, it.order.order_id, it.part)):
        for k, load in enumerate(loads):
            if load + item.boxes <= max_boxes:
                parts[k].append(item)
                loads[k] += item.boxes
                break
        else:
            parts.append([item])
            loads.append(item.boxes)
    return [sorted(p, key=lambda it: (it.order.order_id, it.part)) for p in parts]


def sealed_areas(grids: gpd.GeoDataFrame) -> dict[str, object]:
    """The sealed areas: one polygon per top-most sealed grid (EPSG:4326).

    A grid is sealed when it is classed sealed or lies under one; the areas
    are the sealed grids whose parent is not sealed, each with its subtree.
    """
    cls = effective_area_class(grids)
    sealed = set(cls.index[cls.to_numpy() == "sealed"].astype(str))
    parent = dict(zip(grids["grid_id"].astype(str), grids["parent_id"].astype(str), strict=True))
    tops = sorted(g for g in sealed if parent.get(g) not in sealed)
    return {g: area_polygon(grids, [g]) for g in tops}


def sealed_entrances(
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    checkpoints: gpd.GeoDataFrame | None,
    *,
    tolerance_m: float = 30.0,
) -> dict[str, EntranceList]:
    """The entrances of every sealed area, keyed by its top-most grid id.

    An area holding no road node has no entrance list (it is left out).
    """
    out = {}
    for grid_id, poly in sealed_areas(grids).items():
        try:
            out[grid_id] = find_entrances(poly, nodes, edges, checkpoints, tolerance_m=tolerance_m)
        except ValueError:
            continue
    return out


def access_graph(
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    checkpoints: gpd.GeoDataFrame | None,
    *,
    mode: str = "drive",
    entrances: Mapping[str, EntranceList] | None = None,
) -> RoadGraph:
    """The road graph a delivery route may use.

    Closed roads are left out, and so is every entrance edge of a sealed area
    that is not staffed (uncovered or closed), so a route enters a sealed area
    only through a staffed checkpoint.

    Parameters
    ----------
    nodes, edges, grids, checkpoints
        Model layers, EPSG:4326; edge lengths in metres.
    mode
        Travel mode of :func:`mapserver.network.build_graph`.
    entrances
        Sealed-area entrances from :func:`sealed_entrances` (found when not given).

    Returns
    -------
    RoadGraph
    """
    if entrances is None:
        entrances = sealed_entrances(nodes, edges, grids, checkpoints)
    blocked = {
        e.edge_id for lst in entrances.values() for e in lst.entrances if e.state != "staffed"
    }
    kept = edges.copy()
    closed = kept["closed"].fillna(False).astype(bool) if "closed" in kept.columns else False
    kept["closed"] = closed | kept["edge_id"].astype(str).isin(blocked)
    return build_graph(nodes, kept, mode=mode)
