"""Delivery runs for the web and the command line: plan, save, drive, mark, re-plan.

A plan is solved from the store's live layers (orders from the status table by a
rule, or an uploaded order list), saved with everything a driver page needs
(routes, stops, drops, leg geometry, GPX, manifest) and, apart, the plan as plain
JSON data for re-planning (never serialised objects). Drivers' marks are stop
events in the store, so every process and the command map see them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pandas as pd

from mapserver import routing
from mapserver.crs import wgs84_to_bd09, wgs84_to_gcj02
from mapserver.errors import NotFoundError, ValidationError
from mapserver.model import AREA_CLASSES
from mapserver.routing.gpx import manifest_rows, manifest_text, route_gpx
from mapserver.services.access import subtree
from mapserver.services.around import AREA_MARGIN_M, road_network_around, widened_bbox
from mapserver.services.mapview import or_none
from mapserver.status.tree import grid_ancestors, grid_children
from mapserver.store import Store

CHINA_TZ = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class DeliveryRequest:
    """What to plan: which run, which orders, which fleet, how long to search, and where
    (``grid``: only that grid's subtree, read with the roads around it).

    ``trips`` is how many loads each vehicle may carry in the run, reloading
    at the depot between them (1: one load each).
    """

    run: str = "morning"
    rule: str = "sealed_households"
    statuses: tuple[str, ...] = ()
    special_households: tuple[str, ...] = ()
    boxes_per_household: int = 1
    vans: int = 4
    tricycles: int = 3
    trips: int = 1
    depot_node: str | None = None
    time_limit_s: float = 5.0
    solver: str = "pyvrp"
    name: str | None = None
    grid: str | None = None  # the area: this grid's subtree (None: the whole district)
    area_classes: tuple[str, ...] = ("sealed",)  # the 三区 classes served whole
    balanced: bool = False  # the longest route as short as the fleet allows


REPLAN_S = 3.0  # solve time of a re-plan (what is left of a run, from where the vans are)


def _now_s() -> int:
    now = datetime.now(CHINA_TZ)
    return now.hour * 3600 + now.minute * 60 + now.second


class DeliveryService:
    """Delivery plans of one store."""

    def __init__(self, store: Store, *, max_stops: int | None = None) -> None:
        self.store = store
        self.max_stops = max_stops  # most stops one run may solve (settings.max_stops)

    def layers_for(self, grid_id: str | None) -> dict[str, pd.DataFrame]:
        """What a run needs from the store: for ``grid_id``, its subtree's grids (and those
        above it, whose area class it inherits), buildings, households and status, and
        the roads and checkpoints within :data:`AREA_MARGIN_M` of it; the whole district
        when None."""
        if grid_id is None:
            return self._whole_layers()
        tree = self.store.read_features("grids", columns=("grid_id", "parent_id"))
        if grid_id not in set(tree["grid_id"]):
            msg = f"grid '{grid_id}' not found"
            raise NotFoundError(msg)
        below = subtree(grid_id, grid_children(tree))
        above = grid_ancestors(tree).get(grid_id, [])
        grids = self.store.read_grids(ids=sorted(below | set(above)))
        area = grids[grids["grid_id"].isin(below)].geometry.union_all()
        buildings = self.store.read_buildings(grid_ids=sorted(below))
        households = self.store.read_households(building_ids=buildings["building_id"].tolist())
        status = pd.concat(
            [
                self.store.read_status(entity_kind="household", ids=households["household_id"]),
                self.store.read_status(entity_kind="building", ids=buildings["building_id"]),
            ],
            ignore_index=True,
        )
        nodes, edges = road_network_around(self.store, area.bounds, AREA_MARGIN_M)
        bbox = widened_bbox(area.bounds, AREA_MARGIN_M)
        return {
            "grids": grids,
            "buildings": buildings,
            "households": households,
            "status": status,
            "road_nodes": nodes,
            "road_edges": edges,
            "checkpoints": self.store.read_features("checkpoints", bbox=bbox),
        }

    def _whole_layers(self) -> dict[str, pd.DataFrame]:
        return {
            "grids": self.store.read_grids(),
            "buildings": self.store.read_buildings(),
            "households": self.store.read_households(),
            "status": self.store.read_status(),
            "road_nodes": self.store.read_layer("road_nodes"),
            "road_edges": self.store.read_layer("road_edges"),
            "checkpoints": self.store.read_layer("checkpoints"),
        }

    def default_depot(self, nodes: pd.DataFrame) -> str:
        """The depot node when none is given: the first junction (the demo's warehouse)."""
        junctions = nodes[nodes["kind"] == "junction"] if "kind" in nodes else nodes
        if not len(junctions):
            msg = "the road network has no nodes: import roads first"
            raise ValueError(msg)
        return str(junctions["node_id"].iloc[0])

    def _orders(self, request: DeliveryRequest, layers: dict) -> list:
        """Orders by the request's rule; with ``statuses`` beside the sealed rule, also every
        household in those statuses elsewhere (e.g. red: home quarantine), once per building."""
        common = {
            "boxes_per_household": request.boxes_per_household,
            "special_households": list(request.special_households) or None,
        }
        frames = (layers["grids"], layers["buildings"], layers["households"], layers["status"])
        unknown = sorted(set(request.area_classes) - set(AREA_CLASSES))
        if unknown:
            raise ValidationError.for_request(
                "area_classes", ValueError(f"{', '.join(unknown)}: use {', '.join(AREA_CLASSES)}")
            )
        orders = routing.orders_from_status(
            *frames,
            rule=request.rule,
            statuses=request.statuses,
            area_classes=request.area_classes,
            **common,
        )
        if request.rule == "sealed_households" and request.statuses:
            have = {o.order_id for o in orders}
            extra = routing.orders_from_status(
                *frames,
                rule="status",
                statuses=request.statuses,
                boxes_per_household=request.boxes_per_household,
            )
            orders += [o for o in extra if o.order_id not in have]
        return orders

    def plan(
        self,
        request: DeliveryRequest,
        *,
        user: str,
        orders_table: pd.DataFrame | None = None,
        orders_file: str = "orders.csv",
        progress: Callable[[float], None] = lambda _f: None,
    ) -> str:
        """Solve a run and save it; returns the plan id.

        ``orders_table`` (columns building_id or compound_id, boxes, kind) replaces the
        rule: an uploaded order list, checked row by row (``orders_file`` names it).
        An order larger than any vehicle is carried in several loads (stops "k of n").
        Raises ValidationError naming the order or stop when the inputs cannot be served
        (a stop no vehicle can reach, windows that cannot be met, more boxes than the
        fleet holds in its trips).
        """
        layers = self.layers_for(request.grid)
        uploaded = None
        if orders_table is not None:
            uploaded = routing.orders_from_table(
                orders_table, file=orders_file, buildings=layers["buildings"]
            )
        progress(0.05)
        try:
            graph = routing.access_graph(
                layers["road_nodes"], layers["road_edges"], layers["grids"], layers["checkpoints"]
            )
            orders = uploaded if uploaded is not None else self._orders(request, layers)
            if not orders:
                msg = f"rule '{request.rule}' gives no orders today"
                raise ValueError(msg)
            depot_node = request.depot_node or self.default_depot(layers["road_nodes"])
            if depot_node not in set(layers["road_nodes"]["node_id"].astype(str)):
                msg = (
                    f"depot node '{depot_node}' is not on the roads of the area "
                    f"(within {AREA_MARGIN_M:,.0f} m of it)"
                )
                raise ValueError(msg)
            fleet = routing.default_fleet(
                routing.Depot("depot", depot_node, "保供仓库"),
                run=request.run,
                vans=request.vans,
                tricycles=request.tricycles,
                max_trips=request.trips,
            )
            largest = max(v.capacity for v in fleet)
            stops = routing.build_stops(
                orders,
                layers["buildings"],
                layers["grids"],
                graph=graph,
                window=routing.run_window(request.run),
                max_boxes=largest,
            )
            if self.max_stops is not None and len(stops) > self.max_stops:
                msg = (
                    f"{len(stops):,} stops: at most {self.max_stops:,} per run "
                    "(MAPSERVER_MAX_STOPS); choose fewer statuses or plan one area at a time"
                )
                raise ValueError(msg)
            progress(0.2)
            solve = routing.solve_balanced if request.balanced else routing.solve
            plan = solve(
                stops, fleet, graph, time_limit_s=request.time_limit_s, solver=request.solver
            )
        except ValueError as err:
            raise ValidationError.for_request("orders", err) from err
        progress(0.9)
        stamp = datetime.now(CHINA_TZ).strftime("%m-%d %H:%M")
        name = request.name or f"{'上午' if request.run == 'morning' else '下午'}保供 {stamp}"
        return self._save(
            plan, layers["road_edges"], name=name, run=request.run, user=user, grid=request.grid
        )

    def _save(
        self,
        plan,
        edges: pd.DataFrame,
        *,
        name: str,
        run: str,
        user: str,
        grid: str | None = None,
    ) -> str:
        data = {
            "run": run,
            "grid": grid,
            "plan": plan.to_dict(),
            "geojson": plan.to_geojson(edges=edges),
            "gpx": {r.route_id: route_gpx(r, edges=edges) for r in plan.routes},
            "manifest": {r.route_id: manifest_rows(r) for r in plan.routes},
            "manifest_text": {r.route_id: manifest_text(r) for r in plan.routes},
        }
        return self.store.save_route_plan(
            kind="delivery",
            name=name,
            data=data,
            problem=routing.plan_to_data(plan),
            user=user,
        )

    # -- reading ------------------------------------------------------------------
    def get(self, plan_id: str) -> dict:
        """A saved plan with each stop's latest state."""
        saved = self.store.get_route_plan(plan_id)
        if saved["kind"] != "delivery":
            msg = f"plan '{plan_id}' is not a delivery plan"
            raise NotFoundError(msg)
        states = self.store.stop_states(plan_id)
        plan = saved["data"]["plan"]
        for route in plan["routes"]:
            for stop in route["stops"]:
                event = states.get((route["route_id"], stop["stop_id"]))
                stop["state"] = event["state"] if event else "pending"
                stop["reason"] = event["reason"] if event else None
        return {
            "plan_id": plan_id,
            "name": saved["name"],
            "created_at": saved["created_at"],
            "run": saved["data"]["run"],
            "plan": plan,
            "geojson": saved["data"]["geojson"],
        }

    def route(self, plan_id: str, route_id: str) -> dict:
        """One route of a plan: stops in order with state, and its legs and stops as GeoJSON."""
        whole = self.get(plan_id)
        for route in whole["plan"]["routes"]:
            if route["route_id"] == route_id:
                features = [
                    f
                    for f in whole["geojson"]["features"]
                    if f["properties"].get("route_id") == route_id
                ]
                self._driving_aids(route, features)
                return {
                    "plan_id": plan_id,
                    "name": whole["name"],
                    "route": route,
                    "geojson": {"type": "FeatureCollection", "features": features},
                }
        msg = f"route '{route_id}' not in plan '{plan_id}'"
        raise NotFoundError(msg)

    def _driving_aids(self, route: dict, features: list[dict]) -> None:
        """Give each stop what a driver's phone needs: where it is for Gaode (GCJ-02) and
        Baidu (BD-09) navigation, the address of its first building, and whom to call (the
        person in charge of the first building's grid)."""
        points = {
            f["properties"]["stop_id"]: f["geometry"]["coordinates"]
            for f in features
            if f["properties"].get("kind") == "stop"
        }
        first = {
            s["stop_id"]: s["drops"][0]["building_id"] for s in route["stops"] if s.get("drops")
        }
        ids = sorted({b for b in first.values() if b})
        buildings = self.store.read_buildings(ids=ids).set_index("building_id") if ids else None
        grids = None
        if buildings is not None and len(buildings):
            grid_ids = sorted({str(g) for g in buildings["grid_id"].dropna()})
            grids = self.store.read_grids(ids=grid_ids).set_index("grid_id")
        for stop in route["stops"]:
            point = points.get(stop["stop_id"])
            if point is not None:
                lon, lat = point
                glon, glat = wgs84_to_gcj02(lon, lat)
                blon, blat = wgs84_to_bd09(lon, lat)
                stop["nav"] = {
                    "wgs84": [lon, lat],
                    "gcj02": [round(float(glon), 6), round(float(glat), 6)],
                    "bd09": [round(float(blon), 6), round(float(blat), 6)],
                }
            building = first.get(stop["stop_id"])
            if buildings is None or building not in buildings.index:
                continue
            row = buildings.loc[building]
            stop["address"] = or_none(row.get("address"))
            grid = row.get("grid_id")
            if grids is not None and grid in grids.index:
                stop["contact"] = or_none(grids.at[grid, "person"])
                stop["phone"] = or_none(grids.at[grid, "phone"])

    def gpx(self, plan_id: str, route_id: str) -> str:
        """The route's GPX file text."""
        data = self.store.get_route_plan(plan_id)["data"]
        if route_id not in data["gpx"]:
            msg = f"route '{route_id}' not in plan '{plan_id}'"
            raise NotFoundError(msg)
        return data["gpx"][route_id]

    def manifest(self, plan_id: str, route_id: str) -> list[dict]:
        """The route's manifest rows (stop, building, boxes, kind) for printing."""
        data = self.store.get_route_plan(plan_id)["data"]
        if route_id not in data["manifest"]:
            msg = f"route '{route_id}' not in plan '{plan_id}'"
            raise NotFoundError(msg)
        return data["manifest"][route_id]

    # -- driving ------------------------------------------------------------------
    def mark(
        self,
        plan_id: str,
        route_id: str,
        stop_id: str,
        *,
        state: str,
        reason: str | None,
        user: str,
    ) -> int:
        """Record a stop delivered or not delivered (with a reason); returns the event seq."""
        route = self.route(plan_id, route_id)["route"]
        if stop_id not in {s["stop_id"] for s in route["stops"]}:
            msg = f"stop '{stop_id}' is not on route '{route_id}'"
            raise NotFoundError(msg)
        try:
            return self.store.record_stop_event(
                plan_id, route_id, stop_id, state=state, reason=reason, user=user
            )
        except ValueError as err:
            raise ValidationError.for_request("state", err) from err

    def progress(self, plan_id: str | None = None) -> dict:
        """Stops of the newest (or given) plan as GeoJSON points with their state, and
        counts per state: the command map's delivery layer."""
        if plan_id is None:
            plans = self.store.list_route_plans(kind="delivery")
            if not plans:
                return {"type": "FeatureCollection", "features": [], "counts": {}, "plan_id": None}
            plan_id = plans[0]["plan_id"]
        whole = self.get(plan_id)
        states = {
            (r["route_id"], s["stop_id"]): s for r in whole["plan"]["routes"] for s in r["stops"]
        }
        features = []
        counts: dict[str, int] = {}
        for f in whole["geojson"]["features"]:
            props = f["properties"]
            if props.get("kind") != "stop":
                continue
            stop = states.get((props.get("route_id"), props.get("stop_id")))
            state = stop["state"] if stop else "pending"
            counts[state] = counts.get(state, 0) + 1
            features.append(
                {
                    "type": "Feature",
                    "geometry": f["geometry"],
                    "properties": {**props, "state": state, "reason": stop and stop["reason"]},
                }
            )
        return {
            "type": "FeatureCollection",
            "features": features,
            "counts": counts,
            "plan_id": plan_id,
            "name": whole["name"],
        }

    def replan(
        self, plan_id: str, *, user: str, time_limit_s: float = REPLAN_S, now_s: int | None = None
    ) -> str:
        """Plan what is left from each vehicle's position (its last delivered stop); new id."""
        saved = self.store.get_route_plan(plan_id)
        problem = self.store.get_route_problem(plan_id)
        if problem is None:
            msg = (
                f"plan '{plan_id}' was saved without re-planning data (by an earlier "
                "version of the server): plan the run again instead"
            )
            raise NotFoundError(msg)
        try:
            plan = routing.plan_from_data(problem)
        except ValueError as err:
            raise ValidationError.for_request("replan", err) from err
        states = self.store.stop_states(plan_id)
        delivered = {stop for (_r, stop), e in states.items() if e["state"] == "delivered"}
        positions = {}
        for route in saved["data"]["plan"]["routes"]:
            done = [s for s in route["stops"] if s["stop_id"] in delivered]
            if done:
                positions[route["route_id"]] = done[-1]["node_id"]
        layers = self.layers_for(saved["data"].get("grid"))
        graph = routing.access_graph(
            layers["road_nodes"], layers["road_edges"], layers["grids"], layers["checkpoints"]
        )
        start = (
            saved["data"]["plan"]["routes"][0]["start_s"] if saved["data"]["plan"]["routes"] else 0
        )
        try:
            new = routing.replan(
                plan,
                graph,
                delivered=delivered,
                positions=positions,
                now_s=max(now_s if now_s is not None else _now_s(), start),
                time_limit_s=time_limit_s,
            )
        except ValueError as err:
            raise ValidationError.for_request("replan", err) from err
        return self._save(
            new,
            layers["road_edges"],
            name=f"{saved['name']} · 重新规划",
            run=saved["data"]["run"],
            user=user,
            grid=saved["data"].get("grid"),
        )
