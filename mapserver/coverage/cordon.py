"""The fewest staffed checkpoints that seal an area: a minimum cut, and moving it outward."""

# The cut is igraph's max-flow (push-relabel, C); we only build the graph and price it.

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping

from mapserver.coverage._crossing import split_through_roads
from mapserver.coverage._graph import CutGraph, households_at, reachable, within
from mapserver.coverage._sides import Sides, read_sides, transformer
from mapserver.coverage.area import AreaLike, area_nodes, area_polygon, as_area


@dataclass(frozen=True)
class CordonCosts:
    """Cost of closing one road edge, by road class (staff-equivalents, any unit).

    A staffed checkpoint costs the class's figure; a barrier costs ``barrier`` and
    may close only ``barrier_classes``. Unknown classes cost as ``street``.
    """

    main: float = 3.0
    street: float = 2.0
    lane: float = 1.5
    path: float = 1.0
    gate: float = 2.0
    water: float = 2.0
    barrier: float = 0.3
    barrier_classes: tuple[str, ...] = ("lane", "path", "gate")

    def placement(self, road_class: str) -> tuple[str, float]:
        """What closes an edge of this class, ``("staffed" | "barrier", cost)``."""
        staffed = float(getattr(self, road_class) if road_class in _CLASSES else self.street)
        if road_class in self.barrier_classes and self.barrier < staffed:
            return "barrier", float(self.barrier)
        return "staffed", staffed


_CLASSES = ("main", "street", "lane", "path", "gate", "water")
DEFAULT_COSTS = CordonCosts()


@dataclass(frozen=True)
class CutEdge:
    """One closed road edge of a cordon; the point is the edge's midpoint (EPSG:4326)."""

    edge_id: str
    road_class: str
    name: str
    placement: str  # "staffed", "barrier" or "existing" (a staffed checkpoint kept)
    cost: float
    checkpoint_id: str | None
    inside_node: str
    outside_node: str
    lon: float
    lat: float


@dataclass(frozen=True)
class CordonPlan:
    """A set of road edges whose closing seals an area, possibly moved outward."""

    cuts: tuple[CutEdge, ...]
    inside_nodes: frozenset[str]
    enclosed_nodes: frozenset[str]  # inside plus the optional nodes enclosed
    allowed_nodes: frozenset[str]  # inside plus every optional node
    extra_households: int
    household_cost: float
    enclosed_area: Polygon | MultiPolygon | None = field(default=None, compare=False)

    @property
    def staffed(self) -> int:
        """Staffed checkpoints: new ones plus the existing ones the cordon keeps."""
        return self.new_staffed + len(self.existing)

    @property
    def new_staffed(self) -> int:
        """Edges that get a new staffed checkpoint."""
        return sum(c.placement == "staffed" for c in self.cuts)

    @property
    def existing(self) -> tuple[str, ...]:
        """Ids of existing staffed checkpoints on the cordon."""
        return tuple(sorted({c.checkpoint_id for c in self.cuts if c.placement == "existing"}))

    @property
    def barriers(self) -> int:
        """Edges closed by a barrier."""
        return sum(c.placement == "barrier" for c in self.cuts)

    @property
    def total_cost(self) -> float:
        """Cost of the placements (existing checkpoints cost nothing)."""
        return float(sum(c.cost for c in self.cuts))

    @property
    def objective(self) -> float:
        """What the cut minimises: placements plus ``household_cost`` per extra household."""
        return self.total_cost + self.household_cost * self.extra_households

    def cut_edge_ids(self) -> list[str]:
        """Ids of the closed edges."""
        return [c.edge_id for c in self.cuts]

    def is_sealing(self, nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame) -> bool:
        """True when no open path leads from inside past the allowed region."""
        leaks = verify_seal(
            self.inside_nodes, nodes, edges, self.cut_edge_ids(), allowed=self.allowed_nodes
        )
        return not leaks

    def to_dict(self) -> dict:
        """Plain data with the figures and every cut edge."""
        return {
            "staffed": self.staffed,
            "new_staffed": self.new_staffed,
            "existing": list(self.existing),
            "barriers": self.barriers,
            "total_cost": round(self.total_cost, 6),
            "extra_households": self.extra_households,
            "household_cost": self.household_cost,
            "inside_nodes": len(self.inside_nodes),
            "enclosed_nodes": len(self.enclosed_nodes),
            "cuts": [asdict(c) for c in self.cuts],
        }

    def to_geojson(self) -> dict:
        """Cut points (edge midpoints) and the enclosed area, EPSG:4326."""
        features = []
        for c in self.cuts:
            props = asdict(c)
            lon, lat = props.pop("lon"), props.pop("lat")
            props["feature"] = "cut"
            geom = {"type": "Point", "coordinates": [lon, lat]}
            features.append({"type": "Feature", "geometry": geom, "properties": props})
        if self.enclosed_area is not None:
            props = {"feature": "enclosed", "extra_households": self.extra_households}
            features.append(
                {"type": "Feature", "geometry": mapping(self.enclosed_area), "properties": props}
            )
        summary = {k: v for k, v in self.to_dict().items() if k != "cuts"}
        return {"type": "FeatureCollection", "features": features, "summary": summary}


