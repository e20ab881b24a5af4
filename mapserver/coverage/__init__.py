"""Entrances of an area, checkpoint coverage, minimal cordons, catchments and rotas."""

from mapserver.coverage.area import area_nodes, area_polygon, as_area
from mapserver.coverage.catchment import Catchment, Rota, catchments, rota
from mapserver.coverage.cordon import (
    DEFAULT_COSTS,
    CordonCosts,
    CordonPlan,
    TradeoffPoint,
    plan_cordon,
    tradeoff_curve,
    verify_seal,
)
from mapserver.coverage.entrances import Entrance, EntranceList, find_entrances

__all__ = [
    "DEFAULT_COSTS",
    "Catchment",
    "CordonCosts",
    "CordonPlan",
    "Entrance",
    "EntranceList",
    "Rota",
    "TradeoffPoint",
    "area_nodes",
    "area_polygon",
    "as_area",
    "catchments",
    "find_entrances",
    "plan_cordon",
    "rota",
    "tradeoff_curve",
    "verify_seal",
]
