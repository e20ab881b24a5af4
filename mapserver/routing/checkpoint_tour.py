"""Checkpoint patrol tours for k teams, their revisit intervals, and GPX tracks of patrols."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import geopandas as gpd
import numpy as np

from mapserver.model import STORAGE_CRS
from mapserver.routing.gpx import Waypoint, gpx_document
from mapserver.routing.plan import edge_geometries, path_line
from mapserver.routing.postman import WalkNetwork, walk_network

WALK_SPEED_KMH = 4.5
# Up to this many checkpoints per team the order is found by trying every permutation.
BRUTE_FORCE_MAX = 8
_DM_PER_M = 10


@dataclass(frozen=True)
class CheckpointTeam:
    """One team's loop: checkpoints in visiting order and the road path; metres, seconds.

    ``walk`` lists the path's steps as ``(edge_id, from_node, to_node)``.
    """

    team: int
    checkpoint_ids: tuple[str, ...]
    node_path: tuple[str, ...]
    length_m: float
    duration_s: float
    walk: tuple[tuple[str, str, str], ...] = ()

    @property
    def node_sequence(self) -> tuple[str, ...]:
        """Road node ids of the loop, from the base back to the base."""
        return self.node_path


@dataclass(frozen=True)
class CheckpointTour:
    """Checkpoint loops of every team; each team walks its loop over and over.

    ``revisit_interval_s`` maps each checkpoint to the time (s) between two
    visits: the duration of its team's loop.
    """

    base_node: str
    teams: tuple[CheckpointTeam, ...]
    revisit_interval_s: dict[str, float]
    longest_m: float
    checkpoint_nodes: dict[str, str]

    @property
    def total_m(self) -> float:
        """Metres of all loops together."""
        return float(sum(t.length_m for t in self.teams))

    def to_geojson(self, nodes: gpd.GeoDataFrame, *, edges: gpd.GeoDataFrame | None = None) -> dict:
        """Loops (LineStrings, ``team``) and checkpoints (Points, ``team``, ``order``,
        ``revisit_interval_s``) as a GeoJSON FeatureCollection in EPSG:4326.

        With ``edges`` (model columns) the loops follow the road geometries;
        otherwise they join the road nodes."""
        coords = _node_coords(nodes)
        geoms = edge_geometries(edges)
        features = []
        for t in self.teams:
            steps = [e for e, _, _ in t.walk]
            line = path_line(t.node_path, steps, [coords[n] for n in t.node_path], geoms)
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "LineString", "coordinates": line},
                    "properties": {"team": t.team, "length_m": round(t.length_m, 2)},
                }
            )
            for order, cp in enumerate(t.checkpoint_ids, start=1):
                features.append(
                    {
                        "type": "Feature",
                        "geometry": {
                            "type": "Point",
                            "coordinates": list(coords[self.checkpoint_nodes[cp]]),
                        },
                        "properties": {
                            "checkpoint_id": cp,
                            "team": t.team,
                            "order": order,
                            "revisit_interval_s": round(self.revisit_interval_s[cp], 1),
                        },
                    }
                )
        return {"type": "FeatureCollection", "features": features}


def checkpoint_tour(
    checkpoints: gpd.GeoDataFrame,
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    *,
    base_node: str | None = None,
    k: int = 1,
    mode: str = "walk",
    speed_kmh: float = WALK_SPEED_KMH,
    time_limit_s: float = 2.0,
    seed: int = 0,
) -> CheckpointTour:
    """Loops from a base through every checkpoint, shared among ``k`` teams.

    One shortest loop through all checkpoints over road distances (every
    order tried up to ``BRUTE_FORCE_MAX`` checkpoints, PyVRP beyond) is cut
    into ``k`` consecutive runs so that the longest closed loop is minimal
    (exact over cuts of that order); each run's order is then improved on its
    own.

    Parameters
    ----------
    checkpoints
        Rows with ``checkpoint_id`` and ``node_id`` (the road node it stands on).
    nodes, edges
        Road layers with the ``model`` columns, EPSG:4326; ``length_m`` in metres.
    base_node
        Node id the teams leave from (default: the first checkpoint's node).
    k
        Number of teams (at least 1).
    mode
        Travel mode of the road graph.
    speed_kmh
        Walking speed (km/h) for durations and revisit intervals.
    time_limit_s
        PyVRP search time (s) per loop it solves.
    seed
        PyVRP seed.

    Returns
    -------
    CheckpointTour

    Raises
    ------
    ValueError
        For no checkpoints, an unknown node, or a checkpoint that cannot be
        reached from the base (named).
    """
    if k < 1:
        msg = f"the number of teams must be at least 1, got {k}"
        raise ValueError(msg)
    if not len(checkpoints):
        msg = "no checkpoints to visit"
        raise ValueError(msg)
    net = walk_network(nodes, edges, mode=mode)
    ids = checkpoints["checkpoint_id"].astype(str).tolist()
    at = [
        net.node(n, f"checkpoint '{c}'")
        for c, n in zip(ids, checkpoints["node_id"].astype(str), strict=True)
    ]
    base = net.node(base_node, "base") if base_node is not None else at[0]
    points = np.array([base, *at], dtype=np.int64)
    dist, pred = net.search(points)
    matrix = dist[:, points]
    reach = np.isfinite(matrix[0, 1:]) & np.isfinite(matrix[1:, 0])
    if not reach.all():
        bad = [c for c, ok in zip(ids, reach, strict=True) if not ok]
        msg = (
            f"{len(bad)} checkpoint(s) cannot be reached from base node "
            f"'{net.node_ids[base]}', e.g. {bad[:5]}"
        )
        raise ValueError(msg)
    order = _loop(matrix, list(range(1, len(points))), time_limit_s, seed)
    runs = _split(matrix, order, k)
    speed = speed_kmh / 3.6
    teams, interval = [], {}
    for team, run in enumerate(runs, start=1):
        run = _loop(matrix, run, time_limit_s, seed) if len(run) > 2 else run
        length = _loop_length(matrix, run)
        walk = _walk(net, pred, points, run)
        team_route = CheckpointTeam(
            team=team,
            checkpoint_ids=tuple(ids[i - 1] for i in run),
            node_path=(str(net.node_ids[points[0]]), *(b for _, _, b in walk)),
            length_m=length,
            duration_s=length / speed,
            walk=walk,
        )
        teams.append(team_route)
        interval.update(dict.fromkeys(team_route.checkpoint_ids, team_route.duration_s))
    return CheckpointTour(
        base_node=str(net.node_ids[base]),
        teams=tuple(teams),
        revisit_interval_s=interval,
        longest_m=max(t.length_m for t in teams),
        checkpoint_nodes={c: str(net.node_ids[n]) for c, n in zip(ids, at, strict=True)},
    )


def _loop_length(matrix: np.ndarray, run: list[int]) -> float:
    """Metres of the loop base -> run -> base (row/column 0 is the base)."""
    stops = [0, *run, 0]
    return float(sum(matrix[a, b] for a, b in itertools.pairwise(stops)))


def _loop(matrix: np.ndarray, stops: list[int], time_limit_s: float, seed: int) -> list[int]:
    """Shortest loop from the base through ``stops``: every order, or PyVRP when many."""
    if len(stops) <= BRUTE_FORCE_MAX:
        best = min(itertools.permutations(stops), key=lambda p: _loop_length(matrix, list(p)))
        return list(best)
    return _pyvrp_loop(matrix, stops, time_limit_s, seed)


def _pyvrp_loop(matrix: np.ndarray, stops: list[int], time_limit_s: float, seed: int) -> list[int]:
    """One-vehicle PyVRP loop over integer decimetre distances."""
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    model = Model()
    places = [0, *stops]
    locations = [model.add_location(x=0, y=0) for _ in places]
    model.add_depot(locations[0])
    for loc in locations[1:]:
        model.add_client(loc)
    model.add_vehicle_type(1)
    for a, pa in zip(locations, places, strict=True):
        for b, pb in zip(locations, places, strict=True):
            if a is not b:
                model.add_edge(a, b, distance=round(matrix[pa, pb] * _DM_PER_M))
    result = model.solve(stop=MaxRuntime(time_limit_s), seed=seed, display=False)
    route = result.best.routes()[0]
    return [stops[act.idx] for act in route.schedule() if act.is_client()]


def _split(matrix: np.ndarray, order: list[int], k: int) -> list[list[int]]:
    """Cut ``order`` into at most ``k`` consecutive runs minimising the longest closed loop."""
    n = len(order)
    k = min(k, n)

    def cost(i: int, j: int) -> float:
        run = order[i:j]
        inner = sum(matrix[a, b] for a, b in itertools.pairwise(run))
        return float(matrix[0, run[0]] + inner + matrix[run[-1], 0])

    best = np.full((k + 1, n + 1), np.inf)
    cut = np.zeros((k + 1, n + 1), dtype=np.int64)
    best[0, 0] = 0.0
    for t in range(1, k + 1):
        for j in range(1, n + 1):
            for i in range(t - 1, j):
                value = max(best[t - 1, i], cost(i, j))
                if value < best[t, j]:
                    best[t, j], cut[t, j] = value, i
    runs, j = [], n
    for t in range(k, 0, -1):
        i = int(cut[t, j])
        runs.append(order[i:j])
        j = i
    return runs[::-1]


def _walk(
    net: WalkNetwork, pred: np.ndarray, points: np.ndarray, run: list[int]
) -> tuple[tuple[str, str, str], ...]:
    """Steps ``(edge_id, from, to)`` of the loop base -> run -> base (rows of ``pred`` follow
    ``points``)."""
    stops = [0, *run, 0]
    steps = []
    for a, b in itertools.pairwise(stops):
        steps += net.path_from(pred[a], int(points[a]), int(points[b]))
    return net.steps_out(steps)


def _node_coords(nodes: gpd.GeoDataFrame) -> dict[str, tuple[float, float]]:
    """Node id to (lon, lat) in EPSG:4326."""
    points = gpd.GeoSeries(nodes.geometry.values, crs=nodes.crs or STORAGE_CRS).to_crs(STORAGE_CRS)
    return dict(
        zip(
            nodes["node_id"].astype(str),
            zip(points.x.tolist(), points.y.tolist(), strict=True),
            strict=True,
        )
    )


def patrol_gpx(
    route: object,
    nodes: gpd.GeoDataFrame,
    *,
    edges: gpd.GeoDataFrame | None = None,
    name: str = "patrol",
) -> str:
    """A GPX 1.1 document of a patrol: one track per team (lat/lon EPSG:4326).

    Parameters
    ----------
    route
        A ``PostmanRoute`` or ``TeamRoute`` (one track), a ``PatrolPlan`` or a
        ``CheckpointTour`` (one track per team; checkpoints become waypoints).
    nodes
        Road nodes with ``node_id`` and point geometry.
    edges
        Road edges (model columns): when given, tracks follow their
        geometries (every vertex, in the direction walked); otherwise they
        join the road nodes.
    name
        Track name prefix.

    Returns
    -------
    str
        The GPX text (UTF-8 XML), written by :func:`mapserver.routing.gpx.gpx_document`.
    """
    coords = _node_coords(nodes)
    geoms = edge_geometries(edges)
    teams = getattr(route, "teams", None)
    walkers = [(name, route)] if teams is None else [(f"{name} team {t.team}", t) for t in teams]
    waypoints = [
        Waypoint(*coords[node], str(cp))
        for cp, node in getattr(route, "checkpoint_nodes", {}).items()
    ]
    tracks = []
    for title, walker in walkers:
        seq = walker.node_sequence
        steps = [e for e, _, _ in getattr(walker, "walk", ())]
        tracks.append((title, path_line(seq, steps, [coords[n] for n in seq], geoms)))
    return gpx_document(name=name, tracks=tracks, waypoints=waypoints)