@dataclass(frozen=True)
class TradeoffPoint:
    """One plan on the trade-off between checkpoints and households enclosed."""

    household_cost: float
    staffed: int
    barriers: int
    total_cost: float
    extra_households: int
    new_posts: int = 0  # staffed checkpoints to set up
    kept_posts: int = 0  # existing staffed checkpoints the cordon keeps


@dataclass
class _Problem:
    """Everything a cordon needs, built once and solved at any household price."""

    sides: Sides
    edges: gpd.GeoDataFrame
    cut: CutGraph
    place: np.ndarray  # per original edge: "staffed" / "barrier" / "existing"
    cost: np.ndarray
    cp_id: np.ndarray  # per original edge: existing checkpoint id or None
    households: np.ndarray  # per node
    optional: np.ndarray  # node mask
    origin: np.ndarray  # per edge: the id of the road edge it is (or is a half of)

    def plan(self, household_cost: float) -> CordonPlan:
        side, _ = self.cut.solve(household_cost)
        cut = self.cut.cut_edges(side)
        enclosed = self.sides.inside.copy()
        enclosed[self.cut.enclosed_optional(side)] = True
        ids = self.sides.node_ids
        mids = shapely.line_interpolate_point(
            self.edges.geometry.to_numpy()[cut], 0.5, normalized=True
        )
        rows = self.edges.iloc[cut]
        cuts = []
        for k, e in enumerate(cut):
            u, v = self.sides.u[e], self.sides.v[e]
            a, b = (u, v) if enclosed[u] else (v, u)
            cuts.append(
                CutEdge(
                    edge_id=str(self.origin[e]),
                    road_class=str(rows["road_class"].iat[k]),
                    name=str(rows["name"].iat[k]) if pd.notna(rows["name"].iat[k]) else "",
                    placement=str(self.place[e]),
                    cost=float(self.cost[e]),
                    checkpoint_id=self.cp_id[e],
                    inside_node=str(ids[a]),
                    outside_node=str(ids[b]),
                    lon=round(float(mids[k].x), 7),
                    lat=round(float(mids[k].y), 7),
                )
            )
        extra = enclosed & ~self.sides.inside
        return CordonPlan(
            cuts=tuple(cuts),
            inside_nodes=frozenset(ids[self.sides.inside].tolist()),
            enclosed_nodes=frozenset(ids[enclosed].tolist()),
            allowed_nodes=frozenset(ids[self.sides.inside | self.optional].tolist()),
            extra_households=round(float(self.households[extra].sum())),
            household_cost=float(household_cost),
            enclosed_area=self._enclosed_area(extra, enclosed),
        )

    def _enclosed_area(self, extra: np.ndarray, enclosed: np.ndarray):
        """The area grown by a 10 m buffer round the enclosed roads beyond it (EPSG:4326)."""
        if not extra.any():
            return _to_4326(self.sides.area_m, self.sides.crs)
        u, v = self.sides.u, self.sides.v
        mask = enclosed[u] & enclosed[v] & (extra[u] | extra[v])
        lines = self.sides.to_metric(self.edges.geometry.to_numpy()[mask])
        grown = shapely.union_all([self.sides.area_m, *shapely.buffer(lines, 10.0)])
        return _to_4326(grown, self.sides.crs)


