"""Checkpoint coverage for the web and the command line: entrances, cordons, trade-offs, rota.

Reads the road, checkpoint, grid and building layers from the store (cached per
data version) and calls the pure coverage core.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

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
from mapserver.errors import ValidationError, ValidationIssue
from mapserver.model import STORAGE_CRS
from mapserver.store import Store


@dataclass(frozen=True)
class _Layers:
    version: int
    nodes: pd.DataFrame
    edges: pd.DataFrame
    checkpoints: pd.DataFrame
    grids: pd.DataFrame
    buildings: pd.DataFrame


def _refuse(field: str, err: Exception) -> ValidationError:
    return ValidationError([ValidationIssue("request", None, field, str(err))])


class CheckpointService:
    """Entrances and cordons of areas of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._layers: _Layers | None = None

    def layers(self) -> _Layers:
        """Road, checkpoint, grid and building layers, re-read when the data version moves."""
        version = self.store.data_version()
        with self._lock:
            if self._layers is None or self._layers.version != version:
                self._layers = _Layers(
                    version=version,
                    nodes=self.store.read_layer("road_nodes"),
                    edges=self.store.read_layer("road_edges"),
                    checkpoints=self.store.read_layer("checkpoints"),
                    grids=self.store.read_grids(),
                    buildings=self.store.read_buildings(),
                )
            return self._layers

    def area(self, *, grid_ids: list[str] | None = None, polygon: object = None):
        """The area to seal: the union of grids, or a drawn polygon (GeoJSON/WKT), EPSG:4326."""
        layers = self.layers()
        try:
            if polygon is not None:
                return as_area(polygon)
            if not grid_ids:
                msg = "give grid ids or a polygon"
                raise ValueError(msg)
            return area_polygon(layers.grids, grid_ids)
        except ValueError as err:
            raise _refuse("polygon" if polygon is not None else "grid", err) from err

    def entrances(
        self,
        *,
        grid_ids: list[str] | None = None,
        polygon: object = None,
        tolerance_m: float = 30.0,
    ) -> dict:
        """Every road crossing the area's boundary and its state, as GeoJSON with counts."""
        layers = self.layers()
        area = self.area(grid_ids=grid_ids, polygon=polygon)
        try:
            found = find_entrances(
                area, layers.nodes, layers.edges, layers.checkpoints, tolerance_m=tolerance_m
            )
        except ValueError as err:
            raise _refuse("area", err) from err
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
        layers = self.layers()
        area = self.area(grid_ids=grid_ids, polygon=polygon)
        try:
            plan = plan_cordon(
                area,
                layers.nodes,
                layers.edges,
                checkpoints=layers.checkpoints,
                max_outward_m=max_outward_m,
                grids=layers.grids,
                buildings=layers.buildings,
                household_cost=household_cost,
                keep_existing=keep_existing,
            )
            staff = rota(plan, shifts_per_day=shifts_per_day)
            load = catchments(plan, layers.nodes, layers.edges, layers.buildings)
        except ValueError as err:
            raise _refuse("area", err) from err
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
        layers = self.layers()
        area = self.area(grid_ids=grid_ids, polygon=polygon)
        try:
            points = tradeoff_curve(
                area,
                layers.nodes,
                layers.edges,
                max_outward_m=max_outward_m,
                buildings=layers.buildings,
                checkpoints=layers.checkpoints,
                grids=layers.grids,
                keep_existing=keep_existing,
            )
        except ValueError as err:
            raise _refuse("area", err) from err
        return [
            {
                "household_cost": p.household_cost,
                "staffed": p.staffed,
                "barriers": p.barriers,
                "total_cost": round(p.total_cost, 6),
                "extra_households": p.extra_households,
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
