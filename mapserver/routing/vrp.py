"""Vehicle routing over road-graph distances: PyVRP, with OR-Tools for comparison."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np

from mapserver.network import RoadGraph, distance_matrix, shortest_path
from mapserver.routing.fleet import VehicleType
from mapserver.routing.plan import Leg, Route, RoutePlan, Vehicle, clock, schedule
from mapserver.routing.stops import Stop

SOLVERS: tuple[str, ...] = ("pyvrp", "ortools")
# From this many road nodes up, matrices come from a contraction hierarchy (built once per
# graph, ~10 s at 74k nodes) rather than one bounded Dijkstra per stop.
CH_MIN_NODES = 20_000
_BIG = 10**12


@dataclass(frozen=True)
class _Problem:
    """Stops, vehicles and integer matrices over the distinct road nodes involved."""

    stops: tuple[Stop, ...]
    vehicles: tuple[Vehicle, ...]
    nodes: tuple[str, ...]
    loc: dict[str, int]
    metres: np.ndarray  # float metres, inf where unreachable
    dist: np.ndarray  # int metres, _BIG where unreachable
    travel: dict[float, np.ndarray]  # speed (km/h) -> int seconds

    def travel_s(self, vehicle: Vehicle, a: str, b: str) -> int:
        """Driving time in seconds from node ``a`` to ``b``."""
        return int(self.travel[vehicle.speed_kmh][self.loc[a], self.loc[b]])


def vehicles_of(fleet: Sequence[VehicleType]) -> tuple[Vehicle, ...]:
    """Every vehicle of a fleet, each starting and ending at its type's depot node."""
    out = []
    for vt in fleet:
        for rid in vt.route_ids():
            out.append(
                Vehicle(
                    route_id=rid,
                    vehicle_type=vt.name,
                    capacity=vt.capacity,
                    speed_kmh=vt.speed_kmh,
                    start_node=vt.depot_node,
                    end_node=vt.depot_node,
                    earliest_s=vt.shift[0],
                    latest_s=vt.shift[1],
                    max_duration_s=vt.duration_limit_s,
                    fixed_cost=vt.fixed_cost,
                    max_trips=vt.max_trips,
                    depot_node=vt.depot_node,
                )
            )
    ids = [v.route_id for v in out]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        msg = f"vehicle type names repeat, giving vehicles the same id: {', '.join(dup)}"
        raise ValueError(msg)
    return tuple(out)


def solve(
    stops: Sequence[Stop],
    fleet: Sequence[VehicleType],
    graph: RoadGraph,
    *,
    time_limit_s: float = 5.0,
    seed: int = 1,
    solver: str = "pyvrp",
) -> RoutePlan:
    """Plan routes serving every stop once, within capacities, windows and shifts.

    Distances are shortest road paths on ``graph`` (metres, rounded to whole
    metres for the solver); a vehicle's driving time is distance over its
    speed, rounded up to the second; service time is added at each stop. The
    objective is metres driven plus the fixed cost of each vehicle used.

    Parameters
    ----------
    stops
        From :func:`mapserver.routing.stops.build_stops`.
    fleet
        Vehicle types (:mod:`mapserver.routing.fleet`).
    graph
        The road graph the routes may use (see :func:`~mapserver.routing.stops.access_graph`).
    time_limit_s
        Solver run time in seconds.
    seed
        Random seed (PyVRP).
    solver
        ``"pyvrp"`` or ``"ortools"``.

    Returns
    -------
    RoutePlan
        Feasible: every stop served once, every limit kept.

    Raises
    ------
    ValueError
        Naming the order or stop when the input cannot be served (an order
        larger than any vehicle in stops built without ``max_boxes``, a stop
        no vehicle can reach, a window no
        vehicle can meet, more boxes than the fleet holds), or when the solver
        finds no feasible plan within the time limit.
    """
    return _run(tuple(stops), vehicles_of(fleet), graph, time_limit_s, seed, solver)


