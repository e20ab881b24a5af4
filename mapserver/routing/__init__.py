"""Delivery routing (orders, stops, fleet, vehicle routing, plans, GPX) and patrol routes."""

from mapserver.routing.balance import solve_balanced
from mapserver.routing.fleet import RUNS, Depot, VehicleType, default_fleet, for_run, run_window
from mapserver.routing.gpx import manifest_rows, manifest_text, route_gpx
from mapserver.routing.orders import Order, orders_from_status, orders_from_table
from mapserver.routing.plan import Leg, Route, RoutePlan, Vehicle, Visit
from mapserver.routing.plandata import plan_from_data, plan_to_data
from mapserver.routing.stops import (
    Drop,
    Stop,
    access_graph,
    build_stops,
    sealed_areas,
    sealed_entrances,
)
from mapserver.routing.vrp import SOLVERS, replan, solve, vehicles_of

__all__ = [
    "RUNS",
    "SOLVERS",
    "Depot",
    "Drop",
    "Leg",
    "Order",
    "Route",
    "RoutePlan",
    "Stop",
    "Vehicle",
    "VehicleType",
    "Visit",
    "access_graph",
    "build_stops",
    "default_fleet",
    "for_run",
    "manifest_rows",
    "manifest_text",
    "orders_from_status",
    "orders_from_table",
    "plan_from_data",
    "plan_to_data",
    "replan",
    "route_gpx",
    "run_window",
    "sealed_areas",
    "sealed_entrances",
    "solve",
    "solve_balanced",
    "vehicles_of",
]
