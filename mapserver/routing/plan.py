"""Route plans: vehicles, ordered visits with ETAs and loads, legs on the road graph."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import shapely

from mapserver.routing.stops import Stop


def clock(seconds: float) -> str:
    """Seconds since midnight as ``HH:MM`` (rounded down to the minute)."""
    m = int(seconds) // 60
    return f"{m // 60:02d}:{m % 60:02d}"


@dataclass(frozen=True)
class Vehicle:
    """One vehicle on one run: where it starts and ends, what it holds, when it may drive.

    ``capacity`` in boxes, ``speed_kmh`` km/h; ``earliest_s``/``latest_s``
    bound its departure and return (seconds since midnight); a route lasts at
    most ``max_duration_s`` seconds; ``fixed_cost`` in metre-equivalents. It
    carries at most ``max_trips`` loads, reloading at ``depot_node`` (its
    start node when blank) between them.
    """

    route_id: str
    vehicle_type: str
    capacity: int
    speed_kmh: float
    start_node: str
    end_node: str
    earliest_s: int
    latest_s: int
    max_duration_s: int
    fixed_cost: int = 0
    max_trips: int = 1
    depot_node: str = ""

    @property
    def reload_node(self) -> str:
        """Where the vehicle reloads between trips: its depot, else its start node."""
        return self.depot_node or self.start_node


@dataclass(frozen=True)
class Leg:
    """The road path between two route points: node ids, edge ids, metres, seconds.

    ``coords`` are the (lon, lat) of the nodes, EPSG:4326.
    """

    nodes: tuple[str, ...]
    edges: tuple[str, ...]
    distance_m: float
    travel_s: int
    coords: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Visit:
    """A stop on a route: arrival (ETA), start and end of service, boxes on board on arrival.

    ``trip`` counts the vehicle's loads from 1; the leg to the first stop of a
    later trip runs through the depot, where the vehicle reloads.
    """

    stop: Stop
    arrival_s: int
    start_s: int
    depart_s: int
    load: int
    leg: Leg
    trip: int = 1

    @property
    def eta_s(self) -> int:
        """Estimated arrival, seconds since midnight."""
        return self.arrival_s


@dataclass(frozen=True)
class Route:
    """One vehicle's route: depart, visit the stops in order, return to its end node."""

    vehicle: Vehicle
    visits: tuple[Visit, ...]
    start_s: int
    end_s: int
    return_leg: Leg

    @property
    def route_id(self) -> str:
        """The vehicle's id, e.g. ``"van-1"``."""
        return self.vehicle.route_id

    @property
    def vehicle_type(self) -> str:
        """The vehicle type name."""
        return self.vehicle.vehicle_type

    @property
    def legs(self) -> tuple[Leg, ...]:
        """Every leg in order, the way back included."""
        return (*(v.leg for v in self.visits), self.return_leg)

    @property
    def distance_m(self) -> float:
        """Road length driven, metres."""
        return float(sum(leg.distance_m for leg in self.legs))

    @property
    def duration_s(self) -> int:
        """From departure to return, seconds (waiting included)."""
        return self.end_s - self.start_s

    @property
    def load(self) -> int:
        """Boxes loaded at the start (the first trip's load)."""
        loads = self.trip_loads
        return loads[0] if loads else 0

    @property
    def trip_loads(self) -> tuple[int, ...]:
        """Boxes loaded for each trip, in order."""
        out: dict[int, int] = {}
        for v in self.visits:
            out[v.trip] = out.get(v.trip, 0) + v.stop.demand
        return tuple(out[t] for t in sorted(out))

    @property
    def boxes(self) -> int:
        """Boxes delivered over all trips."""
        return sum(v.stop.demand for v in self.visits)

    @property
    def path_nodes(self) -> tuple[str, ...]:
        """Consecutive road nodes from start to end; each step is an arc of the graph."""
        out: list[str] = [self.vehicle.start_node]
        for leg in self.legs:
            out.extend(leg.nodes[1:])
        return tuple(out)

    def violations(self) -> list[str]:
        """Broken capacity, window, shift or duration limits, in words (empty when none)."""
        v, out = self.vehicle, []
        loads = self.trip_loads
        for t, load in enumerate(loads, start=1):
            if load > v.capacity:
                trip = f" trip {t}" if len(loads) > 1 else ""
                out.append(f"route {v.route_id}{trip}: {load} boxes exceed capacity {v.capacity}")
        if len(loads) > v.max_trips:
            out.append(f"route {v.route_id}: {len(loads)} trips, over {v.max_trips}")
        for visit in self.visits:
            w = visit.stop.window
            if w is not None and not w[0] <= visit.start_s <= w[1]:
                out.append(
                    f"route {v.route_id}: stop '{visit.stop.stop_id}' served at "
                    f"{clock(visit.start_s)}, outside {clock(w[0])}-{clock(w[1])}"
                )
        if self.start_s < v.earliest_s or self.end_s > v.latest_s:
            out.append(
                f"route {v.route_id}: out {clock(self.start_s)}-{clock(self.end_s)}, "
                f"outside the shift {clock(v.earliest_s)}-{clock(v.latest_s)}"
            )
        if self.duration_s > v.max_duration_s:
            out.append(f"route {v.route_id}: lasts {self.duration_s} s, over {v.max_duration_s} s")
        return out

    def to_dict(self) -> dict:
        """Plain JSON-ready data; times in seconds since midnight and as ``HH:MM``."""
        return {
            "route_id": self.route_id,
            "vehicle_type": self.vehicle_type,
            "capacity": self.vehicle.capacity,
            "load": self.load,
            "boxes": self.boxes,
            "trips": len(self.trip_loads),
            "trip_loads": list(self.trip_loads),
            "start_node": self.vehicle.start_node,
            "end_node": self.vehicle.end_node,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "start": clock(self.start_s),
            "end": clock(self.end_s),
            "distance_m": round(self.distance_m, 1),
            "duration_s": self.duration_s,
            "stops": [
                {
                    "seq": k,
                    "stop_id": v.stop.stop_id,
                    "name": v.stop.name,
                    "node_id": v.stop.node_id,
                    "sealed": v.stop.sealed,
                    "eta_s": v.arrival_s,
                    "eta": clock(v.arrival_s),
                    "start_s": v.start_s,
                    "depart_s": v.depart_s,
                    "load": v.load,
                    "trip": v.trip,
                    "demand": v.stop.demand,
                    "part": v.stop.part,
                    "parts": v.stop.parts,
                    "leg_m": round(v.leg.distance_m, 1),
                    "drops": [d._asdict() for d in v.stop.drops],
                }
                for k, v in enumerate(self.visits, start=1)
            ],
        }


