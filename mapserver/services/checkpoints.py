"""Checkpoint coverage for the web and the command line: entrances, cordons, trade-offs, rota.

Reads the roads, checkpoints and buildings around each area from the store (never the
whole city) and calls the pure coverage core.
"""

from __future__ import annotations

import pandas as pd

from mapserver import crs
from mapserver.coverage import (
    area_polygon,
    as_area,
    catchments,
    find_entrances,
    plan_cordon,
    rota,
    tradeoff_curve,
)
from mapserver.errors import ValidationError
from mapserver.model import STORAGE_CRS
from mapserver.services.around import AREA_MARGIN_M, Surroundings, surroundings
from mapserver.store import Store


class CheckpointService:
    """Entrances and cordons of areas of one store.

    Each question reads only the roads, checkpoints and buildings around its area
    (the area's bounds widened by the cordon's reach and :data:`AREA_MARGIN_M`), never the
    city's: a node farther than the reach is outside the cordon either way, so the cut is
    the one the whole network gives.
    """

    def __init__(self, store: Store, *, margin_m: float = AREA_MARGIN_M) -> None:
        self.store = store
        self.margin_m = margin_m

    def around(self, area, *, reach_m: float = 0.0) -> Surroundings:
        """Road nodes and edges, checkpoints and buildings within ``reach_m`` + the margin
        (:data:`AREA_MARGIN_M`) of the area."""
        return surroundings(self.store, area, max(reach_m, 0.0) + self.margin_m)

    def area(self, *, grid_ids: list[str] | None = None, polygon: object = None):
        """The area to seal: the union of grids, or a drawn polygon (GeoJSON/WKT), EPSG:4326."""
        try:
            if polygon is not None:
                return as_area(polygon)
            if not grid_ids:
                msg = "give grid ids or a polygon"
                raise ValueError(msg)
            return area_polygon(self.store.read_grids(ids=[str(g) for g in grid_ids]), grid_ids)
        except ValueError as err:
            raise ValidationError.for_request(
                "polygon" if polygon is not None else "grid", err
            ) from err

    def entrances(
        self,
        *,
        grid_ids: list[str] | None = None,
        polygon: object = None,
        tolerance_m: float = 30.0,
    ) -> dict:
        """Every road crossing the area's boundary and its state, as GeoJSON with counts."""
        area = self.area(grid_ids=grid_ids, polygon=polygon)
        layers = self.around(area, reach_m=tolerance_m)
        try:
            found = find_entrances(
                area, layers.nodes, layers.edges, layers.checkpoints, tolerance_m=tolerance_m
            )
        except ValueError as err:
            raise ValidationError.for_request("area", err) from err
        result = found.to_geojson()
        result["total"] = len(found.entrances)
        result["area"] = _area_feature(area)
        return result

    def cordon(
        self,
        *,
        grid_ids: list[str] | None = None,
        polygon: object = None,
        max_outward_m: float = 0.0,
        household_cost: float = 0.0,
        keep_existing: bool = True,
        shifts_per_day: int = 3,
    ) -> dict:
        """The cheapest cordon with its rota and the load on each staffed exit."""
        area = self.area(grid_ids=grid_ids, polygon=polygon)
        layers = self.around(area, reach_m=max_outward_m)
        try:
            plan = plan_cordon(
                area,
                layers.nodes,
                layers.edges,
                checkpoints=layers.checkpoints,
                max_outward_m=max_outward_m,
                buildings=layers.buildings,
                household_cost=household_cost,
                keep_existing=keep_existing,
            )
            staff = rota(plan, shifts_per_day=shifts_per_day)
            load = catchments(plan, layers.nodes, layers.edges, layers.buildings)
        except ValueError as err:
            raise ValidationError.for_request("area", err) from err
        result = plan.to_geojson()
        result["rota"] = staff.to_dict()
        catchment = load.to_dict()
        catchment.pop("assignment")
        result["catchment"] = catchment
        result["area"] = _area_feature(area)
        result["sealing"] = plan.is_sealing(layers.nodes, layers.edges)
        result["checkpoints_now"] = _staffed_now(layers.checkpoints, area)
        return result

    def tradeoff(
        self,
        *,
        grid_ids: list[str] | None = None,
        polygon: object = None,
        max_outward_m: float = 300.0,
        keep_existing: bool = True,
    ) -> list[dict]:
        """Cordons from "hold the boundary" to "move outward": staffed points vs households."""
        area = self.area(grid_ids=grid_ids, polygon=polygon)
        layers = self.around(area, reach_m=max_outward_m)
        try:
            points = tradeoff_curve(
                area,
                layers.nodes,
                layers.edges,
                max_outward_m=max_outward_m,
                buildings=layers.buildings,
                checkpoints=layers.checkpoints,
                keep_existing=keep_existing,
            )
        except ValueError as err:
            raise ValidationError.for_request("area", err) from err
        return [
            {
                "household_cost": p.household_cost,
                "staffed": p.staffed,
                "barriers": p.barriers,
                "total_cost": round(p.total_cost, 6),
                "extra_households": p.extra_households,
                "new_posts": p.new_posts,
                "kept_posts": p.kept_posts,
            }
            for p in points
        ]


def _area_feature(area) -> dict:
    from shapely.geometry import mapping

    return {"type": "Feature", "properties": {"feature": "area"}, "geometry": mapping(area)}


def _staffed_now(checkpoints: pd.DataFrame, area, *, within_m: float = 100.0) -> int:
    """Staffed checkpoints standing inside the area or within ``within_m`` metres of it now."""
    if not len(checkpoints):
        return 0
    import geopandas as gpd

    metric = crs.metric_crs(checkpoints)
    points = checkpoints.to_crs(metric)
    shape = gpd.GeoSeries([area], crs=STORAGE_CRS).to_crs(metric).iloc[0]
    near = points[points.geometry.distance(shape) <= within_m]
    return int(near["staffed"].fillna(False).astype(bool).sum())
