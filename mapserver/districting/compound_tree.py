"""A grid tree whose big grids are the residential compounds (小区) and groups of the rest."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapserver import model
from mapserver.districting._common import polygonal
from mapserver.districting.boundaries import cell_polygons
from mapserver.districting.compounds import compound_of
from mapserver.districting.partition import Partition, PlanException, propose_partition
from mapserver.districting.target import MICRO, Target

_TMP = "tmp-"
_SPECK = 1e-10  # square degrees (about 1 m²): slivers of overlays touching nothing are dropped


def propose_compound_tree(
    buildings: gpd.GeoDataFrame,
    area,
    compounds: gpd.GeoDataFrame,
    *,
    target: Target = MICRO,
    levels: tuple[str, str, str] = ("community", "big", "micro"),
    name_prefix: str = "OSM",
    barriers=None,
    fanout: tuple[int, int] = (8, 10),
    seed: int = 0,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Propose root › big grids › micro-grids where every compound holding buildings is a big grid.

    Each compound (disjoint polygons inside ``area``, see
    ``compounds.disjoint_compounds``) that holds a building's representative
    point becomes one big grid, cut into micro-grids of its own buildings, so
    no micro-grid crosses a compound wall. Pieces of the rest of the area that
    hold no building go to the compound they share most boundary with. The
    buildings outside every compound are partitioned over the rest and their
    micro-grids grouped ``fanout`` (min, max) at a time into big grids. Every
    parent is the union of its children, so children tile their parent.

    Returns
    -------
    (grids, buildings)
        As ``osm_init.propose_tree``: grids with ``model.GRID_COLUMNS`` in
        EPSG:4326 (``attrs["exceptions"]``: the plans' ``PlanException`` s,
        with final grid ids) and the buildings with ``grid_id`` and
        ``compound_id`` set.
    """
    placed = buildings.copy()
    placed["compound_id"] = compound_of(placed, compounds)
    held = set(placed["compound_id"].dropna())
    comp = compounds[compounds["compound_id"].isin(held)].reset_index(drop=True)
    geoms = _around_footprints(placed, comp, area)
    rest = shapely.difference(area, shapely.union_all(list(geoms.values())))
    rest = _attach_empty_pieces(rest, geoms, placed[placed["compound_id"].isna()])
    bigs: list[tuple[str, object, Partition, pd.Series]] = []  # (name, geometry, plan, polys)
    order = _reading_order([geoms[c] for c in comp["compound_id"]])
    for k in order:
        cid, name = comp["compound_id"].iat[k], comp["name"].iat[k]
        sub = placed[placed["compound_id"] == cid]
        plan = propose_partition(
            sub, geoms[cid], target=target, barriers=barriers, seed=seed, id_prefix=f"{_TMP}{k}-"
        )
        polys = cell_polygons(sub, plan.assignment, geoms[cid]).set_index("cell_id").geometry
        label = name if isinstance(name, str) else None
        groups = _groups(sub, geoms[cid], plan, fanout)
        for g, members in enumerate(groups, start=1):
            geom = geoms[cid] if len(groups) == 1 else shapely.union_all(list(polys[members]))
            named = f"{label}{g}" if label and len(groups) > 1 else label
            bigs.append((named, geom, _subplan(plan, set(members)), polys[members]))
    free = placed[placed["compound_id"].isna()]
    if len(free):
        plan = propose_partition(
            free, rest, target=target, barriers=barriers, seed=seed, id_prefix=f"{_TMP}r-"
        )
        polys = cell_polygons(free, plan.assignment, rest).set_index("cell_id").geometry
        for members in _groups(free, rest, plan, fanout):
            geom = shapely.union_all(list(polys[members]))
            bigs.append((None, geom, _subplan(plan, set(members)), polys[members]))
    return _frames(placed, area, bigs, levels, name_prefix, target)


def _groups(sub, geom, plan: Partition, fanout: tuple[int, int]) -> list[list[str]]:
    """Cells of a plan grouped ``fanout`` at a time into contiguous big grids (one when few)."""
    from mapserver.districting.osm_init import _group_levels

    leaf_ids = [c.cell_id for c in plan.cells]
    if len(leaf_ids) <= fanout[1]:
        return [leaf_ids]
    chains = _group_levels(sub, geom, plan.assignment, leaf_ids, 1, fanout)
    groups: dict[int, list[str]] = {}
    for leaf, chain in zip(leaf_ids, chains, strict=True):
        groups.setdefault(chain[0], []).append(leaf)
    return list(groups.values())


def _around_footprints(placed: gpd.GeoDataFrame, comp: gpd.GeoDataFrame, area) -> dict:
    """Compound polygons redrawn so no footprint is cut: each takes its buildings' whole
    footprints and gives up those of other buildings; pieces holding none of its
    buildings are left out (they go to the rest of the area)."""
    feet = placed.geometry.to_numpy()
    pts = shapely.point_on_surface(feet)
    held = placed["compound_id"].to_numpy()
    tree = shapely.STRtree(feet)
    taken = shapely.Polygon()
    out = {}
    for cid, geom in zip(comp["compound_id"], comp.geometry, strict=True):
        mine = held == cid
        grown = shapely.union_all([geom, *feet[mine]])
        near = tree.query(grown, predicate="intersects")
        others = near[~mine[near]]
        if len(others):
            grown = shapely.difference(grown, shapely.union_all(feet[others]))
        grown = polygonal(shapely.difference(shapely.intersection(grown, area), taken))
        parts = [p for p in shapely.get_parts(grown) if shapely.intersects(p, pts[mine]).any()]
        out[cid] = shapely.union_all(parts) if parts else shapely.Polygon()
        taken = shapely.union(taken, out[cid])
    return out


