"""Road network and village checkpoints of the demo sub-district, in metres (EPSG:4549)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mapserver.demo.layout import VILLAGE_NAME, Box, Plan, zh_number

# road classes by priority: where two overlap, the lower number names the edge
_CLASSES = ("main", "street", "lane", "path", "gate", "water")
_PRIO = {c: i for i, c in enumerate(_CLASSES)}
RING_INSET = 4.0  # compound wall to internal ring lane (m)
SPUR_M = 200.0  # length of roads leaving the village (m)
_SHIFT = np.int64(1) << np.int64(32)
_ROAD_WORDS = (
    "盈港", "华青", "公园", "城中", "青松", "崧泽", "漕盈", "淀湖", "华浦", "新府",
    "人民", "荷花", "乐都", "西林", "北松", "沪松", "九新", "涞亭", "嘉松", "沈砖",
    "辰花", "龙源", "文诚", "谷阳", "荣乐", "茸梅", "玉树", "庙泾", "油墩", "卫家",
)  # fmt: skip


@dataclass
class Network:
    """Nodes, edges and checkpoints in metres, plus what the buildings need."""

    nodes: pd.DataFrame  # node_id, kind, x, y
    edges: pd.DataFrame  # edge_id, u, v, name, road_class, oneway, mode, length_m, closed, x0..y1
    checkpoints: pd.DataFrame  # model columns without geometry, plus x, y
    main_gate: list[str]  # per compound: node id of the main gate (street side)
    gate_street: list[str]  # per compound: name of the road the main gate opens onto
    village_nodes: np.ndarray  # indices into nodes of the village's own roads


@dataclass
class _Segs:
    """Axis-aligned road segments waiting to be noded."""

    xy: list[tuple[float, float, float, float]] = field(default_factory=list)
    cls: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    mode: list[str] = field(default_factory=list)
    village: list[bool] = field(default_factory=list)

    def add(self, xy, cls: str, name: str, mode: str, *, village: bool = False) -> None:
        self.xy.append(tuple(float(v) for v in xy))
        self.cls.append(cls)
        self.name.append(name)
        self.mode.append(mode)
        self.village.append(village)

    def add_box(self, box: Box, cls: str, mode: str, *, village: bool = False) -> None:
        x0, y0, x1, y1 = box
        for seg in ((x0, y0, x1, y0), (x0, y1, x1, y1), (x0, y0, x0, y1), (x1, y0, x1, y1)):
            self.add(seg, cls, "", mode, village=village)


def _road_name(i: int, cls: str) -> str:
    word = _ROAD_WORDS[i % len(_ROAD_WORDS)]
    again = i // len(_ROAD_WORDS)
    number = "" if again == 0 else zh_number(again + 1)
    return f"{word}{number}{'公路' if cls == 'main' else '路'}"


def _node(segs: np.ndarray, prio: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split axis-aligned segments at every endpoint lying on them and drop duplicates.

    Coordinates are int64 millimetres. Returns the node coordinates (sorted by x, y),
    the pieces as (a, b) node indices with a before b along the axis, and the
    segment owning each piece (lowest priority number, then first given).
    """
    q = np.rint(segs * 1000.0).astype(np.int64)
    lo_xy = np.minimum(q[:, :2], q[:, 2:])
    hi_xy = np.maximum(q[:, :2], q[:, 2:])
    base = lo_xy.min(axis=0)  # keys need non-negative positions
    q = np.hstack([lo_xy - base, hi_xy - base])
    verts = np.unique(np.vstack([q[:, :2], q[:, 2:]]), axis=0)
    node_keys = verts[:, 0] * _SHIFT + verts[:, 1]
    pieces_a, pieces_b, owners = [], [], []
    for axis in (0, 1):  # 0: horizontal (line = y, position = x); 1: vertical
        line_c, pos_c = (1, 0) if axis == 0 else (0, 1)
        mask = (q[:, line_c] == q[:, line_c + 2]) & (q[:, pos_c] < q[:, pos_c + 2])
        idx = np.flatnonzero(mask)
        vkeys = np.sort(verts[:, line_c] * _SHIFT + verts[:, pos_c])
        ka = q[idx, line_c] * _SHIFT + q[idx, pos_c]
        kb = q[idx, line_c] * _SHIFT + q[idx, pos_c + 2]
        lo = np.searchsorted(vkeys, ka)
        hi = np.searchsorted(vkeys, kb)
        n = hi - lo
        rep = np.repeat(idx, n)
        offs = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        start = np.repeat(lo, n) + offs
        a, b = vkeys[start], vkeys[start + 1]
        order = np.lexsort((rep, prio[rep], b, a))
        a, b, rep = a[order], b[order], rep[order]
        keep = np.ones(len(a), dtype=bool)
        keep[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
        a, b, rep = a[keep], b[keep], rep[keep]
        line, pa, pb = a // _SHIFT, a % _SHIFT, b % _SHIFT
        xy_a = np.column_stack([pa, line] if axis == 0 else [line, pa])
        xy_b = np.column_stack([pb, line] if axis == 0 else [line, pb])
        pieces_a.append(np.searchsorted(node_keys, xy_a[:, 0] * _SHIFT + xy_a[:, 1]))
        pieces_b.append(np.searchsorted(node_keys, xy_b[:, 0] * _SHIFT + xy_b[:, 1]))
        owners.append(rep)
    pieces = np.column_stack([np.concatenate(pieces_a), np.concatenate(pieces_b)])
    return (verts + base) / 1000.0, pieces, np.concatenate(owners)


def _urban_segments(plan: Plan, segs: _Segs, rng: np.random.Generator, sealed: int) -> list:
    """Main roads on neighbourhood edges, streets on compound edges, lanes and gates inside."""
    for box in plan.community_boxes:
        segs.add_box(box, "main", "drive")
    for comp in plan.compounds:
        segs.add_box(comp.box, "street", "drive")
    gates = []  # per compound: list of (street point, ring point)
    for k, comp in enumerate(plan.compounds):
        x0, y0, x1, y1 = comp.box
        ring = (x0 + RING_INSET, y0 + RING_INSET, x1 - RING_INSET, y1 - RING_INSET)
        lane = f"{comp.name}内部道路"
        for seg in _box_edges(ring):
            segs.add(seg, "lane", lane, "walk")
        for inner in comp.inner:
            for ex0, ey0, ex1, ey1 in _box_edges(inner):
                on_wall = (ex0 == ex1 and ex0 in (x0, x1)) or (ey0 == ey1 and ey0 in (y0, y1))
                if not on_wall:
                    seg = (
                        max(ex0, ring[0]),
                        max(ey0, ring[1]),
                        min(ex1, ring[2]),
                        min(ey1, ring[3]),
                    )
                    segs.add(seg, "lane", lane, "walk")
        n_gates = int(rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2]))
        if k == sealed:
            n_gates = max(n_gates, 2)
        sides = rng.permutation(4)[:n_gates]
        fracs = rng.uniform(0.3, 0.7, size=n_gates)
        these = []
        for g, (side, f) in enumerate(zip(sides, fracs, strict=True)):
            if side in (0, 1):  # south, north
                x = ring[0] + f * (ring[2] - ring[0])
                outer, inner_pt = ((x, y0), (x, ring[1])) if side == 0 else ((x, y1), (x, ring[3]))
            else:  # west, east
                y = ring[1] + f * (ring[3] - ring[1])
                outer, inner_pt = ((x0, y), (ring[0], y)) if side == 2 else ((x1, y), (ring[2], y))
            label = "大门" if g == 0 else f"{zh_number(g)}号侧门"
            segs.add(
                (*outer, *inner_pt), "gate", f"{comp.name}{label}", "drive" if g == 0 else "walk"
            )
            these.append((outer, inner_pt))
        gates.append(these)
    return gates


