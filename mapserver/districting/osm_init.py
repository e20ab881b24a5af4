"""Start from OpenStreetMap alone: residential buildings with estimated households, a grid tree."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import scipy.sparse as sp
import shapely

from mapserver import model
from mapserver.districting._common import building_points, metric_crs_of
from mapserver.districting.adjacency import barrier_lines, building_adjacency
from mapserver.districting.boundaries import cell_polygons
from mapserver.districting.compound_tree import tree_grids
from mapserver.districting.households import units_of
from mapserver.districting.partition import _fresh, propose_partition
from mapserver.districting.target import MICRO, Target

HOUSE_TYPES = frozenset(
    {"house", "detached", "semidetached_house", "terrace", "bungalow", "farm", "cabin"}
)
APARTMENT_TYPES = frozenset({"apartments", "residential", "dormitory"})
LEVEL_LETTER = {level: level[0].upper() for level in model.GRID_LEVELS}
_TMP = "tmp-"
ROAD_MARGIN_M = 1000.0  # roads are kept this far around the area (cordons must see them)


@dataclass(frozen=True)
class HouseholdAssumptions:
    """How households and residents are estimated from a footprint (stated, configurable).

    ``households = max(1, floor(footprint_m2 * levels * usable_ratio / m2_per_household))``
    and ``residents = round(households * persons_per_household)``. Levels come
    from ``building:levels`` when it is a positive number, else ``house_levels``
    for ``house_types`` and ``apartment_levels`` for every other residential
    building. Residential means ``building`` in ``house_types`` or
    ``apartment_types``, or ``building=yes`` standing (its representative
    point) in ``landuse=residential`` when ``yes_in_residential_landuse``.
    Footprints under ``min_footprint_m2`` (sheds, kiosks) are left out, and so
    is a footprint lying over half under a larger one (the same building drawn
    twice; listed in ``attrs["drawn_twice"]``).
    ``units = ceil(households / (levels * households_per_floor))`` (one
    stairwell per unit, 一梯两户 by default).
    """

    m2_per_household: float = 90.0
    usable_ratio: float = 0.75
    persons_per_household: float = 2.5
    house_levels: int = 1
    apartment_levels: int = 6
    min_footprint_m2: float = 30.0
    households_per_floor: int = 2
    yes_in_residential_landuse: bool = True
    house_types: frozenset[str] = field(default=HOUSE_TYPES)
    apartment_types: frozenset[str] = field(default=APARTMENT_TYPES)


def buildings_from_osm(
    path: str | Path,
    *,
    area=None,
    assumptions: HouseholdAssumptions = HouseholdAssumptions(),
) -> gpd.GeoDataFrame:
    """Residential building footprints from an OSM file, with estimated households.

    Parameters
    ----------
    path
        ``.osm.pbf`` or ``.osm`` (XML) file.
    area
        shapely (Multi)Polygon or ``(minx, miny, maxx, maxy)`` in EPSG:4326;
        buildings whose representative point is outside are dropped. None: all.
    assumptions
        See :class:`HouseholdAssumptions`.

    Returns
    -------
    geopandas.GeoDataFrame
        ``model.BUILDING_COLUMNS`` in EPSG:4326; ``building_id`` is
        ``"osm:w<way id>"`` or ``"osm:r<relation id>"``; ``units`` is
        estimated (see :class:`HouseholdAssumptions`); ``attrs["assumptions"]``
        holds the assumptions used.
    """
    path = Path(path)
    if not path.exists():
        msg = f"{path.name}: no such file"
        raise FileNotFoundError(msg)
    rows, landuse = _read_areas(path, assumptions)
    if not rows:
        return _empty_buildings()
    frame = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=model.STORAGE_CRS)
    metric = metric_crs_of(None, frame)
    feet = frame.geometry.to_crs(metric)
    points = gpd.GeoSeries(shapely.point_on_surface(np.asarray(frame.geometry.values)), crs=4326)
    keep = np.array(feet.area >= assumptions.min_footprint_m2, dtype=bool)
    yes = (frame["building"] == "yes").to_numpy()
    if yes.any():
        zone = shapely.union_all(landuse) if landuse else shapely.Polygon()
        inside = shapely.contains(zone, np.asarray(points.values))
        keep &= ~yes | (inside & assumptions.yes_in_residential_landuse)
    if area is not None:
        region = shapely.box(*area) if isinstance(area, tuple | list) else area
        keep &= shapely.contains(region, np.asarray(points.values))
    frame, feet = frame[keep].reset_index(drop=True), feet[keep].reset_index(drop=True)
    twice = _drawn_twice(np.asarray(feet.values), frame["building_id"].to_numpy())
    if twice:
        once = ~frame["building_id"].isin(twice).to_numpy()
        frame, feet = frame[once].reset_index(drop=True), feet[once].reset_index(drop=True)
    house = frame["building"].isin(assumptions.house_types).to_numpy()
    default = np.where(house, assumptions.house_levels, assumptions.apartment_levels)
    levels = np.where(frame["levels"].to_numpy() > 0, frame["levels"].to_numpy(), default)
    floor_area = feet.area.to_numpy() * levels * assumptions.usable_ratio
    households = np.maximum(1, np.floor(floor_area / assumptions.m2_per_household)).astype(int)
    residents = np.round(households * assumptions.persons_per_household).astype(int)
    out = gpd.GeoDataFrame(
        {
            "building_id": frame["building_id"],
            "grid_id": None,
            "name": frame["name"],
            "address": frame["address"],
            "compound_id": None,
            "units": pd.array(
                units_of(households, levels, assumptions.households_per_floor), dtype="Int64"
            ),
            "households": households.astype(np.int64),
            "residents": residents.astype(np.int64),
            "gate_node": None,
        },
        geometry=frame.geometry.values,
        crs=model.STORAGE_CRS,
    )
    out.attrs["assumptions"] = assumptions
    out.attrs["drawn_twice"] = twice
    return out[list(model.BUILDING_COLUMNS)]


def _drawn_twice(feet: np.ndarray, ids: np.ndarray) -> dict[str, str]:
    """Footprints lying mostly (over half) under a larger one: the same building drawn twice.

    Returns dropped id -> the id kept in its place.
    """
    tree = shapely.STRtree(feet)
    a, b = tree.query(feet, predicate="intersects")
    pick = a < b
    a, b = a[pick], b[pick]
    area = shapely.area(feet)
    shared = shapely.area(shapely.intersection(feet[a], feet[b]))
    small = np.where(area[a] <= area[b], a, b)
    large = np.where(area[a] <= area[b], b, a)
    mostly = shared > 0.5 * area[small]
    out: dict[str, str] = {}
    for s, big in zip(small[mostly], large[mostly], strict=True):
        if str(ids[big]) not in out:
            out.setdefault(str(ids[s]), str(ids[big]))
    return out


def _empty_buildings() -> gpd.GeoDataFrame:
    cols = {c: [] for c in model.BUILDING_COLUMNS if c != "geometry"}
    return gpd.GeoDataFrame(cols, geometry=[], crs=model.STORAGE_CRS)


def _levels(value: str | None) -> float:
    """The first number in a ``building:levels`` tag, 0 when there is none."""
    if not value:
        return 0.0
    found = re.search(r"\d+(\.\d+)?", value)
    return float(found.group()) if found else 0.0


def _read_areas(path: Path, assumptions: HouseholdAssumptions) -> tuple[list[dict], list]:
    """Candidate residential buildings (as dict rows) and residential landuse polygons."""
    wkb = osmium.geom.WKBFactory()
    kinds = assumptions.house_types | assumptions.apartment_types | {"yes"}
    rows, landuse = [], []
    processor = osmium.FileProcessor(str(path)).with_areas()
    processor = processor.with_filter(osmium.filter.KeyFilter("building", "landuse"))
    for obj in processor:
        if not obj.is_area():
            continue
        tags = obj.tags
        kind = tags.get("building")
        if kind is None and tags.get("landuse") == "residential":
            landuse.append(shapely.from_wkb(wkb.create_multipolygon(obj)))
            continue
        if kind not in kinds:
            continue
        try:
            geom = shapely.from_wkb(wkb.create_multipolygon(obj))
        except RuntimeError:
            continue
        street, number = tags.get("addr:street"), tags.get("addr:housenumber")
        rows.append(
            {
                "building_id": f"osm:{'w' if obj.from_way() else 'r'}{obj.orig_id()}",
                "building": kind,
                "levels": _levels(tags.get("building:levels")),
                "name": tags.get("name"),
                "address": " ".join(x for x in (street, number) if x) or None,
                "geometry": geom,
            }
        )
    return rows, landuse


def default_area(buildings: gpd.GeoDataFrame, *, margin_m: float = 30.0):
    """The convex hull of the buildings grown by ``margin_m`` metres, in EPSG:4326."""
    metric = metric_crs_of(None, buildings)
    hull = buildings.geometry.to_crs(metric).union_all().convex_hull.buffer(margin_m)
    return gpd.GeoSeries([hull], crs=metric).to_crs(model.STORAGE_CRS).iloc[0]


def propose_tree(
    buildings: gpd.GeoDataFrame,
    area,
    *,
    target: Target = MICRO,
    levels: tuple[str, ...] = ("community", "big", "micro"),
    name_prefix: str = "OSM",
    barriers=None,
    fanout: tuple[int, int] = (8, 10),
    seed: int = 0,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Propose a whole grid tree over an area, from the root down to the leaves.

    The leaves are a :func:`propose_partition` of all buildings with ``target``;
    each level between root and leaves groups ``fanout`` (min, max) contiguous
    grids of the level below (big grids of 8-10 micro-grids by default). Leaf
    polygons come from :func:`cell_polygons` over the area and every parent is
    the union of its children, so children tile their parent.

    Parameters
    ----------
    buildings
        ``building_id``, ``households``, ``residents``, geometry; EPSG:4326.
    area
        The root polygon, shapely (Multi)Polygon in EPSG:4326.
    target
        Range of the leaves.
    levels
        Level names (``model.GRID_LEVELS``) from the root to the leaves.
    name_prefix
        The root's id and name; children's ids append ``-B01``, ``-M01``...
    barriers
        Lines not to cross (EPSG:4326), e.g. main roads and water.
    fanout
        Children per grid on the levels between root and leaves.
    seed
        Seed of the leaf partition.

    Returns
    -------
    (grids, buildings)
        Grids with ``model.GRID_COLUMNS`` (EPSG:4326; ``attrs["exceptions"]``
        lists the leaves' ``PlanException`` s) and a copy of the buildings with
        ``grid_id`` set to their leaf.
    """
    if len(levels) < 2:
        msg = f"a grid tree needs a root and a leaf level, got {levels}"
        raise ValueError(msg)
    unknown = [lv for lv in levels if lv not in model.GRID_LEVELS]
    if unknown:
        msg = f"unknown grid level {unknown[0]!r}; known: {', '.join(model.GRID_LEVELS)}"
        raise ValueError(msg)
    plan = propose_partition(
        buildings, area, target=target, barriers=barriers, seed=seed, id_prefix=_TMP
    )
    leaf_ids = [c.cell_id for c in plan.cells]
    chains = _group_levels(buildings, area, plan.assignment, leaf_ids, len(levels) - 2, fanout)
    polys = cell_polygons(buildings, plan.assignment, area).set_index("cell_id").geometry
    return _tree_frames(buildings, area, plan, chains, polys, levels, name_prefix, target)


