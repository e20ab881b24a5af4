"""Table definitions of the store, one set per backend (geometry column type differs)."""

from __future__ import annotations

import sqlalchemy as sa

from mapserver import model
from mapserver.store.snapshots import snapshot_tables

# SQL type of every non-geometry layer column; anything not listed is text.
INTEGER_COLUMNS: frozenset[str] = frozenset(
    {"target_households", "version", "units", "households", "residents", "persons", "seq", "shifts"}
)
BOOLEAN_COLUMNS: frozenset[str] = frozenset({"oneway", "closed", "staffed"})
FLOAT_COLUMNS: frozenset[str] = frozenset({"length_m"})
BBOX_COLUMNS: tuple[str, ...] = ("minx", "miny", "maxx", "maxy")

# Columns worth an index beside the primary keys: the filters the readers offer.
CHANGELOG_INDEXED: tuple[str, ...] = ("entity_id", "changed_at")
_INDEXED: dict[str, tuple[str, ...]] = {
    "grids": ("parent_id", "level"),
    "buildings": ("grid_id",),
    "households": ("building_id",),
    "status": ("seq",),
    "road_edges": ("u", "v"),
}

OTHER_TABLES: tuple[str, ...] = (
    "changelog",
    "audit_log",
    "users",
    "tokens",
    "jobs",
    "meta",
    "plan_versions",
    "route_plans",
    "route_problems",
    "stop_events",
    "column_mappings",
    "import_log",
    "events",
    "route_drivers",
    "sessions",
    "login_failures",
    "status_counts",
    "count_snapshots",
    "count_snapshot_list",
    "client_requests",
    "patrol_checkins",
    "route_plan_archive",
)
TABLE_NAMES: tuple[str, ...] = (*model.LAYERS, *OTHER_TABLES)


def _column_type(name: str) -> sa.types.TypeEngine:
    """Return the SQL type of a layer column by its name."""
    if name in INTEGER_COLUMNS:
        return sa.Integer()
    if name in BOOLEAN_COLUMNS:
        return sa.Boolean()
    if name in FLOAT_COLUMNS:
        return sa.Float()
    return sa.Text()


def _geometry_type(dialect: str) -> sa.types.TypeEngine:
    """Return the geometry column type: PostGIS geometry(Geometry, 4326) or a WKB blob."""
    if dialect == "postgresql":
        from geoalchemy2 import Geometry

        return Geometry("GEOMETRY", srid=4326, spatial_index=True)
    return sa.LargeBinary()


def _layer_table(metadata: sa.MetaData, layer: str, dialect: str) -> sa.Table:
    """Build the table of one layer of model.LAYERS."""
    key = ("entity_kind", "entity_id") if layer == "status" else (model.ID_COLUMN[layer],)
    columns: list[sa.Column] = []
    for name in model.LAYERS[layer]:
        if name == "geometry":
            columns.append(sa.Column(name, _geometry_type(dialect), nullable=True))
            columns.extend(sa.Column(b, sa.Float(), nullable=True) for b in BBOX_COLUMNS)
        else:
            columns.append(
                sa.Column(
                    name, _column_type(name), primary_key=name in key, nullable=name not in key
                )
            )
    table = sa.Table(layer, metadata, *columns)
    for name in _INDEXED.get(layer, ()):
        sa.Index(f"ix_{layer}_{name}", table.c[name])
    if layer in model.GEOMETRY_LAYERS:
        sa.Index(f"ix_{layer}_bbox", table.c.minx, table.c.miny)
    return table


def plan_table(metadata: sa.MetaData) -> sa.Table:
    """The ``plan_versions`` table."""
    return sa.Table(
        "plan_versions",
        metadata,
        sa.Column("version_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("parent_id", sa.Text(), nullable=False, index=True),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("published_at", sa.Text(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )


def audit_table(metadata: sa.MetaData) -> sa.Table:
    """The append-only ``audit_log``: who did what to which entity, when, from where.

    ``at`` is UTC ISO 8601; ``old``/``new`` are small JSON texts (see store/audit.py).
    """
    return sa.Table(
        "audit_log",
        metadata,
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.Text(), nullable=False, index=True),
        sa.Column("actor", sa.Text(), nullable=False, index=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False, index=True),
        sa.Column("entity", sa.Text(), nullable=True, index=True),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=True),
        sqlite_autoincrement=True,
    )