def _to_4326(geom, crs):
    back = transformer(crs, "EPSG:4326")
    return shapely.transform(geom, lambda c: np.column_stack(back.transform(c[:, 0], c[:, 1])))


def _problem(
    area: AreaLike,
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    *,
    checkpoints: gpd.GeoDataFrame | None,
    costs: CordonCosts,
    max_outward_m: float,
    outward_grids: Iterable[str] | AreaLike | None,
    grids: gpd.GeoDataFrame | None,
    buildings: gpd.GeoDataFrame | None,
    keep_existing: bool,
) -> _Problem:
    """Read the area, price every open edge, mark optional nodes, build the cut graph."""
    if max_outward_m < 0:
        msg = f"max_outward_m must be 0 or more metres, got {max_outward_m}"
        raise ValueError(msg)
    poly = as_area(area)
    sides = read_sides(poly, nodes, edges, checkpoints, tolerance_m=30.0)
    nodes, edges, origin = split_through_roads(sides, nodes, edges)
    if len(edges) != len(sides.u):
        sides = read_sides(poly, nodes, edges, checkpoints, tolerance_m=30.0)
    n = len(sides.node_ids)
    index = pd.Index(sides.node_ids)
    classes = edges["road_class"].astype(str).to_numpy()
    table = {c: costs.placement(c) for c in pd.unique(classes)}
    series = pd.Series(classes)
    place = np.array(series.map({c: p for c, (p, _) in table.items()}), dtype=object)
    cost = np.array(series.map({c: x for c, (_, x) in table.items()}), dtype=float)
    cp_id = np.full(len(edges), None, dtype=object)
    if keep_existing and checkpoints is not None and len(checkpoints):
        staffed = checkpoints[checkpoints["staffed"].astype(bool).to_numpy()]
        at = pd.Series(staffed["checkpoint_id"].astype(str).to_numpy(), index=staffed["node_id"])
        at = at[~at.index.duplicated()]
        for end in (edges["v"], edges["u"]):
            hit = end.astype(str).map(at).to_numpy()
            cp_id = np.where(pd.notna(hit), hit, cp_id)
        kept = pd.notna(cp_id)
        place[kept], cost[kept] = "existing", 0.0
    is_open = ~edges["closed"].astype(bool).to_numpy()
    u, v = sides.u[is_open], sides.v[is_open]

    optional = np.zeros(n, dtype=bool)
    if max_outward_m > 0:
        length = pd.to_numeric(edges["length_m"]).to_numpy(float)[is_open]
        optional |= within(n, u, v, length, np.flatnonzero(sides.inside), max_outward_m)
    if outward_grids is not None:
        if grids is not None and not isinstance(outward_grids, str | dict | shapely.Geometry):
            outer = area_polygon(grids, outward_grids)
        else:
            outer = as_area(outward_grids)
        optional |= read_sides(outer, nodes, edges, None, tolerance_m=30.0).inside
    optional &= ~sides.inside
    households = households_at(index, buildings)
    cut = CutGraph.build(n, u, v, cost[is_open], sides.inside, optional, households)
    cut.edge_of[cut.edge_of >= 0] = np.flatnonzero(is_open)[cut.edge_of[cut.edge_of >= 0]]
    return _Problem(sides, edges, cut, place, cost, cp_id, households, optional, origin)