def _group_levels(buildings, area, assignment, leaf_ids, depth, fanout) -> list[list[int]]:
    """For each leaf, its group index at every intermediate level (top level first)."""
    chains: list[list[int]] = [[] for _ in leaf_ids]
    if depth == 0:
        return chains
    index = {c: k for k, c in enumerate(leaf_ids)}
    ids = buildings["building_id"].astype(str).to_numpy()
    lab = np.array([index[assignment[b]] for b in ids])
    adj = building_adjacency(buildings, area).tocoo()
    xy = building_points(buildings, metric_crs_of(area, buildings))
    current = lab
    count = len(leaf_ids)
    member = np.arange(count)  # leaf -> group at the level being built
    for _ in range(depth):
        cx = np.bincount(current, weights=xy[:, 0], minlength=count)
        cy = np.bincount(current, weights=xy[:, 1], minlength=count)
        size = np.maximum(np.bincount(current, minlength=count), 1)
        cxy = np.column_stack([cx / size, cy / size])
        a, b = current[adj.row], current[adj.col]
        cross = a != b
        cell_adj = sp.coo_matrix((np.ones(cross.sum()), (a[cross], b[cross])), (count, count))
        cell_adj = ((cell_adj + cell_adj.T) > 0).astype(np.int8).tocsr()
        group_target = Target(fanout[0], fanout[1])
        groups = _fresh(
            np.arange(count), cxy, np.ones(count, dtype=np.int64), cell_adj, group_target,
            np.zeros(count, dtype=bool),
        )  # fmt: skip
        member = groups[member]
        for leaf in range(len(leaf_ids)):
            chains[leaf].insert(0, int(member[leaf]))
        current = groups[current]
        count = int(groups.max()) + 1
    return chains


