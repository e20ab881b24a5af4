"""A route plan as plain JSON data and back: what re-planning needs, plain data only.

The data holds the problem (stops with demands, windows and drops; vehicles with
capacities and shifts; the solver) and the routes as solved (visits, times, legs).
The distance matrix is not kept: re-planning rebuilds it from the road graph as it
is then (closures may have changed).
"""

from __future__ import annotations

from collections.abc import Mapping

from mapserver.routing.plan import Leg, Route, RoutePlan, Vehicle, Visit
from mapserver.routing.stops import Drop, Stop

PLAN_DATA_FORMAT = 1


def _vehicle_data(v: Vehicle) -> dict:
    return {
        "route_id": str(v.route_id),
        "vehicle_type": str(v.vehicle_type),
        "capacity": int(v.capacity),
        "speed_kmh": float(v.speed_kmh),
        "start_node": str(v.start_node),
        "end_node": str(v.end_node),
        "earliest_s": int(v.earliest_s),
        "latest_s": int(v.latest_s),
        "max_duration_s": int(v.max_duration_s),
        "fixed_cost": int(v.fixed_cost),
        "max_trips": int(v.max_trips),
        "depot_node": str(v.depot_node),
    }


def _stop_data(s: Stop) -> dict:
    return {
        "stop_id": str(s.stop_id),
        "node_id": str(s.node_id),
        "demand": int(s.demand),
        "drops": [
            {
                "building_id": None if d.building_id is None else str(d.building_id),
                "boxes": int(d.boxes),
                "kind": str(d.kind),
                "order_id": str(d.order_id),
                "label": str(d.label),
                "part": int(d.part),
                "parts": int(d.parts),
            }
            for d in s.drops
        ],
        "sealed": bool(s.sealed),
        "service_s": int(s.service_s),
        "window": None if s.window is None else [int(s.window[0]), int(s.window[1])],
        "name": str(s.name),
        "part": int(s.part),
        "parts": int(s.parts),
    }


def _leg_data(leg: Leg) -> dict:
    return {
        "nodes": [str(n) for n in leg.nodes],
        "edges": [str(e) for e in leg.edges],
        "distance_m": float(leg.distance_m),
        "travel_s": int(leg.travel_s),
        "coords": [[float(x), float(y)] for x, y in leg.coords],
    }


def plan_to_data(plan: RoutePlan) -> dict:
    """The plan as JSON-ready data (see :func:`plan_from_data` for the way back).

    Stops are listed once; a visit names its stop by id (or carries it whole
    when it differs from the plan's stop of that id).
    """
    stops = {s.stop_id: s for s in plan.stops}
    routes = []
    for r in plan.routes:
        visits = []
        for v in r.visits:
            same = stops.get(v.stop.stop_id) == v.stop
            visits.append(
                {
                    "stop": str(v.stop.stop_id) if same else _stop_data(v.stop),
                    "arrival_s": int(v.arrival_s),
                    "start_s": int(v.start_s),
                    "depart_s": int(v.depart_s),
                    "load": int(v.load),
                    "leg": _leg_data(v.leg),
                    "trip": int(v.trip),
                }
            )
        routes.append(
            {
                "vehicle": _vehicle_data(r.vehicle),
                "visits": visits,
                "start_s": int(r.start_s),
                "end_s": int(r.end_s),
                "return_leg": _leg_data(r.return_leg),
            }
        )
    return {
        "format": PLAN_DATA_FORMAT,
        "solver": str(plan.solver),
        "cost": int(plan.cost),
        "stops": [_stop_data(s) for s in plan.stops],
        "vehicles": [_vehicle_data(v) for v in plan.vehicles],
        "routes": routes,
    }


def _stop(d: Mapping) -> Stop:
    window = d["window"]
    return Stop(
        stop_id=d["stop_id"],
        node_id=d["node_id"],
        demand=int(d["demand"]),
        drops=tuple(Drop(**drop) for drop in d["drops"]),
        sealed=bool(d["sealed"]),
        service_s=int(d["service_s"]),
        window=None if window is None else (int(window[0]), int(window[1])),
        name=d["name"],
        part=int(d["part"]),
        parts=int(d["parts"]),
    )


def _leg(d: Mapping) -> Leg:
    return Leg(
        nodes=tuple(d["nodes"]),
        edges=tuple(d["edges"]),
        distance_m=float(d["distance_m"]),
        travel_s=int(d["travel_s"]),
        coords=tuple((float(x), float(y)) for x, y in d["coords"]),
    )


def plan_from_data(data: Mapping) -> RoutePlan:
    """Rebuild a plan from :func:`plan_to_data`'s output (after a JSON round trip).

    Raises
    ------
    ValueError
        When the data is not plan data of a known format, or a visit names a
        stop the plan does not list.
    """
    if not isinstance(data, Mapping) or data.get("format") != PLAN_DATA_FORMAT:
        got = data.get("format") if isinstance(data, Mapping) else type(data).__name__
        msg = f"route plan data has format {got!r}; this server reads format {PLAN_DATA_FORMAT}"
        raise ValueError(msg)
    stops = tuple(_stop(s) for s in data["stops"])
    by_id = {s.stop_id: s for s in stops}
    routes = []
    for r in data["routes"]:
        visits = []
        for v in r["visits"]:
            ref = v["stop"]
            if isinstance(ref, str):
                if ref not in by_id:
                    msg = f"route plan data: a visit names stop {ref!r}, which the plan lacks"
                    raise ValueError(msg)
                stop = by_id[ref]
            else:
                stop = _stop(ref)
            visits.append(
                Visit(
                    stop=stop,
                    arrival_s=int(v["arrival_s"]),
                    start_s=int(v["start_s"]),
                    depart_s=int(v["depart_s"]),
                    load=int(v["load"]),
                    leg=_leg(v["leg"]),
                    trip=int(v["trip"]),
                )
            )
        routes.append(
            Route(
                vehicle=Vehicle(**r["vehicle"]),
                visits=tuple(visits),
                start_s=int(r["start_s"]),
                end_s=int(r["end_s"]),
                return_leg=_leg(r["return_leg"]),
            )
        )
    return RoutePlan(
        routes=tuple(routes),
        cost=int(data["cost"]),
        solver=str(data["solver"]),
        stops=stops,
        vehicles=tuple(Vehicle(**v) for v in data["vehicles"]),
    )