def plan_cordon(
    area: AreaLike,
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    *,
    checkpoints: gpd.GeoDataFrame | None = None,
    costs: CordonCosts = DEFAULT_COSTS,
    max_outward_m: float = 0.0,
    outward_grids: Iterable[str] | AreaLike | None = None,
    grids: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    household_cost: float = 0.0,
    keep_existing: bool = True,
) -> CordonPlan:
    """Find the cheapest set of road edges to close so that nothing leaves an area.

    Roads are taken as undirected (sealing stops movement both ways) and closed
    edges are already shut. The area's nodes are merged into a source, nodes
    beyond the allowed region into a sink, and the minimum cut between them
    (igraph max-flow) is the cordon. Nodes within ``max_outward_m`` metres of the
    area along the roads, or inside ``outward_grids``, are optional: the cordon
    may enclose them (道口前移), paying ``household_cost`` for each household whose
    building's ``gate_node`` is such a node. Among equally cheap cordons the one
    enclosing least is returned.

    Parameters
    ----------
    area
        The area (grid union or drawn polygon), EPSG:4326.
    nodes, edges
        Road layers (``model`` columns), EPSG:4326; ``length_m`` in metres.
    checkpoints
        Checkpoints layer; staffed ones cost nothing to keep when ``keep_existing``
        (every edge at their node is free), and all of them help read boundary roads.
    costs
        Cost per closed edge by road class, staffed or barrier.
    max_outward_m
        How far beyond the area, in metres along the roads, the cordon may move.
    outward_grids
        Grid ids (with ``grids``) or a polygon the cordon may also move into.
    grids
        The grids layer, for ``outward_grids`` given as ids.
    buildings
        Buildings layer with ``households`` and ``gate_node``, for the household price.
    household_cost
        Price of enclosing one extra household, in the units of ``costs``.
    keep_existing
        Keep the staffed checkpoints as they stand (free) instead of replanning.

    Returns
    -------
    CordonPlan
        The closed edges with what stands on each, the enclosed nodes and households.

    A road passing through the area with neither end inside gets a virtual
    node inside (``<edge id>@in``), so the cordon closes it at both crossings
    (two cuts with the road's edge id). An area holding every node, or one no
    road enters, needs no cut: the plan is empty. ``outward_grids`` holding no
    node or every node are taken as they are.

    Raises
    ------
    ValueError
        When the area is empty or not a polygon.
    """
    problem = _problem(
        area, nodes, edges, checkpoints=checkpoints, costs=costs, max_outward_m=max_outward_m,
        outward_grids=outward_grids, grids=grids, buildings=buildings,
        keep_existing=keep_existing,
    )  # fmt: skip
    return problem.plan(household_cost)


def tradeoff_curve(
    area: AreaLike,
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    *,
    max_outward_m: float,
    buildings: gpd.GeoDataFrame,
    checkpoints: gpd.GeoDataFrame | None = None,
    costs: CordonCosts = DEFAULT_COSTS,
    outward_grids: Iterable[str] | AreaLike | None = None,
    grids: gpd.GeoDataFrame | None = None,
    household_costs: Iterable[float] | None = None,
    keep_existing: bool = True,
) -> list[TradeoffPoint]:
    """The cordons between "hold the boundary" and "move outward", one per breakpoint.

    The graph is built once and re-cut per household price. Without
    ``household_costs`` the prices are found exactly: every cordon that is the
    cheapest for some price (the breakpoints of the parametric minimum cut,
    found by Eisner–Severance bisection between price 0 and a price at which
    no household is worth enclosing).

    Parameters
    ----------
    area, nodes, edges, max_outward_m, buildings, checkpoints, costs, outward_grids, grids,
    keep_existing
        As for :func:`plan_cordon`.
    household_costs
        Prices per household to cut at; found automatically when None.

    Returns
    -------
    list of TradeoffPoint
        Distinct plans sorted by extra households enclosed (fewest first).
    """
    problem = _problem(
        area, nodes, edges, checkpoints=checkpoints, costs=costs, max_outward_m=max_outward_m,
        outward_grids=outward_grids, grids=grids, buildings=buildings,
        keep_existing=keep_existing,
    )  # fmt: skip
    if household_costs is not None:
        prices = sorted({float(p) for p in household_costs})
    else:
        prices = _breakpoints(problem.cut)
    points = {}
    for price in prices:
        plan = problem.plan(price)
        point = TradeoffPoint(
            household_cost=price,
            staffed=plan.staffed,
            barriers=plan.barriers,
            total_cost=round(plan.total_cost, 9),
            extra_households=plan.extra_households,
            new_posts=plan.new_staffed,
            kept_posts=len(plan.existing),
        )
        points.setdefault((point.extra_households, point.total_cost, point.staffed), point)
    return sorted(points.values(), key=lambda p: (p.extra_households, p.total_cost))