def replan(
    plan: RoutePlan,
    graph: RoadGraph,
    *,
    delivered: Iterable[str],
    positions: Mapping[str, str],
    now_s: int,
    time_limit_s: float = 5.0,
    seed: int = 1,
    solver: str | None = None,
    keep_assignment: bool = False,
) -> RoutePlan:
    """Plan what is left from the vehicles' current positions.

    A vehicle named in ``positions`` starts from that node at ``now_s`` with
    what is left of its route duration; the others start from their depot
    (no earlier than ``now_s``). Every vehicle still ends at its own end node.

    Parameters
    ----------
    plan
        The plan being driven.
    graph
        The road graph as it is now (closures may have changed).
    delivered
        Ids of the stops already served.
    positions
        Route id -> current road node id.
    now_s
        The time now, seconds since midnight.
    time_limit_s, seed, solver
        As in :func:`solve` (the plan's own solver by default).
    keep_assignment
        Keep each stop on the vehicle that has it (its boxes are on board)
        and only re-order each route; otherwise stops may move between vehicles.

    Returns
    -------
    RoutePlan
        Routes over the stops not yet delivered.

    Raises
    ------
    ValueError
        For an unknown stop or route id, and as :func:`solve`.
    """
    delivered = {str(s) for s in delivered}
    known = {s.stop_id for s in plan.stops}
    unknown = sorted(delivered - known)
    if unknown:
        msg = f"delivered stop id(s) not in the plan: {', '.join(unknown)}"
        raise ValueError(msg)
    rids = {v.route_id for v in plan.vehicles}
    stray = sorted(set(positions) - rids)
    if stray:
        msg = f"position given for unknown route id(s): {', '.join(stray)}"
        raise ValueError(msg)
    solver = solver or plan.solver
    vehicles = []
    for v in plan.vehicles:
        route = plan.route(v.route_id)
        earliest = max(now_s, v.earliest_s)
        if earliest >= v.latest_s:
            continue
        if v.route_id in positions:
            elapsed = max(0, now_s - route.start_s) if route is not None else 0
            v = replace(
                v,
                start_node=str(positions[v.route_id]),
                max_duration_s=max(v.max_duration_s - elapsed, 0),
            )
        vehicles.append(replace(v, earliest_s=earliest))
    left = tuple(s for s in plan.stops if s.stop_id not in delivered)
    if not keep_assignment:
        return _run(left, tuple(vehicles), graph, time_limit_s, seed, solver)
    routes, cost = [], 0
    for v in vehicles:
        route = plan.route(v.route_id)
        mine = {x.stop.stop_id for x in route.visits} if route is not None else set()
        own = tuple(s for s in left if s.stop_id in mine)
        if own:
            part = _run(own, (v,), graph, time_limit_s, seed, solver)
            routes.extend(part.routes)
            cost += part.cost
    return RoutePlan(tuple(routes), cost, solver, left, tuple(vehicles))


def _run(
    stops: tuple[Stop, ...],
    vehicles: tuple[Vehicle, ...],
    graph: RoadGraph,
    time_limit_s: float,
    seed: int,
    solver: str,
) -> RoutePlan:
    """Check, solve with the chosen backend and build the plan."""
    if solver not in SOLVERS:
        msg = f"unknown solver {solver!r}: use one of {list(SOLVERS)}"
        raise ValueError(msg)
    ids = [s.stop_id for s in stops]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        msg = f"stop id(s) appear twice: {', '.join(dup)}"
        raise ValueError(msg)
    if not stops:
        return RoutePlan((), 0, solver, (), vehicles)
    if not vehicles:
        msg = f"no vehicle is available to serve the {len(stops)} stop(s)"
        raise ValueError(msg)
    problem = _problem(stops, vehicles, graph)
    _check_feasible(problem)
    backend = _solve_pyvrp if solver == "pyvrp" else _solve_ortools
    assignment = backend(problem, time_limit_s, seed)
    plan = _plan(problem, assignment, graph, solver)
    problems = plan.violations()
    if problems:
        msg = (
            f"{solver} found no plan keeping every capacity, window and shift within "
            f"{time_limit_s:g} s: {'; '.join(problems[:5])}"
        )
        raise ValueError(msg)
    return plan


def _problem(stops: tuple[Stop, ...], vehicles: tuple[Vehicle, ...], graph: RoadGraph) -> _Problem:
    """Distance and time matrices over the distinct nodes of stops and vehicles."""
    nodes = tuple(
        dict.fromkeys(
            [v.start_node for v in vehicles]
            + [v.end_node for v in vehicles]
            + [v.reload_node for v in vehicles if v.max_trips > 1]
            + [s.node_id for s in stops]
        )
    )
    method = "ch" if graph.n_nodes >= CH_MIN_NODES else "bounded"
    metres = distance_matrix(graph, list(nodes), list(nodes), method=method)
    finite = np.isfinite(metres)
    dist = np.where(finite, np.rint(np.where(finite, metres, 0)), _BIG).astype(np.int64)
    travel = {}
    for speed in {v.speed_kmh for v in vehicles}:
        secs = np.ceil(np.where(finite, metres, 0) / (speed / 3.6))
        travel[speed] = np.where(finite, secs, _BIG).astype(np.int64)
    return _Problem(
        stops, vehicles, nodes, {n: i for i, n in enumerate(nodes)}, metres, dist, travel
    )


