"""Patrol plans for the web and the command line: every street of grids, or every checkpoint."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import geopandas as gpd

from mapserver import crs
from mapserver.coverage import area_polygon
from mapserver.errors import NotFoundError, ValidationError
from mapserver.routing.checkpoint_tour import checkpoint_tour, patrol_gpx
from mapserver.routing.patrol import split_patrol
from mapserver.routing.postman import postman_route
from mapserver.services.around import AREA_MARGIN_M, road_network_around, surroundings
from mapserver.services.mapview import or_none
from mapserver.store import Store

WALK_KMH = 4.5
NEAR_AREA_M = 100.0  # a checkpoint this close to an area's edge belongs to it


def unreachable_streets(edges: gpd.GeoDataFrame, edge_ids: tuple[str, ...]) -> list[dict]:
    """Id, name and metres of each street a patrol cannot reach from its base."""
    frame = edges.set_index(edges["edge_id"].astype(str))
    out = []
    for eid in edge_ids:
        name = frame.at[eid, "name"] if "name" in frame.columns else None
        out.append(
            {
                "edge_id": eid,
                "name": "" if name is None or name != name else str(name),
                "length_m": round(float(frame.at[eid, "length_m"]), 1),
            }
        )
    return out


class PatrolService:
    """Patrol plans of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def streets(
        self,
        grid_ids: list[str],
        *,
        teams: int = 1,
        shift_h: float = 8.0,
        user: str,
        progress: Callable[[float], None] = lambda _f: None,
    ) -> str:
        """Every street of the grids walked from a base, shared among ``teams``; saved, its id.

        Streets that cannot be reached from the base (pieces of the road
        network not joined to the rest) are left out of the plan and listed in
        the summary as ``unreachable`` (id, name, metres) and ``unreachable_km``.
        """
        if not grid_ids:
            raise ValidationError.for_request("grids", ValueError("give at least one grid id"))
        if teams < 1:
            raise ValidationError.for_request("teams", ValueError("at least one team"))
        grids = self.store.read_grids(ids=[str(g) for g in grid_ids])
        try:
            area = area_polygon(grids, grid_ids)
            nodes, edges = road_network_around(self.store, area.bounds, AREA_MARGIN_M)
            route = postman_route(nodes, edges, area=area, mode="walk", skip_unreachable=True)
            progress(0.5)
            plan = split_patrol(
                route, teams, nodes=nodes, edges=edges, shift_s=shift_h * 3600, speed_kmh=WALK_KMH
            )
        except ValueError as err:
            raise ValidationError.for_request("grids", err) from err
        names = grids.set_index("grid_id")["name"].reindex(grid_ids).fillna("").tolist()
        lost = unreachable_streets(edges, route.unreachable_edges)
        summary = {
            "kind": "streets",
            "grids": grid_ids,
            "teams": teams,
            "street_km": round(plan.street_m / 1000, 3),
            "deadhead_km": round(plan.deadhead_m / 1000, 3),
            "longest_km": round(plan.longest_m / 1000, 3),
            "total_km": round(plan.total_m / 1000, 3),
            "balance": round(plan.balance, 3),
            "shift_h": shift_h,
            "within_shift": plan.within_shift(),
            "over_shift": plan.over_shift(),
            "unreachable": lost,
            "unreachable_km": round(route.unreachable_m / 1000, 3),
            "team_routes": [
                {
                    "team": t.team,
                    "length_km": round(t.length_m / 1000, 3),
                    "duration_h": round(t.duration_s / 3600, 2),
                    "steps": len(t.walk),
                }
                for t in plan.teams
            ],
        }
        data = {
            "summary": summary,
            "geojson": plan.to_geojson(edges),
            "gpx": {
                str(t.team): patrol_gpx(t, nodes, edges=edges, name=f"巡逻 {t.team}")
                for t in plan.teams
            },
        }
        name = f"{'、'.join(n for n in names if n) or grid_ids[0]} 街巷巡逻 ×{teams}"
        return self.store.save_route_plan(kind="patrol", name=name, data=data, user=user)

    def checkpoints(
        self,
        *,
        grid_ids: list[str] | None = None,
        teams: int = 1,
        user: str,
        progress: Callable[[float], None] = lambda _f: None,
    ) -> str:
        """A loop through every checkpoint (of the grids, or all), shared among ``teams``."""
        try:
            if grid_ids:
                area = area_polygon(self.store.read_grids(ids=[str(g) for g in grid_ids]), grid_ids)
                near_area = surroundings(self.store, area, NEAR_AREA_M + AREA_MARGIN_M)
                nodes, edges, checkpoints = near_area.nodes, near_area.edges, near_area.checkpoints
                metric = crs.metric_crs(checkpoints)
                shape = gpd.GeoSeries([area], crs=checkpoints.crs).to_crs(metric).iloc[0]
                near = checkpoints.to_crs(metric).distance(shape) <= NEAR_AREA_M
                checkpoints = checkpoints[near.to_numpy()]
            else:  # every checkpoint of the district: the whole network
                nodes = self.store.read_layer("road_nodes")
                edges = self.store.read_layer("road_edges")
                checkpoints = self.store.read_layer("checkpoints")
            if not len(checkpoints):
                msg = "no checkpoints in the area"
                raise ValueError(msg)
            progress(0.3)
            tour = checkpoint_tour(checkpoints, nodes, edges, k=teams, speed_kmh=WALK_KMH)
        except ValueError as err:
            raise ValidationError.for_request("grids", err) from err
        summary = {
            "kind": "checkpoints",
            "grids": grid_ids or [],
            "teams": teams,
            "checkpoints": len(checkpoints),
            "longest_km": round(tour.longest_m / 1000, 3),
            "total_km": round(tour.total_m / 1000, 3),
            "revisit_minutes": {
                k: round(v / 60, 1) for k, v in sorted(tour.revisit_interval_s.items())
            },
            "team_routes": [
                {
                    "team": t.team,
                    "checkpoints": list(t.checkpoint_ids),
                    "length_km": round(t.length_m / 1000, 3),
                    "duration_h": round(t.duration_s / 3600, 2),
                }
                for t in tour.teams
            ],
        }
        data = {
            "summary": summary,
            "geojson": tour.to_geojson(nodes, edges=edges),
            "gpx": {"all": patrol_gpx(tour, nodes, edges=edges, name="道口巡查")},
        }
        name = f"道口巡查 {len(checkpoints)} 处 ×{teams}"
        return self.store.save_route_plan(kind="patrol", name=name, data=data, user=user)

    def get(self, plan_id: str) -> dict:
        """A saved patrol plan: summary and GeoJSON."""
        saved = self.store.get_route_plan(plan_id)
        if saved["kind"] != "patrol":
            msg = f"plan '{plan_id}' is not a patrol plan"
            raise NotFoundError(msg)
        summary = saved["data"]["summary"]
        answer = {
            "plan_id": plan_id,
            "name": saved["name"],
            "created_at": saved["created_at"],
            "summary": summary,
            "geojson": saved["data"]["geojson"],
            "gpx_teams": sorted(saved["data"]["gpx"]),
        }
        if summary.get("kind") == "checkpoints":
            ids = sorted({c for t in summary["team_routes"] for c in t["checkpoints"]})
            layer = self.store.read_layer("checkpoints")
            names = dict(zip(layer["checkpoint_id"].astype(str), layer["name"], strict=True))
            answer["checkpoint_names"] = {c: or_none(names.get(c)) or c for c in ids}
            answer["checkins"] = checkin_summary(self.store.read_checkins(plan_id))
        return answer

    def checkin(self, plan_id: str, checkpoint_id: str, *, user: str) -> dict:
        """A patrol passed ``checkpoint_id`` of its tour: noted with who and when; the
        plan's check-ins per checkpoint follow (last pass, passes, observed interval)."""
        saved = self.get(plan_id)
        if saved["summary"].get("kind") != "checkpoints":
            raise ValidationError.for_request(
                "plan", ValueError("only a checkpoint tour has check-ins")
            )
        if checkpoint_id not in saved["checkpoint_names"]:
            msg = f"checkpoint '{checkpoint_id}' is not on patrol plan '{plan_id}'"
            raise NotFoundError(msg)
        row = self.store.record_checkin(plan_id, checkpoint_id, user=user)
        return {"checkin": row, "checkins": checkin_summary(self.store.read_checkins(plan_id))}

    def recent_checkins(self, hours: float = 24.0, *, now: datetime | None = None) -> dict:
        """Per checkpoint, the patrols' passes of the last ``hours`` over every plan:
        passes, the last pass (when, by whom, on which plan) and the observed interval."""
        now = now or datetime.now(UTC)
        rows = self.store.read_checkins_since(now - timedelta(hours=hours))
        summary = checkin_summary(rows)
        last_plan = {r["checkpoint_id"]: r["plan_id"] for r in rows}
        names = {p["plan_id"]: p.get("name") for p in self.store.list_route_plans(kind="patrol")}
        for checkpoint, seen in summary.items():
            seen["plan_id"] = last_plan[checkpoint]
            seen["plan_name"] = names.get(last_plan[checkpoint])
        return {"hours": hours, "checkpoints": summary}

    def gpx(self, plan_id: str, team: str) -> str:
        """GPX text of one team (or ``all``)."""
        data = self.store.get_route_plan(plan_id)["data"]
        if team not in data["gpx"]:
            msg = f"team '{team}' not in patrol plan '{plan_id}'"
            raise NotFoundError(msg)
        return data["gpx"][team]


def checkin_summary(rows: list[dict]) -> dict[str, dict]:
    """Per checkpoint: passes, the last pass (when, by whom) and the mean observed interval
    between passes in minutes (None with fewer than two), from check-in rows oldest first."""
    out: dict[str, dict] = {}
    times: dict[str, list[datetime]] = {}
    for row in rows:
        cp = row["checkpoint_id"]
        times.setdefault(cp, []).append(datetime.fromisoformat(row["at"]))
        out[cp] = {"passes": len(times[cp]), "last_at": row["at"], "last_by": row["username"]}
    for cp, seen in times.items():
        gaps = [(b - a).total_seconds() / 60 for a, b in itertools.pairwise(seen)]
        out[cp]["observed_minutes"] = round(sum(gaps) / len(gaps), 1) if gaps else None
    return out
