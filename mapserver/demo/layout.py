"""Grid tree and building plan of the demo sub-district, in metres (EPSG:4549)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in metres

ROW_H = 450.0  # height of one row of urban neighbourhoods (m)
COMMUNITY_W = 620.0  # mean width of an urban neighbourhood (m)
VILLAGE_W = 1300.0  # village width including the river strip (m)
VILLAGE_H = 900.0
RIVER_W = 40.0
BUILDING_MARGIN = 8.0  # clearance between a footprint and its grid edge (m)

# (units, storeys, rooms per floor): one building filling a micro-grid (20-30 households)
# or one of a pair (10-15 households each).
SINGLE_TYPES = ((2, 6, 2), (2, 7, 2), (3, 5, 2), (2, 5, 2))
PAIR_TYPES = ((2, 6, 1), (2, 7, 1), (1, 6, 2), (2, 5, 1), (3, 5, 1), (1, 7, 2))

COMMUNITY_BASES = (
    "海欣", "卫家角", "康城", "华亭", "新城", "泗泾", "九亭", "方松", "永丰", "中山",
    "岳阳", "广富林", "佘山", "车墩", "叶榭", "新桥", "洞泾", "石湖荡", "泖港", "小昆山",
    "夏阳", "盈浦", "香花桥", "赵巷", "徐泾", "华新", "白鹤", "重固", "金泽", "练塘",
)  # fmt: skip
SURNAMES = (
    "张", "王", "李", "赵", "陈", "刘", "杨", "黄", "周", "吴", "徐", "孙", "朱", "马",
    "胡", "郭", "林", "何", "高", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯",
    "邓", "曹", "彭", "曾", "沈", "陆", "顾", "蒋", "钱", "施", "姚", "金",
)  # fmt: skip
GIVEN = (
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "秀", "霞", "平", "刚", "桂", "英", "华", "建", "国", "红", "玲",
    "斌", "浩", "亮", "婷", "文", "宇", "辉", "颖", "佳", "琴", "德", "海",
)  # fmt: skip
VILLAGE_NAME = "星火村"
SUBDISTRICT_NAME = "青松街道"
_DIGITS = "零一二三四五六七八九"


def zh_number(n: int) -> str:
    """Write 1..999 in Chinese numerals (一, 十二, 一百零五)."""
    if n < 10:
        return _DIGITS[n]
    if n < 20:
        return "十" + (_DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return _DIGITS[n // 10] + "十" + (_DIGITS[n % 10] if n % 10 else "")
    rest = n % 100
    if rest == 0:
        tail = ""
    elif rest < 10:
        tail = "零" + _DIGITS[rest]
    else:
        tail = ("一" if rest < 20 else "") + zh_number(rest)
    return _DIGITS[n // 100] + "百" + tail


@dataclass
class Grid:
    """One grid cell of the plan: box in metres, or a polygon built later for the root."""

    grid_id: str
    parent_id: str | None
    level: str
    name: str
    box: Box
    target: int | None = None
    compound: int = -1  # index into Plan.compounds for urban big grids and below


@dataclass
class Compound:
    """A walled urban compound (小区): one big grid."""

    compound_id: str
    name: str
    box: Box
    inner: list[Box]  # small-grid boxes, for the internal lanes


@dataclass
class Plan:
    """Everything the layers are built from, in metres."""

    grids: list[Grid] = field(default_factory=list)
    compounds: list[Compound] = field(default_factory=list)
    community_boxes: list[Box] = field(default_factory=list)
    village_box: Box = (0.0, 0.0, 0.0, 0.0)
    land_box: Box = (0.0, 0.0, 0.0, 0.0)  # the village east of the river
    band_boxes: list[Box] = field(default_factory=list)
    village_micro_boxes: list[Box] = field(default_factory=list)  # land parts
    homestead_boxes: list[Box] = field(default_factory=list)  # land parts
    urban_height: float = 0.0
    # buildings, one entry per building (urban first, then village houses)
    b_grid: list[str] = field(default_factory=list)
    b_compound: list[int] = field(default_factory=list)  # -1 for village houses
    b_group: list[int] = field(default_factory=list)  # village group number, 0 for urban
    b_box: list[Box] = field(default_factory=list)
    b_units: list[int] = field(default_factory=list)
    b_storeys: list[int] = field(default_factory=list)
    b_rooms: list[int] = field(default_factory=list)  # rooms per floor per unit


def split_box(box: Box, weights: list[float], *, rows: int | None = None) -> list[Box]:
    """Tile ``box`` into ``len(weights)`` boxes with areas proportional to the weights.

    Children go into rows (bottom to top) and then columns (left to right); the
    number of rows makes the cells as square as possible unless given. Shared
    edges use the very same float, so the children tile the parent exactly.
    """
    x0, y0, x1, y1 = box
    w, h, k = x1 - x0, y1 - y0, len(weights)
    if rows is None:
        rows = min(range(1, k + 1), key=lambda r: abs(math.log((w / math.ceil(k / r)) / (h / r))))
    counts = [k // rows + (1 if i < k % rows else 0) for i in range(rows)]
    wts = np.asarray(weights, dtype=float)
    starts = np.concatenate([[0], np.cumsum(counts)])
    row_sums = np.array([wts[a:b].sum() for a, b in itertools.pairwise(starts)])
    ys = y0 + h * np.concatenate([[0.0], np.cumsum(row_sums)]) / row_sums.sum()
    ys[0], ys[-1] = y0, y1
    out: list[Box] = []
    for r in range(rows):
        row = wts[starts[r] : starts[r + 1]]
        xs = x0 + w * np.concatenate([[0.0], np.cumsum(row)]) / row.sum()
        xs[0], xs[-1] = x0, x1
        out.extend(
            (float(xs[i]), float(ys[r]), float(xs[i + 1]), float(ys[r + 1]))
            for i in range(len(row))
        )
    return out


def _community_structure(rng: np.random.Generator, first: bool) -> list[list[list[list[tuple]]]]:
    """Draw bigs > smalls > micros > building types; the first is 海欣-like (7 big, 26 small)."""
    if first:
        smalls_per_big = [4, 4, 4, 4, 4, 3, 3]
    else:
        smalls_per_big = list(rng.integers(3, 5, size=int(rng.integers(5, 8))))
    bigs = []
    for n_small in smalls_per_big:
        smalls = []
        for n_micro in rng.integers(3, 6, size=n_small):
            micros = []
            for single in rng.random(n_micro) < 0.35:
                if single:
                    micros.append([SINGLE_TYPES[rng.integers(len(SINGLE_TYPES))]])
                else:
                    picks = rng.integers(len(PAIR_TYPES), size=2)
                    micros.append([PAIR_TYPES[p] for p in picks])
            smalls.append(micros)
        bigs.append(smalls)
    return bigs


def _households(types: list[tuple]) -> int:
    return sum(u * s * r for u, s, r in types)


def _place(cell: Box, n: int, size: tuple[float, float]) -> list[Box]:
    """Footprints of ``n`` buildings of ``size`` (length, depth) m in a cell, kept inside it."""
    x0, y0, x1, y1 = cell
    w, h = x1 - x0, y1 - y0
    cols = max(1, min(n, round(math.sqrt(n * w / h)))) if n > 1 else 1
    rows = math.ceil(n / cols)
    sw, sh = w / cols, h / rows
    length = min(size[0], max(sw - 2 * BUILDING_MARGIN, 0.5 * sw))
    depth = min(size[1], max(sh - 2 * BUILDING_MARGIN, 0.5 * sh))
    out = []
    for i in range(n):
        cx = x0 + sw * (i % cols + 0.5)
        cy = y0 + sh * (i // cols + 0.5)
        out.append((cx - length / 2, cy - depth / 2, cx + length / 2, cy + depth / 2))
    return out


def _urban(plan: Plan, rng: np.random.Generator, n_comm: int, sd_id: str) -> float:
    """Add the urban neighbourhoods west of the village; return the urban block width (m)."""
    structures = [_community_structure(rng, i == 0) for i in range(n_comm)]
    sizes = [sum(_households(m) for big in s for small in big for m in small) for s in structures]
    cols = math.ceil(math.sqrt(n_comm))
    rows = math.ceil(n_comm / cols)
    width = cols * COMMUNITY_W
    plan.urban_height = rows * ROW_H
    boxes = split_box((0.0, 0.0, width, plan.urban_height), sizes, rows=rows)
    plan.community_boxes = boxes
    width_c = max(2, len(str(n_comm)))
    for ci, (struct, cbox) in enumerate(zip(structures, boxes, strict=True)):
        base = COMMUNITY_BASES[ci % len(COMMUNITY_BASES)]
        again = ci // len(COMMUNITY_BASES)
        short = base if again == 0 else f"{base}第{zh_number(again + 1)}"
        cid = f"{sd_id}-C{ci + 1:0{width_c}d}"
        plan.grids.append(Grid(cid, sd_id, "community", f"{short}居民区", cbox))
        big_boxes = split_box(
            cbox, [sum(_households(m) for small in big for m in small) for big in struct]
        )
        n_small = n_micro = 0
        for bi, (big, bbox) in enumerate(zip(struct, big_boxes, strict=True)):
            k = len(plan.compounds)
            bid = f"{cid}-B{bi + 1:02d}"
            small_boxes = split_box(bbox, [sum(_households(m) for m in s) for s in big])
            plan.compounds.append(
                Compound(
                    f"C{ci + 1:0{width_c}d}-{bi + 1}",
                    f"{short}{zh_number(bi + 1)}村",
                    bbox,
                    small_boxes,
                )
            )
            plan.grids.append(Grid(bid, cid, "big", f"第{bi + 1}大网格", bbox, compound=k))
            for si, (small, sbox) in enumerate(zip(big, small_boxes, strict=True)):
                n_small += 1
                sid = f"{bid}-S{si + 1:02d}"
                plan.grids.append(Grid(sid, bid, "small", f"第{n_small}小网格", sbox, compound=k))
                micro_boxes = split_box(sbox, [_households(m) for m in small])
                for mi, (types, mbox) in enumerate(zip(small, micro_boxes, strict=True)):
                    n_micro += 1
                    mid = f"{sid}-M{mi + 1:02d}"
                    plan.grids.append(
                        Grid(mid, sid, "micro", f"第{n_micro}微网格", mbox, 25, compound=k)
                    )
                    size = (12.0 * max(t[0] for t in types) + 2.0, 11.0)
                    for fp, (u, s, r) in zip(_place(mbox, len(types), size), types, strict=True):
                        plan.b_grid.append(mid)
                        plan.b_compound.append(k)
                        plan.b_group.append(0)
                        plan.b_box.append(fp)
                        plan.b_units.append(u)
                        plan.b_storeys.append(s)
                        plan.b_rooms.append(r)
    return width


def _village(plan: Plan, rng: np.random.Generator, x0: float, sd_id: str) -> None:
    """Add 星火村: 4 sub-grids > 20 micro-grids > homestead grids of 5-15 households."""
    vbox = (x0, 0.0, x0 + VILLAGE_W, VILLAGE_H)
    land = (x0 + RIVER_W, 0.0, x0 + VILLAGE_W, VILLAGE_H)
    plan.village_box, plan.land_box = vbox, land
    vid = f"{sd_id}-V01"
    plan.grids.append(Grid(vid, sd_id, "community", VILLAGE_NAME, vbox))

    def stretch(b: Box) -> Box:
        return (vbox[0], b[1], b[2], b[3]) if b[0] == land[0] else b

    # households per homestead (6..14), houses of 1-3 households each
    homes = [
        [list(rng.integers(6, 15, size=int(rng.integers(6, 10)))) for _ in range(5)]
        for _ in range(4)
    ]
    band_boxes = split_box(land, [sum(sum(h) for h in band) for band in homes], rows=4)
    plan.band_boxes = band_boxes
    group = 0
    for bi, (band, bbox) in enumerate(zip(homes, band_boxes, strict=True)):
        bid = f"{vid}-B{bi + 1:02d}"
        plan.grids.append(Grid(bid, vid, "big", f"第{bi + 1}子网格", stretch(bbox)))
        micro_boxes = split_box(bbox, [sum(h) for h in band], rows=1)
        for mi, (micro, mbox) in enumerate(zip(band, micro_boxes, strict=True)):
            group += 1
            mid = f"{bid}-M{mi + 1:02d}"
            plan.village_micro_boxes.append(mbox)
            plan.grids.append(Grid(mid, bid, "micro", f"第{group}微网格", stretch(mbox)))
            surnames = rng.choice(len(SURNAMES), size=len(micro), replace=False)
            h_boxes = split_box(mbox, [float(h) for h in micro])
            for hi, (n_hh, hbox, sn) in enumerate(zip(micro, h_boxes, surnames, strict=True)):
                hid = f"{mid}-H{hi + 1:02d}"
                plan.homestead_boxes.append(hbox)
                name = f"{SURNAMES[sn]}家宅基网格"
                plan.grids.append(Grid(hid, mid, "homestead", name, stretch(hbox), 10))
                houses = []
                left = int(n_hh)
                while left > 0:
                    take = min(left, int(rng.integers(1, 4)))
                    houses.append(take)
                    left -= take
                for fp, hh in zip(_place(hbox, len(houses), (12.0, 10.0)), houses, strict=True):
                    plan.b_grid.append(hid)
                    plan.b_compound.append(-1)
                    plan.b_group.append(group)
                    plan.b_box.append(fp)
                    plan.b_units.append(1)
                    plan.b_storeys.append(hh)
                    plan.b_rooms.append(1)


def make_plan(rng: np.random.Generator, *, n_communities: int, sd_id: str = "SD01") -> Plan:
    """Lay out the grid tree and buildings in metres (EPSG:4549, origin at the south-west corner).

    The root grid is given the bounding box here; the caller replaces it by the
    union of the community polygons.
    """
    plan = Plan()
    plan.grids.append(Grid(sd_id, None, "subdistrict", SUBDISTRICT_NAME, (0, 0, 0, 0)))
    width = _urban(plan, rng, n_communities, sd_id)
    _village(plan, rng, width, sd_id)
    return plan