def _check_feasible(problem: _Problem) -> None:
    """Refuse input no plan can serve, naming the order or stop.

    Raises
    ------
    ValueError
        For an order or stop larger than any vehicle, a stop no vehicle can
        reach and return from, a stop whose window no vehicle can meet within
        its shift and duration, or more boxes than the whole fleet holds.
    """
    vehicles, loc, metres = problem.vehicles, problem.loc, problem.metres
    biggest = max(vehicles, key=lambda v: v.capacity)
    issues = []
    for s in problem.stops:
        big = [d for d in s.drops if d.boxes > biggest.capacity]
        if big:
            issues += [
                f"order '{d.order_id}' ({d.boxes} boxes) is larger than any vehicle "
                f"(the largest, {biggest.vehicle_type}, holds {biggest.capacity}): "
                f"build stops with max_boxes={biggest.capacity} to carry it in several loads"
                for d in big
            ]
            continue
        if s.demand > biggest.capacity:
            issues.append(
                f"stop '{s.stop_id}' needs {s.demand} boxes, more than any vehicle holds "
                f"({biggest.capacity}): build stops with max_boxes={biggest.capacity}"
            )
            continue
        fits = [v for v in vehicles if v.capacity >= s.demand]
        reach = [
            v
            for v in fits
            if np.isfinite(metres[loc[v.start_node], loc[s.node_id]])
            and np.isfinite(metres[loc[s.node_id], loc[v.end_node]])
        ]
        if not reach:
            issues.append(
                f"stop '{s.stop_id}' ({s.name or s.node_id}, node {s.node_id}, orders "
                f"{', '.join(s.order_ids[:5])}) cannot be reached from any depot and back on "
                "the open roads (closed roads and unstaffed entrances of sealed areas are "
                "left out)"
            )
            continue
        late = _lateness(problem, s, reach)
        if late:
            issues.append(late)
    total = sum(s.demand for s in problem.stops)
    room = sum(v.capacity * v.max_trips for v in vehicles)
    if not issues and total > room:
        trips = max(v.max_trips for v in vehicles)
        issues.append(
            f"the stops need {total} boxes but the {len(vehicles)} vehicle(s) hold {room} "
            f"in one run ({trips} trip(s) each at most): add vehicles, allow more trips "
            "or split the orders over two runs"
        )
    if issues:
        raise ValueError("; ".join(issues[:10]) + (" ..." if len(issues) > 10 else ""))


def _lateness(problem: _Problem, s: Stop, vehicles: list[Vehicle]) -> str | None:
    """Why no vehicle can serve stop ``s`` alone in time; ``None`` when one can."""
    best = None
    for v in vehicles:
        out = problem.travel_s(v, v.start_node, s.node_id)
        back = problem.travel_s(v, s.node_id, v.end_node)
        arrive = v.earliest_s + out
        lo, hi = s.window if s.window is not None else (arrive, v.latest_s)
        start = max(arrive, lo)
        ok = (
            start <= hi
            and start + s.service_s + back <= v.latest_s
            and out + s.service_s + back <= v.max_duration_s
        )
        if ok:
            return None
        if best is None or arrive < best[0]:
            best = (arrive, v, out, back)
    arrive, v, out, back = best
    if s.window is not None and arrive > s.window[1]:
        why = (
            f"its window is {clock(s.window[0])}-{clock(s.window[1])} but the earliest "
            f"arrival is {clock(arrive)} ({v.vehicle_type} leaving {v.start_node} at "
            f"{clock(v.earliest_s)})"
        )
    else:
        need = out + s.service_s + back
        why = (
            f"the trip there and back takes {need // 60} min, beyond the shift "
            f"{clock(v.earliest_s)}-{clock(v.latest_s)} or the {v.max_duration_s // 60} min "
            f"route limit of {v.vehicle_type}"
        )
    return f"stop '{s.stop_id}' ({s.name or s.node_id}) cannot be served in time: {why}"


def _groups(vehicles: tuple[Vehicle, ...]) -> list[list[int]]:
    """Vehicle indices grouped by everything but their id (one solver vehicle type each)."""
    out: dict[tuple, list[int]] = {}
    for i, v in enumerate(vehicles):
        out.setdefault(replace(v, route_id=""), []).append(i)
    return list(out.values())


def _reloads(v: Vehicle, depot_of: dict[str, int]) -> dict:
    """PyVRP vehicle-type options letting ``v`` reload at its depot between trips."""
    if v.max_trips <= 1:
        return {}
    return {"reload_depots": [depot_of[v.reload_node]], "max_reloads": v.max_trips - 1}


