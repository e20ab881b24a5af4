"""What the driver takes: a GPX file of the route and a printable manifest of the drops."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import NamedTuple
from xml.etree import ElementTree as ET

import geopandas as gpd

from mapserver.routing.plan import Route, clock, edge_geometries, leg_line

GPX_NS = "http://www.topografix.com/GPX/1/1"
CHINA_TZ = timezone(timedelta(hours=8))
_KIND_ZH = {"food": "食品", "medicine": "药品"}


class Waypoint(NamedTuple):
    """A GPX waypoint: (lon, lat) EPSG:4326, name, and optional description, type, time."""

    lon: float
    lat: float
    name: str
    desc: str | None = None
    kind: str | None = None
    time: str | None = None


def gpx_document(
    *,
    name: str,
    tracks: Sequence[tuple[str, Sequence[Sequence[float]]]],
    waypoints: Sequence[Waypoint] = (),
    desc: str | None = None,
    creator: str = "mapserver",
) -> str:
    """A GPX 1.1 document: metadata, waypoints, then one track of one segment per entry.

    The one GPX writer of the package (delivery routes, street patrols,
    checkpoint tours).

    Parameters
    ----------
    name, desc
        The document's metadata name and description.
    tracks
        ``(track name, [(lon, lat), ...])`` in EPSG:4326.
    waypoints
        Points to mark (stops, checkpoints).
    creator
        The GPX ``creator`` attribute.

    Returns
    -------
    str
        UTF-8 GPX text with an XML declaration.
    """
    ET.register_namespace("", GPX_NS)
    root = ET.Element(f"{{{GPX_NS}}}gpx", {"version": "1.1", "creator": creator})
    meta = ET.SubElement(root, f"{{{GPX_NS}}}metadata")
    _text(meta, "name", name)
    if desc is not None:
        _text(meta, "desc", desc)
    for w in waypoints:
        wpt = ET.SubElement(root, f"{{{GPX_NS}}}wpt", _latlon(w.lon, w.lat))
        if w.time is not None:
            _text(wpt, "time", w.time)
        _text(wpt, "name", w.name)
        if w.desc is not None:
            _text(wpt, "desc", w.desc)
        if w.kind is not None:
            _text(wpt, "type", w.kind)
    for title, points in tracks:
        trk = ET.SubElement(root, f"{{{GPX_NS}}}trk")
        _text(trk, "name", title)
        seg = ET.SubElement(trk, f"{{{GPX_NS}}}trkseg")
        for lon, lat in points:
            ET.SubElement(seg, f"{{{GPX_NS}}}trkpt", _latlon(lon, lat))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def route_gpx(
    route: Route,
    *,
    edges: gpd.GeoDataFrame | None = None,
    day: date | None = None,
    creator: str = "mapserver",
) -> str:
    """A GPX 1.1 document: one waypoint per stop and a track along the road path.

    Parameters
    ----------
    route
        A route of a :class:`~mapserver.routing.plan.RoutePlan`.
    edges
        Road edges (model columns, EPSG:4326): when given, the track follows
        their geometries (every vertex, in the direction driven); otherwise
        it joins the road nodes.
    day
        The delivery date: when given, waypoints carry their ETA as a UTC
        ``<time>`` (ETAs are China Standard Time, UTC+8).
    creator
        The GPX ``creator`` attribute.

    Returns
    -------
    str
        UTF-8 GPX text, coordinates in EPSG:4326 (WGS84).
    """
    waypoints = []
    for k, visit in enumerate(route.visits, start=1):
        lon, lat = visit.leg.coords[-1]
        stop = visit.stop
        drops = "; ".join(
            f"{d.label} {d.boxes}箱{_KIND_ZH.get(d.kind, d.kind)}{_of(d.part, d.parts)}"
            for d in stop.drops
        )
        waypoints.append(
            Waypoint(
                lon,
                lat,
                f"{k}. {stop.name or stop.stop_id}{_of(stop.part, stop.parts)}",
                f"ETA {clock(visit.arrival_s)}, {stop.demand} 箱: {drops}",
                "sealed gate 封控区门口交接" if stop.sealed else "stop",
                _utc(day, visit.arrival_s) if day is not None else None,
            )
        )
    geoms = edge_geometries(edges)
    points: list[list[float]] = []
    for leg in route.legs:
        line = leg_line(leg, geoms)
        points.extend(line[1:] if points and _same(points[-1], line[0]) else line)
    desc = (
        f"{len(route.visits)} 站 stops, {route.boxes} 箱 boxes{_trips(route)}, "
        f"{route.distance_m / 1000:.1f} km, "
        f"{clock(route.start_s)}-{clock(route.end_s)}"
    )
    return gpx_document(
        name=f"{route.route_id} {route.vehicle_type}",
        desc=desc,
        waypoints=waypoints,
        tracks=[(route.route_id, points)],
        creator=creator,
    )


def _latlon(lon: float, lat: float) -> dict[str, str]:
    """The ``lat``/``lon`` attributes of a GPX point, 7 decimals (about 1 cm)."""
    return {"lat": f"{lat:.7f}", "lon": f"{lon:.7f}"}


def _trips(route: Route) -> str:
    """``, 2 趟 trips (120+37 箱)`` for a route of several loads, else nothing."""
    loads = route.trip_loads
    if len(loads) < 2:
        return ""
    return f", {len(loads)} 趟 trips ({'+'.join(str(n) for n in loads)} 箱)"


def _of(part: int, parts: int) -> str:
    """`` (第2/3车 load 2 of 3)`` for one of several loads, else nothing."""
    return f" (第{part}/{parts}车 load {part} of {parts})" if parts > 1 else ""


def _same(a: list[float], b: list[float]) -> bool:
    """Two (lon, lat) points within about a centimetre."""
    return abs(a[0] - b[0]) < 1e-7 and abs(a[1] - b[1]) < 1e-7


def _text(parent: ET.Element, tag: str, value: str) -> None:
    """A namespaced child element holding ``value`` as text."""
    ET.SubElement(parent, f"{{{GPX_NS}}}{tag}").text = value


def _utc(day: date, seconds: int) -> str:
    """Seconds since midnight China time on ``day`` as an ISO UTC timestamp."""
    local = datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ) + timedelta(seconds=seconds)
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def manifest_rows(route: Route) -> list[dict]:
    """The drop list of a route, one row per order, in visiting order.

    Returns
    -------
    list of dict
        Keys ``seq``, ``stop_id``, ``stop``, ``eta`` (HH:MM), ``eta_s``
        (seconds since midnight), ``sealed``, ``building_id``, ``where``,
        ``kind``, ``boxes``, ``order_id``, ``part`` and ``parts`` (load k of n
        of an order too large for one vehicle; 1 and 1 otherwise), ``stop_part``
        and ``stop_parts`` (stop k of n at one handover point), ``trip`` (the
        vehicle's load it belongs to, from 1).
    """
    rows = []
    for k, visit in enumerate(route.visits, start=1):
        for d in visit.stop.drops:
            rows.append(
                {
                    "seq": k,
                    "stop_id": visit.stop.stop_id,
                    "stop": visit.stop.name,
                    "eta": clock(visit.arrival_s),
                    "eta_s": visit.arrival_s,
                    "sealed": visit.stop.sealed,
                    "building_id": d.building_id or "",
                    "where": d.label,
                    "kind": d.kind,
                    "boxes": d.boxes,
                    "order_id": d.order_id,
                    "part": d.part,
                    "parts": d.parts,
                    "trip": visit.trip,
                    "stop_part": visit.stop.part,
                    "stop_parts": visit.stop.parts,
                }
            )
    return rows


def manifest_text(route: Route) -> str:
    """A plain-text manifest for printing: a header line, then one line per drop."""
    head = (
        f"{route.route_id} ({route.vehicle_type}) {clock(route.start_s)}-{clock(route.end_s)} "
        f"{route.boxes} 箱 boxes{_trips(route)}, {route.distance_m / 1000:.1f} km"
    )
    lines = [head, "序 seq | ETA | 站点 stop | 楼栋 building | 类 kind | 箱 boxes"]
    trip = 1
    for r in manifest_rows(route):
        if r["trip"] != trip:
            trip = r["trip"]
            lines.append(f"--- 回仓装货 reload at the depot: 第{trip}趟 trip {trip} ---")
        gate = " [封控 sealed: 门口交接]" if r["sealed"] else ""
        kind = _KIND_ZH.get(r["kind"], r["kind"])
        stop = f"{r['stop']}{_of(r['stop_part'], r['stop_parts'])}"
        load = f"{r['boxes']}{_of(r['part'], r['parts'])}"
        lines.append(f"{r['seq']:>3} | {r['eta']} | {stop}{gate} | {r['where']} | {kind} | {load}")
    return "\n".join(lines) + "\n"