@dataclass(frozen=True)
class RoutePlan:
    """The result of a solve: routes, the stops and vehicles it was asked to serve.

    ``cost`` is the solver's objective: integer metres driven plus the fixed
    cost of the vehicles used.
    """

    routes: tuple[Route, ...]
    cost: int
    solver: str
    stops: tuple[Stop, ...]
    vehicles: tuple[Vehicle, ...]

    @property
    def distance_m(self) -> float:
        """Total road length driven, metres."""
        return float(sum(r.distance_m for r in self.routes))

    @property
    def duration_s(self) -> int:
        """Total time out over all routes, seconds."""
        return sum(r.duration_s for r in self.routes)

    def route(self, route_id: str) -> Route | None:
        """The route of one vehicle, or ``None`` when it stays at the depot."""
        return next((r for r in self.routes if r.route_id == route_id), None)

    def unserved(self) -> list[str]:
        """Stop ids no route visits."""
        seen = {v.stop.stop_id for r in self.routes for v in r.visits}
        return [s.stop_id for s in self.stops if s.stop_id not in seen]

    def violations(self) -> list[str]:
        """Every broken limit and every stop served twice or not at all, in words."""
        out = [m for r in self.routes for m in r.violations()]
        ids = [v.stop.stop_id for r in self.routes for v in r.visits]
        out += [f"stop '{s}' is visited {ids.count(s)} times" for s in set(ids) if ids.count(s) > 1]
        out += [f"stop '{s}' is not served" for s in self.unserved()]
        return out

    def is_feasible(self) -> bool:
        """Every stop served once within capacities, windows, shifts and durations."""
        return not self.violations()

    def to_dict(self) -> dict:
        """Plain JSON-ready data of the plan and its routes."""
        return {
            "solver": self.solver,
            "cost": self.cost,
            "distance_m": round(self.distance_m, 1),
            "duration_s": self.duration_s,
            "feasible": self.is_feasible(),
            "unserved": self.unserved(),
            "routes": [r.to_dict() for r in self.routes],
        }

    def to_geojson(self, *, edges: gpd.GeoDataFrame | None = None) -> dict:
        """A FeatureCollection (EPSG:4326): one LineString per leg, one Point per stop.

        Parameters
        ----------
        edges
            Road edges (model columns, EPSG:4326): when given, legs follow the
            edge geometries; otherwise they join the road nodes.
        """
        geoms = edge_geometries(edges)
        features = []
        for r in self.routes:
            for k, leg in enumerate(r.legs, start=1):
                to = r.visits[k - 1].stop.stop_id if k <= len(r.visits) else r.vehicle.end_node
                features.append(
                    {
                        "type": "Feature",
                        "geometry": {"type": "LineString", "coordinates": leg_line(leg, geoms)},
                        "properties": {
                            "kind": "leg",
                            "route_id": r.route_id,
                            "seq": k,
                            "to": to,
                            "distance_m": round(leg.distance_m, 1),
                        },
                    }
                )
            for k, v in enumerate(r.visits, start=1):
                lon, lat = v.leg.coords[-1]
                features.append(
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [lon, lat]},
                        "properties": {
                            "kind": "stop",
                            "route_id": r.route_id,
                            "seq": k,
                            "stop_id": v.stop.stop_id,
                            "name": v.stop.name,
                            "eta": clock(v.arrival_s),
                            "boxes": v.stop.demand,
                            "sealed": v.stop.sealed,
                        },
                    }
                )
        return {"type": "FeatureCollection", "features": features}