def _box_edges(box: Box) -> list[tuple[float, float, float, float]]:
    x0, y0, x1, y1 = box
    return [(x0, y0, x1, y0), (x0, y1, x1, y1), (x0, y0, x0, y1), (x1, y0, x1, y1)]


def _village_segments(plan: Plan, segs: _Segs) -> list[tuple[tuple[float, float], str, str]]:
    """Village streets, lanes and paths; bridges, a ferry and roads out. Returns the entrances."""
    for box in plan.band_boxes:
        segs.add_box(box, "street", "drive", village=True)
    for box in plan.village_micro_boxes:
        segs.add_box(box, "lane", "drive", village=True)
    for box in plan.homestead_boxes:
        segs.add_box(box, "path", "walk", village=True)
    vx0 = plan.village_box[0]
    lx0, ly0, lx1, ly1 = plan.land_box
    entrances = []  # (village-side point, kind, road name)
    cuts = [b[1] for b in plan.band_boxes[1:]]
    for i, y in enumerate(cuts):
        main = i == len(cuts) // 2
        name = f"{VILLAGE_NAME}{zh_number(i + 1)}号桥"
        if y <= plan.urban_height:
            segs.add((vx0, y, lx0, y), "main" if main else "street", name, "drive")
            entrances.append(((lx0, y), "land" if main else "minor", name))
        name = f"{VILLAGE_NAME}东{zh_number(i + 1)}路"
        segs.add((lx1, y, lx1 + SPUR_M, y), "main", name, "drive")
        entrances.append(((lx1, y), "land", name))
    for i, band in enumerate((plan.band_boxes[0], plan.band_boxes[-1])):
        y = (band[1] + band[3]) / 2
        if y <= plan.urban_height:
            name = f"{VILLAGE_NAME}{zh_number(i + 1)}号渡口"
            segs.add((vx0, y, lx0, y), "water", name, "water")
            entrances.append(((lx0, y), "water", name))
    for boxes, y, dy, side in (
        (plan.village_micro_boxes[:5], ly0, -SPUR_M, "南"),
        (plan.village_micro_boxes[-5:], ly1, SPUR_M, "北"),
    ):
        for i, box in enumerate(boxes[1:]):
            name = f"{VILLAGE_NAME}{side}{zh_number(i + 1)}路"
            segs.add((box[0], y, box[0], y + dy), "lane", name, "drive")
            entrances.append(((box[0], y), "minor", name))
    return entrances