def _breakpoints(cut: CutGraph) -> list[float]:
    """Household prices at which each distinct optimal cordon of the parametric cut holds."""
    top = float(cut.base.sum()) + 1.0  # one household then outweighs every placement

    def solve(price: float) -> tuple[float, float]:
        side, _ = cut.solve(price)
        road = cut.edge_of >= 0
        crosses = side[cut.ends[:, 0]] != side[cut.ends[:, 1]]
        cost = float(cut.base[road & crosses].sum())
        return cost, float(cut.households[~road & side[cut.ends].any(axis=1)].sum())

    prices = {0.0: solve(0.0), top: solve(top)}
    stack = [(0.0, top)]
    while stack:
        lo, hi = stack.pop()
        (c1, h1), (c2, h2) = prices[lo], prices[hi]
        if h1 <= h2:
            continue
        mid = (c2 - c1) / (h1 - h2)
        if not lo < mid < hi:
            continue
        cm, hm = solve(mid)
        if cm + mid * hm < c1 + mid * h1 - 1e-9 * max(1.0, abs(c1 + mid * h1)):
            prices[mid] = (cm, hm)
            stack.extend([(lo, mid), (mid, hi)])
        else:  # a breakpoint: just above it the plan enclosing fewer households takes over
            above = mid * (1.0 + 1e-7)
            prices[above] = solve(above) if above < hi else prices[hi]
    return sorted(prices)


def verify_seal(
    inside: AreaLike | Iterable[str],
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    cut_edge_ids: Iterable[str],
    *,
    allowed: Iterable[str] | None = None,
    max_paths: int = 20,
) -> list[list[str]]:
    """Find open paths out of an area once some edges are closed.

    Breadth-first search from the inside nodes over the roads (undirected),
    skipping closed edges and the cut edges.

    Parameters
    ----------
    inside
        The area (polygon, EPSG:4326) or the ids of the nodes inside it.
    nodes, edges
        Road layers (``model`` columns).
    cut_edge_ids
        Edges closed by the cordon.
    allowed
        Nodes the cordon may enclose besides the inside ones (default: none).
    max_paths
        Report at most this many leaks.

    Returns
    -------
    list of list of str
        Node-id paths from an inside node to the first node beyond the allowed
        ones; empty when the area is sealed.
    """
    if isinstance(inside, Polygon | MultiPolygon | gpd.GeoSeries | gpd.GeoDataFrame | dict | str):
        inside = area_nodes(inside, nodes, edges)
    index = pd.Index(nodes["node_id"].astype(str))
    start = index.get_indexer(list(inside))
    start = start[start >= 0]
    ok = np.zeros(len(index), dtype=bool)
    ok[start] = True
    if allowed is not None:
        pos = index.get_indexer(list(allowed))
        ok[pos[pos >= 0]] = True
    cut = set(map(str, cut_edge_ids))
    keep = ~edges["closed"].astype(bool).to_numpy() & ~edges["edge_id"].astype(str).isin(cut)
    u = index.get_indexer(edges["u"].astype(str))[keep.to_numpy()]
    v = index.get_indexer(edges["v"].astype(str))[keep.to_numpy()]
    n = len(index)
    # walk on only from allowed nodes: a path ends at its first step beyond them
    src = np.concatenate([u[ok[u]], v[ok[v]]])
    dst = np.concatenate([v[ok[u]], u[ok[v]]])
    reached, pred = reachable(n, src, dst, start)
    leaks = np.flatnonzero(reached & ~ok)
    paths = []
    for node in leaks[:max_paths]:
        path, at = [], int(node)
        while at >= 0 and at != n:
            path.append(str(index[at]))
            at = int(pred[at])
        paths.append(path[::-1])
    return paths
