"""The canonical layers and their columns; nothing else defines them.

Geometries are stored and exchanged in EPSG:4326 (lon, lat). Identifiers are
strings given by the user's data and are never renumbered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, timezone

STORAGE_CRS = "EPSG:4326"

# Grid levels from the top of the tree down; names are configurable labels.
GRID_LEVELS: tuple[str, ...] = (
    "district",
    "subdistrict",
    "community",
    "big",
    "small",
    "micro",
    "homestead",
)
DISTRICT_TZ = timezone(timedelta(hours=8))  # the district's clock: China Standard Time

LEVEL_LABELS: dict[str, dict[str, str]] = {
    "district": {"zh": "区", "en": "District"},
    "subdistrict": {"zh": "街道/镇", "en": "Sub-district"},
    "community": {"zh": "居委/村", "en": "Neighbourhood/Village"},
    "big": {"zh": "大网格", "en": "Big grid"},
    "small": {"zh": "小网格", "en": "Small grid"},
    "micro": {"zh": "微网格", "en": "Micro-grid"},
    "homestead": {"zh": "宅基网格", "en": "Homestead grid"},
}

AREA_CLASSES: tuple[str, ...] = ("sealed", "controlled", "precaution", "none")

# grids: a tree of polygons. parent_id is None/"" for the root.
GRID_COLUMNS: tuple[str, ...] = (
    "grid_id",
    "parent_id",
    "level",
    "name",
    "person",  # responsible person (网格长/网格员)
    "phone",
    "target_households",  # optional int
    "area_class",  # one of AREA_CLASSES
    "version",  # int, planner version that produced the polygon
    "geometry",  # Polygon / MultiPolygon
)
GRID_REQUIRED: tuple[str, ...] = ("grid_id", "level", "name", "geometry")

# buildings: footprints (or points) held by a leaf grid.
BUILDING_COLUMNS: tuple[str, ...] = (
    "building_id",
    "grid_id",  # leaf grid holding the building
    "name",
    "address",
    "compound_id",  # walled compound (小区) the building belongs to, if any
    "units",  # int, 单元
    "households",  # int, 户
    "residents",  # int
    "gate_node",  # road node where deliveries are handed over
    "geometry",  # Polygon footprint or Point
)
BUILDING_REQUIRED: tuple[str, ...] = ("building_id", "geometry")

HOUSEHOLD_COLUMNS: tuple[str, ...] = (
    "household_id",
    "building_id",
    "unit",
    "room",
    "residents",
)
HOUSEHOLD_REQUIRED: tuple[str, ...] = ("household_id", "building_id")

# status: current status of an entity; every change also goes to the change log.
ENTITY_KINDS: tuple[str, ...] = ("household", "building")
STATUS_COLUMNS: tuple[str, ...] = (
    "entity_kind",
    "entity_id",
    "status",
    "persons",
    "updated_at",
    "source",
    "seq",
)
STATUS_REQUIRED: tuple[str, ...] = ("entity_id", "status")

CHANGELOG_COLUMNS: tuple[str, ...] = (
    "seq",  # monotonic, assigned by the store
    "entity_kind",
    "entity_id",
    "old_status",
    "new_status",
    "persons",
    "changed_at",
    "changed_by",
    "source",
)

# roads: directed edges between nodes; lengths in metres.
ROAD_NODE_COLUMNS: tuple[str, ...] = ("node_id", "kind", "geometry")  # Point; kind: junction/gate
ROAD_EDGE_COLUMNS: tuple[str, ...] = (
    "edge_id",
    "u",
    "v",
    "name",
    "road_class",  # main / street / lane / gate / path / water
    "oneway",  # bool
    "mode",  # drive / walk / water
    "length_m",
    "closed",  # bool
    "geometry",  # LineString
)
ROAD_CLASSES: tuple[str, ...] = ("main", "street", "lane", "gate", "path", "water")

CHECKPOINT_COLUMNS: tuple[str, ...] = (
    "checkpoint_id",
    "name",
    "node_id",  # road node the checkpoint stands on
    "kind",  # land / minor / water
    "staffed",  # bool
    "shifts",  # int, shifts per 24 h
    "geometry",  # Point
)
CHECKPOINT_KINDS: tuple[str, ...] = ("land", "minor", "water")

# events: points of cases or reports (no building id), joined to the deepest grid holding
# them and the nearest building within a distance; kept apart from LAYERS (own import).
EVENT_COLUMNS: tuple[str, ...] = (
    "event_id",  # from the file, or derived from the row's content
    "occurred_at",  # ISO date/time text, local time as given
    "day",  # YYYY-MM-DD of occurred_at
    "kind",  # 类型
    "name",  # 名称/小区
    "address",  # 地址
    "grid_id",  # deepest grid holding the point (a leaf unless in a gap); None outside
    "building_id",  # nearest building within the stated distance, else None
    "building_distance_m",  # metres to that building
    "properties",  # the file's other columns, as a JSON object
    "geometry",  # Point, EPSG:4326
)

LAYERS: dict[str, tuple[str, ...]] = {
    "grids": GRID_COLUMNS,
    "buildings": BUILDING_COLUMNS,
    "households": HOUSEHOLD_COLUMNS,
    "status": STATUS_COLUMNS,
    "road_nodes": ROAD_NODE_COLUMNS,
    "road_edges": ROAD_EDGE_COLUMNS,
    "checkpoints": CHECKPOINT_COLUMNS,
}
GEOMETRY_LAYERS: tuple[str, ...] = ("grids", "buildings", "road_nodes", "road_edges", "checkpoints")
ID_COLUMN: dict[str, str] = {
    "grids": "grid_id",
    "buildings": "building_id",
    "households": "household_id",
    "road_nodes": "node_id",
    "road_edges": "edge_id",
    "checkpoints": "checkpoint_id",
}


def level_rank(level: str) -> int:
    """Return the depth of a grid level (0 = district); unknown levels sort last."""
    try:
        return GRID_LEVELS.index(level)
    except ValueError:
        return len(GRID_LEVELS)


@dataclass(frozen=True)
class StatusRow:
    """One status write: ``persons`` None keeps the entity's resident count."""

    entity_kind: str  # "household" | "building"
    entity_id: str
    status: str
    persons: int | None = None


# Who uses the product: each role's abilities are in services/access.py.
ROLES: tuple[str, ...] = ("admin", "commander", "planner", "dispatcher", "driver", "worker")