def build_network(plan: Plan, rng: np.random.Generator, *, sealed: int) -> Network:
    """Node every road of the plan and attach gates and checkpoints; metres, EPSG:4549.

    Two-way roads are one edge with ``oneway`` False, u -> v along the axis
    (west to east, south to north); one-way edges run u -> v only.
    """
    segs = _Segs()
    gates = _urban_segments(plan, segs, rng, sealed)
    entrances = _village_segments(plan, segs)
    xy = np.asarray(segs.xy)
    cls = np.asarray(segs.cls)
    prio = np.array([_PRIO[c] for c in segs.cls])
    coords, pieces, owner = _node(xy, prio)

    # names of main roads and streets by line (axis and coordinate)
    names = np.asarray(segs.name, dtype=object)
    named = (names == "") & np.isin(cls, ["main", "street"])
    q = np.rint(xy * 1000).astype(np.int64)
    vertical = q[:, 0] == q[:, 2]
    line_key = np.where(vertical, q[:, 0], q[:, 1]) * 2 + vertical
    _, inverse = np.unique(line_key[named], return_inverse=True)
    names[named] = [_road_name(int(i), str(c)) for i, c in zip(inverse, cls[named], strict=True)]
    for c, label in (("lane", "弄"), ("path", "宅间小路")):
        rest = (names == "") & (cls == c)
        names[rest] = [f"{VILLAGE_NAME}{label}"] * int(rest.sum())

    n_nodes = len(coords)
    node_ids = np.array([f"N{i:06d}" for i in range(n_nodes)], dtype=object)
    a, b = pieces[:, 0], pieces[:, 1]
    e_cls = cls[owner]
    length = np.abs(coords[b] - coords[a]).sum(axis=1)
    oneway = np.zeros(len(a), dtype=bool)
    urban_street = (e_cls == "street") & ~np.asarray(segs.village)[owner]
    for axis in (0, 1):  # one vertical and one horizontal street run one way
        on_axis = urban_street & (coords[a, 1 - axis] == coords[b, 1 - axis])
        if on_axis.any():
            first = np.min(coords[a[on_axis], 1 - axis][coords[a[on_axis], 1 - axis] > 0])
            oneway |= on_axis & (coords[a, 1 - axis] == first)
    lookup = {(round(x, 3), round(y, 3)): i for i, (x, y) in enumerate(coords)}

    def at(pt: tuple[float, float]) -> int:
        return lookup[(round(pt[0], 3), round(pt[1], 3))]

    # the sealed compound keeps its main gate only (side gates closed)
    gate_segs = np.flatnonzero(cls == "gate")
    first_gate = np.cumsum([0] + [len(g) for g in gates])
    closed = np.isin(owner, gate_segs[first_gate[sealed] + 1 : first_gate[sealed + 1]])

    kind = np.full(n_nodes, "junction", dtype=object)
    main_gate = []
    for these in gates:
        for outer, _ in these:
            kind[at(outer)] = "gate"
        main_gate.append(node_ids[at(these[0][0])])
    cp_nodes = [at(pt) for pt, _, _ in entrances]
    kind[cp_nodes] = "checkpoint"

    edges = pd.DataFrame(
        {
            "edge_id": [f"E{i:06d}" for i in range(len(a))],
            "u": node_ids[a],
            "v": node_ids[b],
            "name": names[owner],
            "road_class": e_cls,
            "oneway": oneway,
            "mode": np.asarray(segs.mode)[owner],
            "length_m": np.round(length, 3),
            "closed": closed,
            "x0": coords[a, 0],
            "y0": coords[a, 1],
            "x1": coords[b, 0],
            "y1": coords[b, 1],
        }
    )
    nodes = pd.DataFrame({"node_id": node_ids, "kind": kind, "x": coords[:, 0], "y": coords[:, 1]})

    street_of = {}
    for e in np.flatnonzero(~np.isin(e_cls, ["gate", "lane", "path"])):
        street_of.setdefault(int(a[e]), names[owner[e]])
        street_of.setdefault(int(b[e]), names[owner[e]])
    gate_street = [street_of.get(at(g[0][0]), "") for g in gates]

    kinds = [k for _, k, _ in entrances]
    unstaffed = set(rng.choice(np.flatnonzero(np.array(kinds) == "minor"), size=2, replace=False))
    label = {"land": "陆路", "minor": "支路", "water": "水路"}
    count = dict.fromkeys(label, 0)
    cp_names = []
    for k in kinds:
        count[k] += 1
        cp_names.append(f"{VILLAGE_NAME}{label[k]}{count[k]}号道口")
    checkpoints = pd.DataFrame(
        {
            "checkpoint_id": [f"CP{i + 1:02d}" for i in range(len(entrances))],
            "name": cp_names,
            "node_id": node_ids[cp_nodes],
            "kind": kinds,
            "staffed": [i not in unstaffed for i in range(len(entrances))],
            "shifts": 3,
            "x": coords[cp_nodes, 0],
            "y": coords[cp_nodes, 1],
        }
    )
    village_seg = np.asarray(segs.village)[owner]
    village_nodes = np.unique(np.concatenate([a[village_seg], b[village_seg]]))
    return Network(nodes, edges, checkpoints, list(main_gate), gate_street, village_nodes)