def _trip_numbers(raw: list[int]) -> list[int]:
    """Trip numbers 1, 2, ... in order of the solver's own trip indices (empty trips skipped)."""
    order = {t: k for k, t in enumerate(dict.fromkeys(raw), start=1)}
    return [order[t] for t in raw]


def _solve_pyvrp(
    problem: _Problem, time_limit_s: float, seed: int
) -> list[tuple[int, list[int], list[int]]]:
    """PyVRP: (vehicle index, stop indices in order, trip of each) per non-empty route."""
    import pyvrp
    from pyvrp.stop import MaxRuntime

    nodes, loc = problem.nodes, problem.loc
    locations = [pyvrp.Location(0.0, 0.0, name=n) for n in nodes]
    depot_nodes = list(
        dict.fromkeys(
            [v.start_node for v in problem.vehicles]
            + [v.end_node for v in problem.vehicles]
            + [v.reload_node for v in problem.vehicles if v.max_trips > 1]
        )
    )
    depot_of = {n: k for k, n in enumerate(depot_nodes)}
    depots = [pyvrp.Depot(loc[n], name=n) for n in depot_nodes]
    clients = [
        pyvrp.Client(
            loc[s.node_id],
            delivery=[s.demand],
            service_duration=s.service_s,
            tw_early=s.window[0] if s.window else 0,
            tw_late=s.window[1] if s.window else _BIG,
            name=s.stop_id,
        )
        for s in problem.stops
    ]
    speeds = sorted(problem.travel)
    groups = _groups(problem.vehicles)
    types = []
    for members in groups:
        v = problem.vehicles[members[0]]
        types.append(
            pyvrp.VehicleType(
                len(members),
                capacity=[v.capacity],
                start_depot=depot_of[v.start_node],
                end_depot=depot_of[v.end_node],
                fixed_cost=v.fixed_cost,
                tw_early=v.earliest_s,
                tw_late=v.latest_s,
                shift_duration=v.max_duration_s,
                profile=speeds.index(v.speed_kmh),
                **_reloads(v, depot_of),
                name=v.vehicle_type,
            )
        )
    data = pyvrp.ProblemData(
        locations,
        clients,
        depots,
        types,
        [problem.dist] * len(speeds),
        [problem.travel[sp] for sp in speeds],
    )
    result = pyvrp.solve(
        data, stop=MaxRuntime(time_limit_s), seed=seed, collect_stats=False, display=False
    )
    used = [0] * len(groups)
    out = []
    for route in result.best.routes():
        t = route.vehicle_type()
        visits = [a for a in route.schedule() if a.is_client()]
        if visits:
            trips = _trip_numbers([a.trip for a in visits])
            out.append((groups[t][used[t]], [a.idx for a in visits], trips))
            used[t] += 1
    missing = problem.stops and len({i for _, s, _t in out for i in s}) < len(problem.stops)
    if missing:
        msg = f"pyvrp left stops unserved within {time_limit_s:g} s: give it more time or vehicles"
        raise ValueError(msg)
    return out