def _tree_frames(buildings, area, plan, chains, polys, levels, prefix, target):
    """Name the grids, dissolve parents from leaves, and build the output frames."""
    rows, geoms = [], []
    rows.append((prefix, None, levels[0], prefix, None))
    geoms.append(area)
    path_ids: dict[tuple, str] = {(): prefix}
    counters = dict.fromkeys(levels, 0)
    leaf_new: dict[str, str] = {}
    leaf_ids = [c.cell_id for c in plan.cells]
    for leaf, chain in zip(leaf_ids, chains, strict=True):
        key: tuple = ()
        for depth, group in enumerate([*chain, leaf]):
            child = (*key, group)
            if child not in path_ids:
                level = levels[depth + 1]
                counters[level] += 1
                siblings = sum(1 for k in path_ids if len(k) == len(child) and k[:-1] == key)
                gid = f"{path_ids[key]}-{LEVEL_LETTER[level]}{siblings + 1:02d}"
                path_ids[child] = gid
                label = model.LEVEL_LABELS[level]["zh"]
                is_leaf = depth == len(chain)
                tgt = round(target.middle) if is_leaf and target.measure == "households" else None
                rows.append((gid, path_ids[key], level, f"第{counters[level]}{label}", tgt))
                geoms.append(polys[leaf] if is_leaf else None)
            key = child
        leaf_new[leaf] = path_ids[key]
    frame = pd.DataFrame(rows, columns=["grid_id", "parent_id", "level", "name", "target"])
    geoms = _dissolve_parents(frame, geoms)
    pattern = re.compile(re.escape(_TMP) + r"\d+")
    grids = tree_grids(frame, geoms, plan.exceptions, leaf_new, pattern)
    out = buildings.copy()
    out["grid_id"] = [leaf_new[plan.assignment[str(b)]] for b in out["building_id"]]
    return grids, out