def edge_geometries(edges: gpd.GeoDataFrame | None) -> dict | None:
    """Edge id -> (u node id, LineString in EPSG:4326), or ``None`` without edges."""
    if edges is None:
        return None
    e = edges.to_crs("EPSG:4326") if edges.crs is not None else edges
    return dict(
        zip(
            e["edge_id"].astype(str),
            zip(e["u"].astype(str), e.geometry, strict=True),
            strict=True,
        )
    )


def leg_line(leg: Leg, geoms: dict | None) -> list[list[float]]:
    """The (lon, lat) coordinates of a leg, along edge geometries when known."""
    if len(leg.nodes) == 1:
        lon, lat = leg.coords[0]
        return [[lon, lat], [lon, lat]]
    return path_line(leg.nodes, leg.edges, leg.coords, geoms)


def path_line(
    nodes: Sequence[str],
    edge_ids: Sequence[str],
    coords: Sequence[tuple[float, float]],
    geoms: dict | None,
) -> list[list[float]]:
    """The (lon, lat) line of a road path, following each edge's geometry in travel order.

    Parameters
    ----------
    nodes
        Node ids from start to end (one more than ``edge_ids``).
    edge_ids
        The edge of each step.
    coords
        (lon, lat) of each node, EPSG:4326.
    geoms
        From :func:`edge_geometries`; ``None`` joins the nodes by straight lines.

    Returns
    -------
    list of [lon, lat]
        Every vertex of every edge once, each edge run from the node it is
        entered at (the end of its line nearer that node; its ``u`` node when
        both ends are as near), EPSG:4326.
    """
    if geoms is None or not len(edge_ids):
        return [[float(lon), float(lat)] for lon, lat in coords]
    out: list[list[float]] = []
    for a, eid, (lon, lat), end in zip(nodes[:-1], edge_ids, coords[:-1], coords[1:], strict=True):
        got = geoms.get(str(eid))
        if got is None or got[1] is None or got[1].is_empty:
            part = [[float(lon), float(lat)], [float(end[0]), float(end[1])]]
        else:
            xy = shapely.get_coordinates(got[1])
            d_first = (xy[0, 0] - lon) ** 2 + (xy[0, 1] - lat) ** 2
            d_last = (xy[-1, 0] - lon) ** 2 + (xy[-1, 1] - lat) ** 2
            forward = d_first < d_last or (d_first == d_last and got[0] == str(a))
            part = (xy if forward else xy[::-1]).tolist()
        out.extend(part if not out else part[1:])
    return out


def schedule(
    vehicle: Vehicle,
    stops: Sequence[Stop],
    legs: Sequence[Leg],
    trips: Sequence[int] | None = None,
) -> Route:
    """Time a route: leave as late as saves waiting without missing a window.

    Parameters
    ----------
    vehicle
        The vehicle driving it.
    stops
        Stops in visiting order.
    legs
        ``len(stops) + 1`` legs: to each stop, then back to the end node.
    trips
        The trip (1, 2, ...) of each stop, non-decreasing; ``None``: all 1.
        The leg to a trip's first stop passes the depot (reloading takes no
        extra time).

    Returns
    -------
    Route
        Arrival, service start and departure at each stop (seconds since
        midnight), boxes on board on arrival (of the current trip).
    """
    first = _forward(vehicle.earliest_s, stops, legs)
    waits = [start - arrive for arrive, start, _ in first]
    total_wait = sum(waits)
    delay = total_wait
    seen = 0
    for (_, start, _), wait, stop in zip(first, waits, stops, strict=True):
        seen += wait
        if stop.window is not None:
            delay = min(delay, seen + stop.window[1] - start)
    times = _forward(vehicle.earliest_s + max(delay, 0), stops, legs)
    trips = list(trips) if trips is not None else [1] * len(stops)
    on_board: dict[int, int] = {}
    for stop, trip in zip(stops, trips, strict=True):
        on_board[trip] = on_board.get(trip, 0) + stop.demand
    visits = []
    for (arrive, start, depart), stop, leg, trip in zip(times, stops, legs, trips, strict=False):
        visits.append(Visit(stop, arrive, start, depart, on_board[trip], leg, trip))
        on_board[trip] -= stop.demand
    last = times[-1][2] if times else vehicle.earliest_s + max(delay, 0)
    return Route(
        vehicle=vehicle,
        visits=tuple(visits),
        start_s=vehicle.earliest_s + max(delay, 0),
        end_s=last + legs[-1].travel_s,
        return_leg=legs[-1],
    )


def _forward(t0: int, stops: Sequence[Stop], legs: Sequence[Leg]) -> list[tuple[int, int, int]]:
    """(arrival, service start, departure) at each stop when leaving at ``t0``."""
    t, out = t0, []
    for stop, leg in zip(stops, legs, strict=False):
        arrive = t + leg.travel_s
        start = arrive if stop.window is None else max(arrive, stop.window[0])
        t = start + stop.service_s
        out.append((arrive, start, t))
    return out