def _solve_ortools(
    problem: _Problem, time_limit_s: float, seed: int
) -> list[tuple[int, list[int], list[int]]]:
    """OR-Tools routing with capacity and time dimensions; same output as PyVRP's (one trip)."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    del seed  # OR-Tools local search is deterministic
    vehicles, stops, loc = problem.vehicles, problem.stops, problem.loc
    if any(v.max_trips > 1 for v in vehicles):
        msg = "several trips per vehicle (reloading at the depot) need the pyvrp solver"
        raise ValueError(msg)
    depot_nodes = list(
        dict.fromkeys([v.start_node for v in vehicles] + [v.end_node for v in vehicles])
    )
    n_dep = len(depot_nodes)
    where = np.array([loc[n] for n in depot_nodes] + [loc[s.node_id] for s in stops])
    demand = [0] * n_dep + [s.demand for s in stops]
    service = [0] * n_dep + [s.service_s for s in stops]
    manager = pywrapcp.RoutingIndexManager(
        len(where),
        len(vehicles),
        [depot_nodes.index(v.start_node) for v in vehicles],
        [depot_nodes.index(v.end_node) for v in vehicles],
    )
    routing = pywrapcp.RoutingModel(manager)
    dist = problem.dist[np.ix_(where, where)].tolist()

    def distance(i: int, j: int) -> int:
        return dist[manager.IndexToNode(i)][manager.IndexToNode(j)]

    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitCallback(distance))
    time_cb = {}
    for speed, secs in problem.travel.items():
        table = (secs[np.ix_(where, where)] + np.array(service)[:, None]).tolist()

        def travel(i: int, j: int, table=table) -> int:
            return table[manager.IndexToNode(i)][manager.IndexToNode(j)]

        time_cb[speed] = routing.RegisterTransitCallback(travel)

    def load(i: int) -> int:
        return demand[manager.IndexToNode(i)]

    routing.AddDimensionWithVehicleCapacity(
        routing.RegisterUnaryTransitCallback(load), 0, [v.capacity for v in vehicles], True, "load"
    )
    ends = [v.latest_s for v in vehicles] + [s.window[1] for s in stops if s.window]
    horizon = max(ends)
    routing.AddDimensionWithVehicleTransits(
        [time_cb[v.speed_kmh] for v in vehicles], horizon, horizon, False, "time"
    )
    time = routing.GetDimensionOrDie("time")
    for k, v in enumerate(vehicles):
        time.CumulVar(routing.Start(k)).SetRange(v.earliest_s, v.latest_s)
        time.CumulVar(routing.End(k)).SetRange(v.earliest_s, v.latest_s)
        time.SetSpanUpperBoundForVehicle(v.max_duration_s, k)
        routing.SetFixedCostOfVehicle(v.fixed_cost, k)
    for i, s in enumerate(stops):
        if s.window:
            time.CumulVar(manager.NodeToIndex(n_dep + i)).SetRange(s.window[0], s.window[1])
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(max(int(time_limit_s * 1000), 1))
    found = routing.SolveWithParameters(params)
    if found is None:
        msg = (
            f"ortools found no plan keeping every capacity, window and shift within "
            f"{time_limit_s:g} s: give it more time or vehicles"
        )
        raise ValueError(msg)
    out = []
    for k in range(len(vehicles)):
        seq, i = [], found.Value(routing.NextVar(routing.Start(k)))
        while not routing.IsEnd(i):
            seq.append(manager.IndexToNode(i) - n_dep)
            i = found.Value(routing.NextVar(i))
        if seq:
            out.append((k, seq, [1] * len(seq)))
    return out


def _plan(
    problem: _Problem,
    assignment: list[tuple[int, list[int], list[int]]],
    graph: RoadGraph,
    solver: str,
) -> RoutePlan:
    """Time each route and lay its legs on the road graph (through the depot between trips)."""
    cache: dict[tuple[str, str], tuple[list[str], list[str], float]] = {}
    routes: list[Route] = []
    cost = 0
    for k, seq, trips in sorted(assignment):
        v = problem.vehicles[k]
        stops = [problem.stops[i] for i in seq]
        points = [v.start_node, *(s.node_id for s in stops), v.end_node]
        # the leg into stop i passes the depot when stop i starts a new trip
        via = [False, *(b > a for a, b in pairwise(trips)), False]
        legs = []
        for (a, b), reload in zip(pairwise(points), via, strict=True):
            hops = [a, v.reload_node, b] if reload else [a, b]
            parts = [_leg(problem, v, graph, x, y, cache) for x, y in pairwise(hops)]
            legs.append(_join(parts))
            cost += sum(
                int(problem.dist[problem.loc[x], problem.loc[y]]) for x, y in pairwise(hops)
            )
        routes.append(schedule(v, stops, legs, trips))
        cost += v.fixed_cost
    return RoutePlan(tuple(routes), cost, solver, problem.stops, problem.vehicles)


def _join(parts: list[Leg]) -> Leg:
    """Consecutive legs as one (nodes, edges, metres and seconds added up)."""
    if len(parts) == 1:
        return parts[0]
    nodes, edges, coords = list(parts[0].nodes), list(parts[0].edges), list(parts[0].coords)
    for p in parts[1:]:
        nodes += p.nodes[1:]
        edges += p.edges
        coords += p.coords[1:]
    return Leg(
        tuple(nodes),
        tuple(edges),
        float(sum(p.distance_m for p in parts)),
        sum(p.travel_s for p in parts),
        tuple(coords),
    )


def _leg(problem: _Problem, v: Vehicle, graph: RoadGraph, a: str, b: str, cache: dict) -> Leg:
    """The shortest road path from ``a`` to ``b`` with its driving time for ``v``."""
    if (a, b) not in cache:
        cache[a, b] = shortest_path(graph, a, b)
    nodes, edges, metres = cache[a, b]
    idx = [graph.index[n] for n in nodes]
    coords = tuple((round(float(graph.lon[i]), 7), round(float(graph.lat[i]), 7)) for i in idx)
    secs = problem.travel_s(v, a, b) if math.isfinite(metres) else 0
    return Leg(tuple(nodes), tuple(edges), float(metres), secs, coords)