def _dissolve_parents(frame: pd.DataFrame, geoms: list) -> list:
    """Fill each parent's geometry with the union of its children, deepest first."""
    geoms = list(geoms)
    children: dict[str, list[int]] = {}
    for k, parent in enumerate(frame["parent_id"]):
        if parent is not None:
            children.setdefault(parent, []).append(k)
    for k in sorted(range(len(frame)), key=lambda i: -frame["grid_id"].iat[i].count("-")):
        if geoms[k] is None:
            kids = children.get(frame["grid_id"].iat[k], [])
            geoms[k] = shapely.union_all([geoms[c] for c in kids])
    return geoms


def init_from_osm(
    path: str | Path,
    *,
    area=None,
    target: Target = MICRO,
    levels: tuple[str, ...] = ("community", "big", "micro"),
    name_prefix: str = "OSM",
    assumptions: HouseholdAssumptions = HouseholdAssumptions(),
    compounds: bool = True,
    split_units: bool = False,
    road_margin_m: float = ROAD_MARGIN_M,
) -> dict:
    """Everything ``mapserver init --osm`` needs: layers, households and the plan's exceptions.

    Reads residential buildings (:func:`buildings_from_osm`) inside ``area``
    (default: the buildings' convex hull grown by 30 m), the whole road network
    within ``road_margin_m`` metres of it (``read_osm_roads``), and the
    residential compounds (``compounds.read_compounds``). With ``compounds``
    and three levels, each compound holding buildings becomes a big grid
    (``compound_tree.propose_compound_tree``), its roads get gate nodes where
    they cross its boundary, and its buildings are served at the nearest gate;
    other buildings at the nearest road node. Buildings over the micro-grid
    maximum are listed in ``big_buildings``; with ``split_units`` they are
    replaced by sub-buildings of whole units (``households.split_by_units``).
    Main roads and water are barriers of the leaf partition.

    Returns
    -------
    dict
        ``grids``, ``buildings``, ``households``, ``road_nodes``,
        ``road_edges`` (model layers, EPSG:4326), ``compounds`` (the compound
        polygons used), ``exceptions`` (list of ``PlanException``),
        ``big_buildings`` (list of ``(building_id, households)``), ``split``
        (building id -> sub-building ids) and ``total_households``.
    """
    from mapserver.districting.compound_tree import propose_compound_tree
    from mapserver.districting.compounds import (
        add_gates,
        compound_of,
        disjoint_compounds,
        gate_nodes,
        read_compounds,
    )
    from mapserver.districting.households import household_rows, split_by_units
    from mapserver.network.osm import read_osm_roads

    region = shapely.box(*area) if isinstance(area, tuple | list) else area
    buildings = buildings_from_osm(path, area=region, assumptions=assumptions)
    if len(buildings) == 0:
        msg = f"{Path(path).name}: no residential buildings in the area"
        raise ValueError(msg)
    if region is None:
        region = default_area(buildings)
    metric = metric_crs_of(region, buildings)
    reach = gpd.GeoSeries([region], crs=model.STORAGE_CRS).to_crs(metric).buffer(road_margin_m)
    nodes, edges = read_osm_roads(path, polygon=reach.to_crs(model.STORAGE_CRS).iloc[0])
    use_compounds = compounds and len(levels) == 3
    comp = read_compounds(path) if use_compounds else None
    if comp is not None:
        comp = disjoint_compounds(comp, region)
        buildings["compound_id"] = compound_of(buildings, comp)
        comp = comp[comp["compound_id"].isin(set(buildings["compound_id"].dropna()))]
        comp = comp.reset_index(drop=True)
    hh = buildings["households"].to_numpy()
    big = [
        (str(b), int(h))
        for b, h in zip(buildings["building_id"], hh, strict=True)
        if h > target.maximum
    ]
    split: dict[str, list[str]] = {}
    if split_units and big:
        buildings = split_by_units(buildings, target.maximum)
        split = buildings.attrs["split"]
    gates: dict[str, list[str]] = {}
    if comp is not None and len(comp):
        nodes, edges, gates = add_gates(nodes, edges, comp)
    buildings["gate_node"] = gate_nodes(buildings, nodes, gates)
    barriers = barrier_lines(edges)
    if comp is not None and len(comp):
        grids, placed = propose_compound_tree(
            buildings, region, comp, target=target, levels=levels,
            name_prefix=name_prefix, barriers=barriers,
        )  # fmt: skip
    else:
        grids, placed = propose_tree(
            buildings, region, target=target, levels=levels,
            name_prefix=name_prefix, barriers=barriers,
        )  # fmt: skip
    placed = placed[list(model.BUILDING_COLUMNS)]
    return {
        "grids": grids,
        "buildings": placed,
        "households": household_rows(placed, per_floor=assumptions.households_per_floor),
        "road_nodes": nodes,
        "road_edges": edges,
        "compounds": comp,
        "gates": gates,
        "exceptions": grids.attrs["exceptions"],
        "big_buildings": big,
        "split": split,
        "total_households": int(math.fsum(placed["households"])),
    }