def _attach_empty_pieces(rest, geoms: dict, free: gpd.GeoDataFrame):
    """Give each building-free piece of ``rest`` to the compound it shares most boundary with."""
    parts = list(shapely.get_parts(polygonal(rest)))
    if not parts:
        return shapely.Polygon()
    pts = shapely.point_on_surface(free.geometry.to_numpy()) if len(free) else np.array([])
    keep = []
    for part in parts:
        if len(pts) and shapely.intersects(part, pts).any():
            keep.append(part)
            continue
        shared = {c: part.boundary.intersection(g.boundary).length for c, g in geoms.items()}
        best = max(shared, key=shared.get, default=None)
        if best is None or shared[best] <= 0:
            if part.area > _SPECK:
                keep.append(part)  # a true island of the area: it stays in the rest
            continue
        geoms[best] = polygonal(shapely.union(geoms[best], part))
    return shapely.union_all(keep) if keep else shapely.Polygon()


def _reading_order(geoms: list) -> list[int]:
    """Indices of polygons from north to south, then west to east (by representative point)."""
    if not geoms:
        return []
    pts = shapely.get_coordinates(shapely.point_on_surface(np.asarray(geoms, dtype=object)))
    return list(np.lexsort((pts[:, 0], -np.round(pts[:, 1], 3))))


def _subplan(plan: Partition, members: set[str]) -> Partition:
    """The part of a partition holding the given cells."""
    cells = tuple(c for c in plan.cells if c.cell_id in members)
    held = {b for c in cells for b in c.buildings}
    text = held | members
    return Partition(
        {b: c for b, c in plan.assignment.items() if c in members},
        cells,
        tuple(e for e in plan.exceptions if e.subject in text),
        0,
        plan.target,
    )


def tree_grids(
    frame: pd.DataFrame, geoms: list, exceptions, rename: dict[str, str], pattern
) -> gpd.GeoDataFrame:
    """Grids (``model.GRID_COLUMNS``, EPSG:4326) of a proposed tree, exceptions renamed.

    ``frame`` holds ``grid_id``, ``parent_id``, ``level``, ``name`` and
    ``target`` per grid; temporary cell ids matching ``pattern`` in the
    exceptions' texts become their final ids by ``rename`` (in
    ``attrs["exceptions"]``).
    """
    grids = gpd.GeoDataFrame(
        {
            "grid_id": frame["grid_id"],
            "parent_id": frame["parent_id"],
            "level": frame["level"],
            "name": frame["name"],
            "person": None,
            "phone": None,
            "target_households": pd.array(frame["target"].tolist(), dtype="Int64"),
            "area_class": "none",
            "version": 1,
        },
        geometry=geoms,
        crs=model.STORAGE_CRS,
    )

    def named(text: str) -> str:
        return pattern.sub(lambda m: rename.get(m.group(), m.group()), text)

    grids.attrs["exceptions"] = [
        PlanException(named(e.subject), named(e.reason)) for e in exceptions
    ]
    return grids[list(model.GRID_COLUMNS)]


def _frames(placed, area, bigs, levels, prefix, target):
    """Name the grids and build the output frames (root, big grids, micro-grids)."""
    root, big_level, leaf_level = levels
    rows = [(prefix, None, root, prefix, None, area)]
    rename: dict[str, str] = {}
    exceptions: list[PlanException] = []
    micro_no = 0
    label_big = model.LEVEL_LABELS[big_level]["zh"]
    label_leaf = model.LEVEL_LABELS[leaf_level]["zh"]
    middle = round(target.middle) if target.measure == "households" else None
    for b, (name, geom, plan, polys) in enumerate(bigs, start=1):
        bid = f"{prefix}-{big_level[0].upper()}{b:02d}"
        rows.append((bid, prefix, big_level, name or f"第{b}{label_big}", None, geom))
        for m, cell in enumerate(plan.cells, start=1):
            micro_no += 1
            mid = f"{bid}-{leaf_level[0].upper()}{m:02d}"
            rename[cell.cell_id] = mid
            title = f"第{micro_no}{label_leaf}"
            rows.append((mid, bid, leaf_level, title, middle, polys[cell.cell_id]))
        exceptions.extend(plan.exceptions)
    columns = ["grid_id", "parent_id", "level", "name", "target", "geometry"]
    frame = pd.DataFrame(rows, columns=columns)
    pattern = re.compile(re.escape(_TMP) + r"[0-9r]+-\d+")
    grids = tree_grids(frame, list(frame["geometry"]), exceptions, rename, pattern)
    assignment = {}
    for _, _, plan, _ in bigs:
        assignment.update(plan.assignment)
    out = placed.copy()
    out["grid_id"] = [rename[assignment[str(b)]] for b in out["building_id"]]
    return grids, out