def build_tables(dialect: str) -> tuple[sa.MetaData, dict[str, sa.Table]]:
    """Return the metadata and every table of the store for a backend.

    Parameters
    ----------
    dialect
        ``"sqlite"`` (geometry as WKB blob) or ``"postgresql"`` (PostGIS geometry,
        EPSG:4326, GiST index).

    Returns
    -------
    The metadata and a dict table name -> table (layers of model.LAYERS, then
    ``changelog``, ``users``, ``tokens``, ``jobs``, ``meta``).
    """
    metadata = sa.MetaData()
    tables = {layer: _layer_table(metadata, layer, dialect) for layer in model.LAYERS}
    changelog_columns = [
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        *(
            sa.Column(name, _column_type(name), nullable=True)
            for name in model.CHANGELOG_COLUMNS
            if name != "seq"
        ),
    ]
    tables["changelog"] = sa.Table(
        "changelog", metadata, *changelog_columns, sqlite_autoincrement=True
    )
    for name in CHANGELOG_INDEXED:  # history: an entity's rows, the seq of a moment
        sa.Index(f"ix_changelog_{name}", tables["changelog"].c[name])
    tables["audit_log"] = audit_table(metadata)
    tables["users"] = sa.Table(
        "users",
        metadata,
        sa.Column("username", sa.Text(), primary_key=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("grid_id", sa.Text(), nullable=True),
    )
    tables["tokens"] = sa.Table(
        "tokens",
        metadata,
        sa.Column("token", sa.Text(), primary_key=True),  # SHA-256 of the issued token
        sa.Column("username", sa.Text(), nullable=False, index=True),
        sa.Column("created_at", sa.Text(), nullable=False),
    )
    tables["jobs"] = sa.Table(
        "jobs",
        metadata,
        sa.Column("job_id", sa.Text(), primary_key=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
    )
    tables["meta"] = sa.Table(
        "meta",
        metadata,
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("value", sa.Integer(), nullable=False),
    )
    tables["plan_versions"] = plan_table(metadata)
    tables["route_plans"] = sa.Table(
        "route_plans",
        metadata,
        sa.Column("plan_id", sa.Text(), primary_key=True),
        sa.Column("kind", sa.Text(), nullable=False, index=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),  # JSON: routes, stops, geometry
    )
    tables["route_problems"] = sa.Table(
        "route_problems",
        metadata,
        sa.Column("plan_id", sa.Text(), primary_key=True),
        sa.Column("problem", sa.Text(), nullable=False),  # JSON: what re-planning needs
    )
    tables["stop_events"] = sa.Table(
        "stop_events",
        metadata,
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.Text(), nullable=False, index=True),
        sa.Column("route_id", sa.Text(), nullable=False),
        sa.Column("stop_id", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.Text(), nullable=False),
        sa.Column("by", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    tables["route_drivers"] = sa.Table(  # which driver a route is assigned to
        "route_drivers",
        metadata,
        sa.Column("plan_id", sa.Text(), primary_key=True),
        sa.Column("route_id", sa.Text(), primary_key=True),
        sa.Column("username", sa.Text(), nullable=False, index=True),
    )
    tables["client_requests"] = sa.Table(  # writes a phone may send twice: applied once
        "client_requests",
        metadata,
        sa.Column("username", sa.Text(), primary_key=True),
        sa.Column("request_id", sa.Text(), primary_key=True),
        sa.Column("created_at", sa.Text(), nullable=False, index=True),
    )
    tables["route_plan_archive"] = sa.Table(  # plans a dispatcher put away
        "route_plan_archive",
        metadata,
        sa.Column("plan_id", sa.Text(), primary_key=True),
        sa.Column("archived_at", sa.Text(), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
    )
    tables["patrol_checkins"] = sa.Table(  # a patrol passing a checkpoint of its tour
        "patrol_checkins",
        metadata,
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.Text(), nullable=False, index=True),
        sa.Column("checkpoint_id", sa.Text(), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("at", sa.Text(), nullable=False, index=True),
        sqlite_autoincrement=True,
    )
    tables["events"] = event_table(metadata, dialect)
    tables.update(import_tables(metadata))
    tables.update(session_tables(metadata))
    tables.update(snapshot_tables(metadata))
    tables["status_counts"] = sa.Table(  # kept by mapserver.store.counts
        "status_counts",
        metadata,
        sa.Column("level", sa.Text(), primary_key=True),  # building | grid | total
        sa.Column("entity_id", sa.Text(), primary_key=True),
        sa.Column("code", sa.Text(), primary_key=True),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("persons", sa.Integer(), nullable=False),
    )
    return metadata, tables


def import_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """The ``column_mappings`` and ``import_log`` tables."""
    return {
        "column_mappings": sa.Table(
            "column_mappings",
            metadata,
            sa.Column("name", sa.Text(), primary_key=True),
            sa.Column("layer", sa.Text(), nullable=False),
            sa.Column("mapping", sa.Text(), nullable=False),  # JSON: columns, constants
            sa.Column("saved_by", sa.Text(), nullable=False),
            sa.Column("saved_at", sa.Text(), nullable=False),
        ),
        "import_log": sa.Table(
            "import_log",
            metadata,
            sa.Column("import_id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("at", sa.Text(), nullable=False),
            sa.Column("by", sa.Text(), nullable=False),
            sa.Column("mode", sa.Text(), nullable=False),
            sa.Column("files", sa.Text(), nullable=False),  # JSON list of names
            sa.Column("summary", sa.Text(), nullable=False),  # JSON: rows per layer, deletions
            sqlite_autoincrement=True,
        ),
    }


def session_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """The ``sessions`` (server-side logins) and ``login_failures`` (lockout) tables.

    Times are ISO 8601 UTC strings, which compare in time order.
    """
    return {
        "sessions": sa.Table(
            "sessions",
            metadata,
            sa.Column("session", sa.Text(), primary_key=True),  # SHA-256 of the session id
            sa.Column("username", sa.Text(), nullable=False, index=True),
            # digest of the user's password hash at login: a new password ends the session
            sa.Column("password_tag", sa.Text(), nullable=False),
            sa.Column("created_at", sa.Text(), nullable=False),
            sa.Column("expires_at", sa.Text(), nullable=False),
        ),
        "login_failures": sa.Table(
            "login_failures",
            metadata,
            sa.Column("key", sa.Text(), primary_key=True),  # "user:<name>" or "addr:<ip>"
            sa.Column("failures", sa.Integer(), nullable=False),
            sa.Column("first_at", sa.Text(), nullable=False),
            sa.Column("locked_until", sa.Text(), nullable=True),
        ),
    }


def event_table(metadata: sa.MetaData, dialect: str) -> sa.Table:
    """The ``events`` table: model.EVENT_COLUMNS plus bbox, source file and who imported."""
    columns: list[sa.Column] = []
    for name in model.EVENT_COLUMNS:
        if name == "event_id":
            columns.append(sa.Column(name, sa.Text(), primary_key=True))
        elif name == "geometry":
            columns.append(sa.Column(name, _geometry_type(dialect), nullable=True))
            columns.extend(sa.Column(b, sa.Float(), nullable=True) for b in BBOX_COLUMNS)
        elif name == "building_distance_m":
            columns.append(sa.Column(name, sa.Float(), nullable=True))
        else:
            columns.append(
                sa.Column(name, sa.Text(), nullable=True, index=name in ("grid_id", "day"))
            )
    columns.extend(
        sa.Column(name, sa.Text(), nullable=True)
        for name in ("source_file", "imported_at", "imported_by")
    )
    return sa.Table("events", metadata, *columns)
