"""The store: one SQLAlchemy implementation over SQLite and PostgreSQL/PostGIS."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa

from mapserver import model
from mapserver.errors import NotFoundError, ValidationError
from mapserver.model import StatusRow
from mapserver.mvt import Tile
from mapserver.store import (
    audit,
    auth,
    counts,
    events,
    gridplans,
    history,
    imports,
    jobs,
    routeplans,
    sessions,
    snapshots,
    tiles,
)
from mapserver.store.engine import fetch_rows, make_engine, writer_gate
from mapserver.store.frames import build_frame, layer_values, paused_gc
from mapserver.store.groupcommit import GroupCommit, PendingWrite
from mapserver.store.schema import build_tables
from mapserver.store.writes import (
    StatusBatch,
    apply_status_batches,
    bulk_insert,
    check_ids,
    chunked,
    fill_persons,
    import_status,
    start_sequence,
    utc_now,
)

ROLES: tuple[str, ...] = ("admin", "commander", "planner", "dispatcher", "driver", "worker")
_IN_CHUNK = 20_000
REQUEST_IDS_KEPT_DAYS = 30  # a phone's queued entry sent later than this may be written again
COUNTED_LAYERS = frozenset({"grids", "buildings", "households", "status"})  # what counts read


@dataclass(frozen=True)
class User:
    """A person with a login: ``role`` is one of ROLES (see services/access.py);
    ``grid_id`` is the root of their area in the grid tree (None: none or all)."""

    username: str
    role: str
    grid_id: str | None = None


class Store:
    """All reads and writes of the canonical layers (see model.py), the change log,
    users/tokens and jobs. Every write method is one transaction.

    Geometries are held in EPSG:4326 (lon, lat); each geometry table also keeps
    its bounding box (minx, miny, maxx, maxy) for plain-SQL bbox filters.
    """

    url: str
    dialect: str  # "sqlite" | "postgresql"

    def __init__(
        self, url: str, *, pool_size: int | None = None, read_url: str | None = None
    ) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        self.dialect = self.engine.dialect.name
        self.metadata, self.tables = build_tables(self.dialect)
        self._writer = self.engine.execution_options(mapserver_write=True)
        # Reads on PostgreSQL without BEGIN and ROLLBACK around them: one round trip instead
        # of three (under READ COMMITTED each statement has its own snapshot either way).
        # SQLite reads keep their transaction: it holds one snapshot for a whole read.
        self._reader = (
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.dialect == "postgresql"
            else self.engine
        )
        # The map's reads (layers, counts, the change log, tiles) from a read replica when
        # one is named; logins, sessions, jobs, plans and write checks stay on the primary.
        self._replica_engine = make_engine(read_url, pool_size=pool_size) if read_url else None
        self._map_reader = (
            self._replica_engine.execution_options(isolation_level="AUTOCOMMIT")
            if self._replica_engine is not None
            else self._reader
        )
        self._gate = writer_gate(self.engine)
        self.layer_writes = 0  # layer changes made through this Store (read your own imports)
        self._status_writes = GroupCommit(self._commit_status)

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """Open one write transaction (committed on success, rolled back on error); on a
        SQLite file, writers wait in line at the :class:`WriterGate` first."""
        gate = self._gate.held() if self._gate else contextlib.nullcontext()
        with gate, self._writer.begin() as conn:
            yield conn

    def dispose(self) -> None:
        """Close every pooled database connection."""
        self.engine.dispose()
        if self._replica_engine is not None:
            self._replica_engine.dispose()
        if self._gate is not None:
            self._gate.close()

    # -- schema and imports ------------------------------------------------------------

    def create_schema(self) -> None:
        """Create every table if missing (PostGIS extension on PostgreSQL)."""
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7305170)")
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
            self.metadata.create_all(conn)
            for index in self.tables["changelog"].indexes:  # a store made before they were
                index.create(conn, checkfirst=True)
            audit.protect(conn)
            counts.ensure_counted(conn, self.tables)  # a store made before counts were kept

    def import_layers(
        self,
        layers: dict[str, pd.DataFrame],
        *,
        user: str = "import",
        mode: str | dict[str, str] = "replace",
        log: dict | None = None,
    ) -> None:
        """Write the given layers (keys from model.LAYERS) in one transaction.

        ``mode="replace"`` replaces each given layer whole; ``mode="merge"``
        replaces the rows whose ids the frames hold, adds the new ones and
        keeps every other stored row (status: by entity kind and id); a dict
        gives the mode per layer (layers it does not name are replaced).
        ``log`` (``{"files": [...], "summary": {...}}``) is appended to the
        import log in the same transaction.

        Parameters
        ----------
        layers
            Layer name -> frame with the columns of ``model.LAYERS[name]``;
            geometry layers as GeoDataFrames in EPSG:4326 (another CRS raises
            ValueError). Missing optional columns are stored as NULL.
        user
            Written as ``changed_by`` of the change-log rows of a "status" layer.

        A "status" layer is written as current status and each row is appended
        to the change log (old -> new) with ``changed_by=user``, source "import";
        missing ``persons`` become the entity's residents. On any error (ValueError,
        ValidationError naming layer, row and field) nothing is changed.
        """
        unknown = sorted(set(layers) - set(model.LAYERS))
        if unknown:
            msg = f"unknown layer(s) {', '.join(unknown)}; known: {', '.join(model.LAYERS)}"
            raise ValueError(msg)
        modes = mode if isinstance(mode, dict) else dict.fromkeys(layers, mode)
        if not set(modes.values()) <= {"replace", "merge"}:
            msg = f"import mode must be 'replace' or 'merge', not {mode!r}"
            raise ValueError(msg)
        with self._write() as conn:
            status_from = status_to = None
            for name in model.LAYERS:
                if name not in layers:
                    continue
                if name == "status":
                    merge = modes.get(name) == "merge"
                    status_from, status_to = import_status(
                        conn, self.tables, layers[name], user=user, merge=merge
                    )
                    continue
                names, columns = layer_values(layers[name], name, dialect=self.dialect)
                id_column = model.ID_COLUMN[name]
                check_ids(names, columns, name, (id_column,))
                table = self.tables[name]
                if modes.get(name) == "merge":
                    ids = columns[names.index(id_column)]
                    for chunk in chunked(ids):
                        conn.execute(sa.delete(table).where(table.c[id_column].in_(chunk)))
                else:
                    conn.execute(sa.delete(table))
                bulk_insert(conn, table, names, columns)
            if status_from is not None:
                fill_persons(conn, self.tables, after_seq=status_from)
            if set(layers) & COUNTED_LAYERS:
                counts.recount_all(conn, self.tables)

            shown = mode if isinstance(mode, str) else json.dumps(mode, sort_keys=True)
            import_id = None
            if log is not None:
                import_id = imports.log_import(
                    conn, self.tables["import_log"], user=user, mode=shown, **log
                )
            self._audit(
                conn,
                kind="import.layers",
                entity=None if import_id is None else f"import_log:{import_id}",
                new={
                    "mode": shown,
                    "rows": {name: len(frame) for name, frame in layers.items()},
                    "files": (log or {}).get("files"),
                    "changelog": None
                    if status_from is None or status_to == status_from
                    else [status_from + 1, status_to],
                    "as": user,
                },
                # A request's user when there is one (``user`` may be a label: "closures").
                actor=audit.current().actor_name() or user,
            )
            self._bump_data_version(conn)
            if set(layers) & COUNTED_LAYERS:  # the new version's counts, once the log is long
                last = start_sequence(conn, self.tables["changelog"])
                snapshots.maybe_take(conn, self.tables, last)
            if self.dialect == "postgresql":
                # Fresh statistics, or the planner scans a million rows for a few ids.
                for name in [*layers, *(["changelog"] if "status" in layers else [])]:
                    conn.exec_driver_sql(f"ANALYZE {name}")

    # -- column mappings and the import log -----------------------------------------------

    def save_mapping(self, name: str, layer: str, mapping: dict, *, user: str) -> None:
        """Save (or overwrite) a column mapping under a name, for reuse."""
        with self._write() as conn:
            imports.save_mapping(
                conn, self.tables["column_mappings"], name, layer, mapping, user=user
            )

    def get_mapping(self, name: str) -> dict:
        """The saved mapping ``name`` (NotFoundError when there is none)."""
        with self._reader.connect() as conn:
            return imports.get_mapping(conn, self.tables["column_mappings"], name)

    def list_mappings(self) -> list[dict]:
        """Every saved column mapping."""
        with self._reader.connect() as conn:
            return imports.list_mappings(conn, self.tables["column_mappings"])

    def recent_imports(self, *, limit: int = 50) -> list[dict]:
        """The latest imports (who, when, files, mode, rows per layer), newest first."""
        with self._reader.connect() as conn:
            return imports.recent_imports(conn, self.tables["import_log"], limit=limit)

    def _audit(self, conn: sa.Connection, **entry: object) -> int:
        """Append an audit row in this write's transaction (see store/audit.py)."""
        return audit.record(conn, self.tables["audit_log"], **entry)  # type: ignore[arg-type]

    def _bump_data_version(self, conn: sa.Connection) -> None:
        """Count one more change of the layers (not status) inside a write transaction."""
        self.layer_writes += 1
        meta = self.tables["meta"]
        current = conn.execute(sa.select(meta.c.value).where(meta.c.key == "data_version")).scalar()
        if current is None:
            conn.execute(sa.insert(meta).values(key="data_version", value=1))
        else:
            conn.execute(
                sa.update(meta).where(meta.c.key == "data_version").values(value=current + 1)
            )

    # -- micro-grid plan versions ---------------------------------------------------

    def save_plan(
        self,
        parent_id: str,
        *,
        base_version: int | None,
        level: str,
        cells: list[dict],
        assignment: dict[str, str],
        user: str,
        label: str | None = None,
        units: str = "buildings",
    ) -> int:
        """Save a draft plan of a parent grid's children; returns the new version id.

        ``cells`` are dicts with ``grid_id``, ``name``, optional ``person``/``phone``/
        ``target_households`` and ``geometry`` as WKT (EPSG:4326); ``assignment`` maps
        building ids (``units="grids"``: the ids of the grids below the children) to
        cell ids. Raises ConflictError (nothing written) when another version of the
        same parent was saved after ``base_version``.
        """
        data = {"level": level, "cells": cells, "assignment": assignment}
        if units == "grids":
            data["units"] = units
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("LOCK TABLE plan_versions IN EXCLUSIVE MODE")
            version = gridplans.insert_version(
                conn,
                self.tables["plan_versions"],
                parent_id,
                base_version=base_version,
                data=data,
                user=user,
                label=label,
            )
            self._audit(
                conn,
                kind="grid.save",
                entity=f"grid:{parent_id}",
                old={"version": base_version},
                new={"version": version, "cells": len(cells), "label": label},
                actor=user,
            )
            return version

    def get_plan(self, version_id: int) -> dict:
        """One plan version with its cells and assignment (NotFoundError when missing)."""
        with self._reader.connect() as conn:
            return gridplans.read_version(conn, self.tables["plan_versions"], version_id)

    def list_plans(self, parent_id: str) -> list[dict]:
        """Versions of a parent grid, newest first (without their data)."""
        with self._reader.connect() as conn:
            return gridplans.list_versions(conn, self.tables["plan_versions"], parent_id)

    def latest_plan_version(self, parent_id: str) -> int | None:
        """Id of the newest version of a parent grid, any state."""
        with self._reader.connect() as conn:
            latest = gridplans.latest_version(conn, self.tables["plan_versions"], parent_id)
        return None if latest is None else int(latest["version_id"])

    def publish_plan(self, version_id: int, *, user: str | None = None) -> dict:
        """Make a version the live children of its parent grid, in one transaction.

        ``user`` is who publishes, for the audit log (default: the bound request's user).
        """
        with self._write() as conn:
            before = self._published_version(conn, version_id)
            result = gridplans.publish_version(conn, self.tables, version_id, dialect=self.dialect)
            counts.recount_all(conn, self.tables)  # buildings may have moved between cells
            self._audit(
                conn,
                kind="grid.publish",
                entity=f"grid:{result['parent_id']}",
                old={"version": before},
                new={"version": version_id, "cells": result["cells"]},
                actor=user,
            )
            self._bump_data_version(conn)
        return result

    def _published_version(self, conn: sa.Connection, version_id: int) -> int | None:
        """The version now published for the parent grid of ``version_id`` (None: none)."""
        table = self.tables["plan_versions"]
        parent = sa.select(table.c.parent_id).where(table.c.version_id == version_id)
        query = sa.select(sa.func.max(table.c.version_id)).where(
            table.c.parent_id == parent.scalar_subquery(), table.c.state == "published"
        )
        return conn.execute(query).scalar()

    # -- route plans and stop events ------------------------------------------------

    def save_route_plan(
        self, *, kind: str, name: str, data: dict, problem: dict | None = None, user: str
    ) -> str:
        """Save a delivery or patrol plan (JSON ``data``; ``problem``: the JSON data
        re-planning needs, kept apart); returns its id."""
        with self._write() as conn:
            plan_id = routeplans.insert_plan(
                conn,
                self.tables,
                kind=kind,
                name=name,
                data=data,
                problem=problem,
                user=user,
            )
            self._audit(
                conn,
                kind="route_plan.create",
                entity=f"route_plan:{plan_id}",
                new={"kind": kind, "name": name},
                actor=user,
            )
            return plan_id

    def rename_route_plan(self, plan_id: str, name: str, *, user: str) -> None:
        """Give a saved plan a name of the dispatcher's choosing (audited)."""
        table = self.tables["route_plans"]
        with self._write() as conn:
            before = routeplans.read_plan(conn, table, plan_id)["name"]
            conn.execute(table.update().where(table.c.plan_id == plan_id).values(name=name))
            self._audit(
                conn,
                kind="route_plan.rename",
                entity=f"route_plan:{plan_id}",
                old={"name": before},
                new={"name": name},
                actor=user,
            )

    def archive_route_plan(self, plan_id: str, archived: bool, *, user: str) -> None:
        """Put a plan away (or take it back out): it stays, listed apart (audited)."""
        table = self.tables["route_plan_archive"]
        with self._write() as conn:
            routeplans.read_plan(conn, self.tables["route_plans"], plan_id)  # NotFoundError
            conn.execute(table.delete().where(table.c.plan_id == plan_id))
            if archived:
                conn.execute(
                    table.insert().values(plan_id=plan_id, archived_at=utc_now(), username=user)
                )
            self._audit(
                conn,
                kind="route_plan.archive",
                entity=f"route_plan:{plan_id}",
                new={"archived": archived},
                actor=user,
            )

    def delete_route_plan(self, plan_id: str, *, user: str) -> None:
        """Delete a saved plan with its stop marks, drivers and re-planning data (audited)."""
        plans = self.tables["route_plans"]
        with self._write() as conn:
            found = routeplans.read_plan(conn, plans, plan_id)
            for name in ("stop_events", "route_drivers", "route_problems", "route_plan_archive"):
                table = self.tables[name]
                conn.execute(table.delete().where(table.c.plan_id == plan_id))
            conn.execute(plans.delete().where(plans.c.plan_id == plan_id))
            self._audit(
                conn,
                kind="route_plan.delete",
                entity=f"route_plan:{plan_id}",
                old={"kind": found["kind"], "name": found["name"]},
                actor=user,
            )

    def record_checkin(self, plan_id: str, checkpoint_id: str, *, user: str) -> dict:
        """Note that ``user`` passed ``checkpoint_id`` on patrol plan ``plan_id`` now."""
        table = self.tables["patrol_checkins"]
        row = {"plan_id": plan_id, "checkpoint_id": checkpoint_id, "username": user}
        row["at"] = utc_now()
        with self._write() as conn:
            seq = conn.execute(table.insert().values(**row)).inserted_primary_key[0]
        return {"seq": int(seq), **row}

    def read_checkins(self, plan_id: str) -> list[dict]:
        """The check-ins of a patrol plan, oldest first."""
        table = self.tables["patrol_checkins"]
        query = sa.select(table).where(table.c.plan_id == plan_id).order_by(table.c.seq)
        with self._reader.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def read_checkins_since(self, since: datetime) -> list[dict]:
        """Every plan's check-ins at or after ``since``, oldest first."""
        table = self.tables["patrol_checkins"]
        after = since.astimezone(UTC).isoformat(timespec="milliseconds")
        query = sa.select(table).where(table.c.at >= after).order_by(table.c.seq)
        with self._reader.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def get_route_plan(self, plan_id: str) -> dict:
        """A saved plan (``data`` decoded); NotFoundError when missing."""
        with self._reader.connect() as conn:
            return routeplans.read_plan(conn, self.tables["route_plans"], plan_id)

    def get_route_problem(self, plan_id: str) -> dict | None:
        """The re-planning data saved with a plan (None when it was saved without)."""
        with self._reader.connect() as conn:
            return routeplans.read_problem(conn, self.tables["route_problems"], plan_id)

    def list_route_plans(self, *, kind: str | None = None) -> list[dict]:
        """Saved plans, newest first, without their data; ``archived`` says which were put
        away."""
        archive = self.tables["route_plan_archive"]
        with self._reader.connect() as conn:
            plans = routeplans.list_plans(conn, self.tables["route_plans"], kind)
            away = set(conn.execute(sa.select(archive.c.plan_id)).scalars())
        for plan in plans:
            plan["archived"] = plan["plan_id"] in away
        return plans

    def record_stop_event(
        self,
        plan_id: str,
        route_id: str,
        stop_id: str,
        *,
        state: str,
        reason: str | None = None,
        user: str,
    ) -> int:
        """Record a stop delivered / failed (with reason) / pending again; returns its seq."""
        table = self.tables["stop_events"]
        with self._write() as conn:
            before = conn.execute(
                sa.select(table.c.state, table.c.reason)
                .where(
                    table.c.plan_id == plan_id,
                    table.c.route_id == route_id,
                    table.c.stop_id == stop_id,
                )
                .order_by(table.c.seq.desc())
                .limit(1)
            ).first()
            seq = routeplans.insert_stop_event(
                conn,
                table,
                plan_id=plan_id,
                route_id=route_id,
                stop_id=stop_id,
                state=state,
                reason=reason,
                user=user,
            )
            self._audit(
                conn,
                kind="stop.mark",
                entity=f"stop:{plan_id}/{route_id}/{stop_id}",
                old=None if before is None else {"state": before.state, "reason": before.reason},
                new={"state": state, "reason": reason, "seq": seq},
                actor=user,
            )
            return seq

    def stop_states(self, plan_id: str) -> dict[tuple[str, str], dict]:
        """Latest event per (route id, stop id) of a plan."""
        with self._reader.connect() as conn:
            return routeplans.stop_states(conn, self.tables["stop_events"], plan_id)

    def last_stop_event(self) -> int:
        """Highest stop-event sequence number (0 when none): the map's delivery signal."""
        table = self.tables["stop_events"]
        with self._reader.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(table.c.seq))).scalar() or 0)

    def republish_plan(self, parent_id: str, version_id: int, *, user: str) -> dict:
        """Publish an earlier version again as a new version, in one transaction."""
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("LOCK TABLE plan_versions IN EXCLUSIVE MODE")
            table = self.tables["plan_versions"]
            old = gridplans.read_version(conn, table, version_id)
            if old["parent_id"] != parent_id:
                msg = f"version {version_id} is not a plan of '{parent_id}'"
                raise ValueError(msg)
            latest = gridplans.latest_version(conn, table, parent_id)
            new = gridplans.insert_version(
                conn,
                table,
                parent_id,
                base_version=None if latest is None else latest["version_id"],
                data=old["data"],
                user=user,
                label=f"rollback to {version_id}",
            )
            before = self._published_version(conn, new)
            result = gridplans.publish_version(conn, self.tables, new, dialect=self.dialect)
            counts.recount_all(conn, self.tables)
            self._audit(
                conn,
                kind="grid.rollback",
                entity=f"grid:{parent_id}",
                old={"version": before},
                new={"version": new, "from_version": version_id, "cells": result["cells"]},
                actor=user,
            )
            self._bump_data_version(conn)
        return result

    def data_version(self) -> int:
        """A number that grows with every import of layers, so caches know when to re-read."""
        meta = self.tables["meta"]
        with self._map_reader.connect() as conn:
            value = conn.execute(
                sa.select(meta.c.value).where(meta.c.key == "data_version")
            ).scalar()
        return int(value or 0)

    # -- reads -------------------------------------------------------------------------

    def _columns(self, table: sa.Table) -> list[sa.ColumnElement]:
        """Return the selectable columns of a table, geometry as WKB."""
        out: list[sa.ColumnElement] = []
        for column in table.columns:
            if column.name == "geometry" and self.dialect == "postgresql":
                out.append(sa.func.ST_AsBinary(column, type_=sa.LargeBinary).label("geometry"))
            else:
                out.append(column)
        return out

    def _read(
        self,
        layer: str,
        conditions: Sequence[sa.ColumnElement] = (),
        *,
        within: tuple[sa.Column, Sequence[str]] | None = None,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Read a layer's model columns (or ``columns`` of them) with filters; ``within`` is
        (column, allowed values); the first ``limit`` rows by key when given."""
        table = self.tables[layer]
        names = list(model.LAYERS[layer])
        if columns is not None:
            unknown = sorted(set(columns) - set(names))
            if unknown:
                msg = f"{layer} has no column(s) {', '.join(unknown)}"
                raise ValueError(msg)
            names = [n for n in names if n in columns]
        selected = [c for c in self._columns(table) if c.name in names]
        order = list(table.primary_key.columns)
        rows: list = []
        with self._map_reader.connect() as conn, paused_gc():
            if within is None:
                query = sa.select(*selected).where(*conditions).order_by(*order).limit(limit)
                rows = fetch_rows(conn, query)
            else:
                column, values = within
                wanted = sorted({str(v) for v in values})
                for start in range(0, len(wanted), _IN_CHUNK):
                    chunk = wanted[start : start + _IN_CHUNK]
                    query = sa.select(*selected).where(*conditions, column.in_(chunk))
                    rows.extend(fetch_rows(conn, query))
                key = [[c.name for c in selected].index(k.name) for k in order]
                rows.sort(key=lambda r: tuple(r[i] for i in key))
                rows = rows if limit is None else rows[:limit]
            return build_frame([c.name for c in selected], rows, geometry="geometry" in names)

    def _bbox(self, layer: str, bbox: Sequence[float]) -> list[sa.ColumnElement]:
        """Return conditions keeping features whose bounding box meets ``bbox`` (EPSG:4326)."""
        minx, miny, maxx, maxy = (float(v) for v in bbox)
        if minx > maxx or miny > maxy:
            msg = f"bbox {tuple(bbox)} is not (minx, miny, maxx, maxy)"
            raise ValueError(msg)
        table = self.tables[layer]
        conditions = [
            table.c.maxx >= minx,
            table.c.minx <= maxx,
            table.c.maxy >= miny,
            table.c.miny <= maxy,
        ]
        if self.dialect == "postgresql":
            envelope = sa.func.ST_MakeEnvelope(minx, miny, maxx, maxy, 4326)
            conditions.append(table.c.geometry.op("&&")(envelope))
        return conditions

    def read_grids(
        self,
        *,
        level: str | Sequence[str] | None = None,
        parent_id: str | None = None,
        bbox: Sequence[float] | None = None,
        ids: Sequence[str] | None = None,
    ) -> gpd.GeoDataFrame:
        """Grids (model.GRID_COLUMNS, EPSG:4326) filtered by level(s), parent, bbox and ids.

        ``parent_id=""`` selects the roots; ``bbox`` is (minx, miny, maxx, maxy)
        in degrees (EPSG:4326) and keeps grids whose bounding box meets it.
        """
        table = self.tables["grids"]
        conditions: list[sa.ColumnElement] = []
        if level is not None:
            levels = [level] if isinstance(level, str) else list(level)
            conditions.append(table.c.level.in_(levels))
        if parent_id is not None:
            if parent_id == "":
                conditions.append(sa.or_(table.c.parent_id.is_(None), table.c.parent_id == ""))
            else:
                conditions.append(table.c.parent_id == parent_id)
        if bbox is not None:
            conditions.extend(self._bbox("grids", bbox))
        within = None if ids is None else (table.c.grid_id, ids)
        return self._read("grids", conditions, within=within)

    def read_buildings(
        self,
        *,
        grid_ids: Sequence[str] | None = None,
        bbox: Sequence[float] | None = None,
        ids: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> gpd.GeoDataFrame:
        """Buildings (model.BUILDING_COLUMNS, EPSG:4326) filtered by leaf grid ids, bbox or ids;
        the first ``limit`` by id when given.

        ``bbox`` is (minx, miny, maxx, maxy) in degrees (EPSG:4326).
        """
        table = self.tables["buildings"]
        conditions: list[sa.ColumnElement] = []
        within = None
        if grid_ids is not None:
            within = (table.c.grid_id, grid_ids)
        if ids is not None:
            if within is not None:
                conditions.append(table.c.grid_id.in_(sorted({str(g) for g in grid_ids})))
            within = (table.c.building_id, ids)
        if bbox is not None:
            conditions.extend(self._bbox("buildings", bbox))
        return self._read("buildings", conditions, within=within, limit=limit)

    def building_count(self) -> int:
        """How many buildings the district has."""
        table = self.tables["buildings"]
        with self._map_reader.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

    def building_grids(self, building_ids: Iterable[str]) -> dict[str, str | None]:
        """The grid of each of ``building_ids`` that exists (building_id -> grid_id or None)."""
        table = self.tables["buildings"]
        return self._pairs(table.c.building_id, table.c.grid_id, building_ids, self._map_reader)

    def _pairs(
        self, key: sa.Column, value: sa.Column, ids: Iterable[str], reader: sa.Engine
    ) -> dict:
        """``key -> value`` of the rows whose ``key`` is one of ``ids``, one query per chunk."""
        wanted = sorted({str(i) for i in ids})
        found: dict = {}
        query = sa.select(key, value)
        with reader.connect() as conn:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                found.update(fetch_rows(conn, query.where(key.in_(chunk))))
        return found

    def buildings_under(self, grid_ids: Iterable[str], *, limit: int | None = None) -> list[str]:
        """Ids of the buildings whose grid is one of ``grid_ids``, sorted (the first
        ``limit`` when given)."""
        table = self.tables["buildings"]
        grids = sorted({str(g) for g in grid_ids})
        found: list[str] = []
        with self._map_reader.connect() as conn:
            for start in range(0, len(grids), _IN_CHUNK):
                query = sa.select(table.c.building_id).where(
                    table.c.grid_id.in_(grids[start : start + _IN_CHUNK])
                )
                found.extend(row[0] for row in fetch_rows(conn, query))
        found.sort()
        return found if limit is None else found[:limit]

    def search_buildings(self, query: str, *, limit: int = 20) -> pd.DataFrame:
        """Buildings whose id or name contains ``query`` (any case), first ``limit`` by id."""
        table = self.tables["buildings"]
        needle = query.strip().lower()
        matches = sa.or_(
            sa.func.lower(table.c.building_id).contains(needle, autoescape=True),
            sa.func.lower(table.c.name).contains(needle, autoescape=True),
        )
        return self._read("buildings", [matches], limit=limit)

    def search_households(self, query: str, *, limit: int = 20) -> pd.DataFrame:
        """Households (model.HOUSEHOLD_COLUMNS) whose room is ``query`` ("502"), or whose
        unit and room are ("1-502"), or whose id contains it; "5栋 502" finds room 502 of the
        buildings whose id or name contains "5栋". First ``limit`` by id."""
        h = self.tables["households"]
        b = self.tables["buildings"]
        words = query.strip().lower().split()
        if not words:
            return pd.DataFrame(columns=list(model.HOUSEHOLD_COLUMNS))
        room = words[-1]
        # rooms are written 502 or 0502, units 1 or 01: compare without leading zeros
        bare = "-".join(part.lstrip("0") for part in room.split("-"))
        is_room = sa.or_(
            sa.func.ltrim(sa.func.lower(h.c.room), "0") == bare,
            sa.func.ltrim(h.c.unit, "0") + "-" + sa.func.ltrim(sa.func.lower(h.c.room), "0")
            == bare,
        )
        if len(words) > 1:
            place = " ".join(words[:-1])
            inside = sa.select(b.c.building_id).where(
                sa.or_(
                    sa.func.lower(b.c.building_id).contains(place, autoescape=True),
                    sa.func.lower(b.c.name).contains(place, autoescape=True),
                )
            )
            matches = sa.and_(is_room, h.c.building_id.in_(inside))
        else:
            matches = sa.or_(
                is_room, sa.func.lower(h.c.household_id).contains(room, autoescape=True)
            )
        query_rows = (
            sa.select(*[h.c[c] for c in model.HOUSEHOLD_COLUMNS])
            .where(matches)
            .order_by(h.c.household_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return pd.DataFrame(
                conn.execute(query_rows).fetchall(), columns=list(model.HOUSEHOLD_COLUMNS)
            )

    def read_households(self, *, building_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """Households (model.HOUSEHOLD_COLUMNS), optionally only those of the given buildings."""
        table = self.tables["households"]
        within = None if building_ids is None else (table.c.building_id, building_ids)
        return self._read("households", within=within)

    def read_features(
        self,
        layer: str,
        *,
        bbox: Sequence[float] | None = None,
        ids: Iterable[str] | None = None,
        columns: Sequence[str] | None = None,
        level: str | None = None,
    ) -> pd.DataFrame:
        """Rows of a geometry layer whose bounding box meets ``bbox`` (degrees) and/or whose
        id is one of ``ids`` (grids of ``level`` only when given), with ``columns`` or every
        model column: what one map tile draws, or the part of a layer a solver needs."""
        conditions = [] if bbox is None else self._bbox(layer, bbox)
        if level is not None:
            conditions.append(self.tables[layer].c.level == level)
        table = self.tables[layer]
        within = None if ids is None else (table.c[model.ID_COLUMN[layer]], list(ids))
        return self._read(layer, conditions, within=within, columns=columns)

    def vector_tile(
        self,
        layer: str,
        tile: Tile,
        *,
        name: str,
        properties: Sequence[str],
        level: str | None = None,
    ) -> bytes | None:
        """The rows of ``layer`` as the tile layer ``name`` of one vector tile, encoded by
        PostGIS (``ST_AsMVT``); None on SQLite, where the caller encodes
        (:func:`mapserver.mvt.encode_tile`)."""
        if self.engine.dialect.name != "postgresql":
            return None
        with self._map_reader.connect() as conn:
            return tiles.postgis_tile(
                conn,
                self.tables[layer],
                name,
                tile,
                id_column=model.ID_COLUMN[layer],
                properties=properties,
                level=level,
            )

    def existing_entities(self, ids: Iterable[str]) -> tuple[set[str], set[str]]:
        """(household ids, building ids) among ``ids``, in one query per chunk (a status
        batch is checked without holding every id of the district)."""
        h, b = self.tables["households"], self.tables["buildings"]
        wanted = sorted({str(i) for i in ids})
        households: set[str] = set()
        buildings: set[str] = set()
        with self._reader.connect() as conn:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                query = sa.union_all(
                    sa.select(sa.literal("h"), h.c.household_id).where(h.c.household_id.in_(chunk)),
                    sa.select(sa.literal("b"), b.c.building_id).where(b.c.building_id.in_(chunk)),
                )
                for kind, entity_id in fetch_rows(conn, query):
                    (households if kind == "h" else buildings).add(entity_id)
        return households, buildings

    def household_buildings(self, household_ids: Iterable[str]) -> dict[str, str]:
        """The building of each of ``household_ids`` that exists (household_id -> building_id)."""
        table = self.tables["households"]
        return self._pairs(table.c.household_id, table.c.building_id, household_ids, self._reader)

    def read_layer(self, name: str) -> pd.DataFrame:
        """Any layer of model.LAYERS whole (GeoDataFrame in EPSG:4326 for geometry layers)."""
        if name not in model.LAYERS:
            msg = f"unknown layer {name!r}; known: {', '.join(model.LAYERS)}"
            raise ValueError(msg)
        return self._read(name)

    def read_status(
        self,
        *,
        entity_kind: str | None = None,
        ids: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Current status rows (model.STATUS_COLUMNS, or only ``columns``), optionally of
        one entity kind and/or only the given entity ids; ordered by (entity_kind, entity_id)."""
        table = self.tables["status"]
        conditions = [] if entity_kind is None else [table.c.entity_kind == entity_kind]
        within = None if ids is None else (table.c.entity_id, ids)
        return self._read("status", conditions, within=within, columns=columns)

    # -- status writes and the change log ----------------------------------------------

    def claim_request(self, username: str, request_id: str) -> bool:
        """Note a client's request id (a phone's queued entry); False when ``username`` sent
        that id before: the write it stands for was made and must not be made again."""
        table = self.tables["client_requests"]
        try:
            with self._write() as conn:
                seen = conn.execute(
                    sa.select(table.c.request_id).where(
                        table.c.username == username, table.c.request_id == request_id
                    )
                ).first()
                if seen is not None:
                    return False
                now = utc_now()
                conn.execute(
                    table.insert().values(username=username, request_id=request_id, created_at=now)
                )
                cutoff = datetime.fromisoformat(now) - timedelta(days=REQUEST_IDS_KEPT_DAYS)
                conn.execute(  # ids older than any phone's queue are forgotten
                    table.delete().where(
                        table.c.created_at < cutoff.isoformat(timespec="milliseconds")
                    )
                )
        except sa.exc.IntegrityError:  # the same id claimed at the same moment elsewhere
            return False
        return True

    def release_request(self, username: str, request_id: str) -> None:
        """Forget a claimed request id whose write failed: the client may send it again."""
        table = self.tables["client_requests"]
        with self._write() as conn:
            conn.execute(
                table.delete().where(table.c.username == username, table.c.request_id == request_id)
            )

    def apply_status(self, rows: Sequence[StatusRow], *, user: str, source: str) -> int:
        """Write status rows in one transaction and append each change to the change log.

        Every entity must exist; otherwise nothing is written and ValidationError is
        raised naming the row (1-based, ``file`` = ``source``). ``persons`` None
        takes the household's or building's residents. Returns the last sequence
        number (the current one when ``rows`` is empty). Writes arriving together
        from several threads share a transaction (:mod:`mapserver.store.groupcommit`),
        each all or nothing on its own.
        """
        if not rows:
            return self.last_seq()
        return self._status_writes.submit(rows, user=user, source=source)

    def _commit_status(self, batch: list[PendingWrite]) -> None:
        """Write a group of callers' status rows in one transaction, each with its audit row."""
        with self._write() as conn:
            answers = apply_status_batches(
                conn, self.tables, [StatusBatch(w.rows, w.user, w.source) for w in batch]
            )
            written = [
                row
                for write, answer in zip(batch, answers, strict=True)
                if not isinstance(answer, ValidationError)
                for row in write.rows
            ]
            counts.recount_status_rows(conn, self.tables, written)
            done = [a for a in answers if not isinstance(a, ValidationError)]
            if done:
                snapshots.maybe_take(conn, self.tables, max(done))
            for write, answer in zip(batch, answers, strict=True):
                if isinstance(answer, ValidationError):
                    continue
                rows = write.rows
                first = answer - len(rows) + 1
                entry: dict = {"rows": len(rows), "source": write.source}
                entry["changelog"] = [first, answer]
                if len(rows) == 1:
                    entry.update(status=rows[0].status, persons=rows[0].persons)
                with audit.bound(write.context):
                    self._audit(
                        conn,
                        kind="status.write",
                        entity=f"{rows[0].entity_kind}:{rows[0].entity_id}"
                        if len(rows) == 1
                        else audit.seq_range(first, answer),
                        new=entry,
                        actor=write.user,
                    )
        for write, answer in zip(batch, answers, strict=True):  # committed: tell each caller
            if isinstance(answer, ValidationError):
                write.error = answer
            else:
                write.result = answer

    def read_counts(
        self, *, level: str | None = None, ids: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """Stored status counts (columns level, entity_id, code, households, persons):
        of one ``level`` ("building", "grid", "total") and some entities if given."""
        with self._map_reader.connect() as conn:
            return counts.read_counts(conn, self.tables["status_counts"], level=level, ids=ids)

    def recount(self) -> int:
        """Recount every stored status count from the layers and the status table (a
        repair: writes keep them current); returns the count rows written."""
        with self._write() as conn:
            return counts.recount_all(conn, self.tables)

    def buildings_changed(self, since: int, upto: int) -> tuple[int, dict[str, str | None]]:
        """(change-log rows, building -> grid of the buildings whose counts they can move)
        for ``since < seq <= upto``: a household's building or a building itself. One pass
        in the database: the answer is bounded by the buildings, however many households
        changed."""
        with self._map_reader.connect() as conn:
            return history.buildings_changed(conn, self.tables, since, upto)

    def counts_as_of(self, seq: int) -> tuple[int, pd.DataFrame]:
        """(the latest seq, count rows of every grid and the district as of change-log
        sequence number ``seq``; columns of ``status.counts.COLUMNS``), read in one
        consistent snapshot of the database: today's counts with the buildings changed
        since counted again by their status then (:mod:`mapserver.status.history`)."""
        engine = self._map_reader
        if self.dialect == "postgresql":
            engine = engine.execution_options(isolation_level="REPEATABLE READ")
        with engine.connect() as conn, conn.begin():
            version = snapshots.version_now(conn, self.tables)
            return history.counts_as_of(conn, self.tables, int(seq), version)

    def history_span(self) -> dict:
        """When the change log begins and ends (``first``, ``last``: ISO 8601 UTC, None when
        empty) and its last sequence number (``seq``)."""
        with self._map_reader.connect() as conn:
            return history.span(conn, self.tables["changelog"])

    def seq_at(self, moment: str) -> int:
        """The last change-log sequence number written at or before ``moment`` (ISO 8601
        in UTC, as the log writes it), 0 before the first."""
        with self._map_reader.connect() as conn:
            return history.seq_at(conn, self.tables["changelog"], moment)

    def changes_since(self, seq: int, *, limit: int = 10000) -> pd.DataFrame:
        """Change-log rows with ``seq > seq`` in order (model.CHANGELOG_COLUMNS).

        At most ``limit`` rows: ask again from the last seq returned for more.
        """
        table = self.tables["changelog"]
        query = (
            sa.select(*(table.c[n] for n in model.CHANGELOG_COLUMNS))
            .where(table.c.seq > int(seq))
            .order_by(table.c.seq)
            .limit(int(limit))
        )
        with self._map_reader.connect() as conn, paused_gc():
            rows = fetch_rows(conn, query)
            return build_frame(list(model.CHANGELOG_COLUMNS), rows, geometry=False)

    def last_seq(self) -> int:
        """Highest committed change-log sequence number (0 when empty)."""
        table = self.tables["changelog"]
        with self._map_reader.connect() as conn:
            return conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(table.c.seq), 0))
            ).scalar_one()

    # -- the audit log -----------------------------------------------------------------

    def record_audit(
        self,
        kind: str,
        *,
        entity: str | None = None,
        old: object = None,
        new: object = None,
        actor: str | None = None,
    ) -> int:
        """Append one audit row on its own (a login, success or failure); returns its seq.

        Changes made by the store are audited inside their own transactions; see
        :func:`mapserver.store.audit.record` for the fields.
        """
        with self._write() as conn:
            return self._audit(conn, kind=kind, entity=entity, old=old, new=new, actor=actor)

    def read_audit(
        self, where: audit.AuditFilter, *, limit: int = 200, before: int | None = None
    ) -> list[dict]:
        """Audit rows matching a filter, newest first (``before``: only seq below it)."""
        with self._reader.connect() as conn:
            return audit.read(conn, self.tables["audit_log"], where, limit=limit, before=before)

    def iter_audit(self, where: audit.AuditFilter) -> Iterator[dict]:
        """Every audit row matching a filter, oldest first, read in batches (exports)."""
        return audit.iterate(self.engine, self.tables["audit_log"], where)

    # -- inspection --------------------------------------------------------------------

    def row_counts(self) -> dict[str, int]:
        """Number of rows of every table (layers, changelog, users, tokens, jobs)."""
        with self._reader.connect() as conn:
            return {
                name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for name, table in self.tables.items()
            }

    def status_codes(self) -> list[str]:
        """The distinct status codes of the current status table, sorted."""
        table = self.tables["status"]
        with self._map_reader.connect() as conn:
            return sorted(conn.execute(sa.select(table.c.status).distinct()).scalars())

    def table_rows(self, name: str) -> list[tuple]:
        """Every row of a table, sorted, geometry as WKB hex, for before/after snapshots."""
        if name not in self.tables:
            msg = f"unknown table {name!r}; known: {', '.join(self.tables)}"
            raise ValueError(msg)
        with self._reader.connect() as conn:
            rows = conn.execute(sa.select(*self._columns(self.tables[name]))).all()
        out = [
            tuple(bytes(v).hex() if isinstance(v, bytes | memoryview) else v for v in row)
            for row in rows
        ]
        return sorted(
            out, key=lambda row: tuple((v is None, v if v is not None else 0) for v in row)
        )

    # -- events (points of cases or reports) ------------------------------------------

    def import_events(
        self,
        frame: gpd.GeoDataFrame,
        *,
        replace: bool = False,
        user: str,
        file: str | None = None,
        report: dict | None = None,
        rejoin: bool = False,
    ) -> dict[str, int]:
        """Write joined events in one transaction: merge by event id, or ``replace`` the layer.

        Each write is logged in ``import_log`` (who, when, file, mode, counts).
        See :func:`mapserver.store.events.write_events` for ``rejoin`` and the counts.
        """
        with self._write() as conn:
            counts = events.write_events(
                conn,
                self.tables,
                frame,
                replace=replace or rejoin,
                user=user,
                file=file,
                report=report,
                rejoin=rejoin,
            )
            mode = "rejoin" if rejoin else "replace" if replace else "merge"
            self._audit(
                conn,
                kind="import.events",
                entity="events",
                new={"mode": mode, "file": file, **counts},
                actor=user,
            )
            return counts

    def read_events(self, *, grid_ids: Sequence[str] | None = None) -> gpd.GeoDataFrame:
        """Stored events in EPSG:4326, optionally only those joined to ``grid_ids``."""
        with self._map_reader.connect() as conn:
            return events.read_events(
                conn, self.tables["events"], dialect=self.dialect, grid_ids=grid_ids
            )

    # -- users and tokens --------------------------------------------------------------

    def create_user(
        self, username: str, password: str, *, role: str = "worker", grid_id: str | None = None
    ) -> User:
        """Create or replace a user (password stored as a PBKDF2-SHA256 hash).

        Replacing a user is a password reset: their sessions and tokens end with it.
        """
        if role not in ROLES:
            msg = f"role {role!r} is not one of {', '.join(ROLES)}"
            raise ValueError(msg)
        if not username or not password:
            msg = "username and password must not be empty"
            raise ValueError(msg)
        table = self.tables["users"]
        values = {
            "username": username,
            "password_hash": auth.hash_password(password),
            "role": role,
            "grid_id": grid_id,
        }
        with self._write() as conn:
            found = self._user(conn, username)
            conn.execute(sa.delete(table).where(table.c.username == username))
            conn.execute(sa.insert(table), values)
            self._end_logins(conn, username)
            old = None if found is None else {"role": found[0].role, "grid_id": found[0].grid_id}
            self._audit(
                conn,
                kind="user.create",
                entity=f"user:{username}",
                old=old,
                new={"role": role, "grid_id": grid_id, "password": "set"},
            )
        return User(username=username, role=role, grid_id=grid_id)

    def _end_logins(self, conn: sa.Connection, username: str) -> int:
        """Delete every session and token of a user; return how many tokens went."""
        sessions_table = self.tables["sessions"]
        conn.execute(sa.delete(sessions_table).where(sessions_table.c.username == username))
        tokens = self.tables["tokens"]
        return conn.execute(sa.delete(tokens).where(tokens.c.username == username)).rowcount

    def _user(self, conn: sa.Connection, username: str) -> tuple[User, str] | None:
        """Return a user and their password hash."""
        table = self.tables["users"]
        row = conn.execute(sa.select(table).where(table.c.username == username)).first()
        if row is None:
            return None
        return User(username=row.username, role=row.role, grid_id=row.grid_id), row.password_hash

    def get_user(self, username: str) -> User | None:
        """The user with this name as the store has it now, or None."""
        with self._reader.connect() as conn:
            found = self._user(conn, username)
        return None if found is None else found[0]

    def check_password(self, username: str, password: str) -> User | None:
        """Return the user when the password matches, else None.

        An unknown username costs the same hash as a known one, so the answer time
        does not tell which usernames exist.
        """
        with self._reader.connect() as conn:
            found = self._user(conn, username)
        stored = auth.dummy_hash() if found is None else found[1]
        if not auth.verify_password(password, stored) or found is None:
            return None
        return found[0]

    def create_token(self, username: str) -> str:
        """Issue an API token for an existing user (only its SHA-256 digest is stored)."""
        token = auth.new_token()
        with self._write() as conn:
            if self._user(conn, username) is None:
                msg = f"user {username!r} does not exist"
                raise NotFoundError(msg)
            values = {
                "token": auth.token_digest(token),
                "username": username,
                "created_at": utc_now(),
            }
            conn.execute(sa.insert(self.tables["tokens"]), values)
            self._audit(conn, kind="token.create", entity=f"user:{username}")
        return token

    def user_for_token(
        self, token: str, *, max_age_days: float = 90.0, now: datetime | None = None
    ) -> User | None:
        """Return the user owning a token, or None (unknown, revoked or expired).

        A token expires ``max_age_days`` after its creation.
        """
        tokens, users = self.tables["tokens"], self.tables["users"]
        query = (
            sa.select(tokens.c.created_at, users.c.username, users.c.role, users.c.grid_id)
            .join(users, users.c.username == tokens.c.username)
            .where(tokens.c.token == auth.token_digest(token))
        )
        with self._reader.connect() as conn:
            row = conn.execute(query).first()
        if row is None or sessions.token_expired(
            row.created_at, max_age_days=max_age_days, now=now or datetime.now(UTC)
        ):
            return None
        return User(username=row.username, role=row.role, grid_id=row.grid_id)

    def revoke_tokens(self, username: str) -> int:
        """Revoke every API token of a user; return how many there were."""
        tokens = self.tables["tokens"]
        with self._write() as conn:
            count = conn.execute(sa.delete(tokens).where(tokens.c.username == username)).rowcount
            self._audit(conn, kind="token.revoke", entity=f"user:{username}", new={"tokens": count})
            return count

    def end_logins(self, username: str) -> int:
        """End every session and revoke every token of a user; return the tokens revoked."""
        with self._write() as conn:
            return self._end_logins(conn, username)

    # -- login sessions and lockout ------------------------------------------------------

    def open_session(
        self, username: str, *, hours: float = 12.0, now: datetime | None = None
    ) -> str:
        """Start a login session of ``hours`` for a user; return the session id (secret)."""
        with self._write() as conn:
            found = self._user(conn, username)
            if found is None:
                msg = f"user {username!r} does not exist"
                raise NotFoundError(msg)
            return sessions.open_session(
                conn,
                self.tables["sessions"],
                username,
                found[1],
                hours=hours,
                now=now or datetime.now(UTC),
            )

    def user_for_session(self, session_id: str, *, now: datetime | None = None) -> User | None:
        """Return the user of a live session, or None (unknown, ended or expired)."""
        with self._reader.connect() as conn:
            username = sessions.session_username(
                conn, self.tables, session_id, now=now or datetime.now(UTC)
            )
            found = None if username is None else self._user(conn, username)
        return None if found is None else found[0]

    def list_users(self) -> list[User]:
        """Every user, by name."""
        table = self.tables["users"]
        with self._reader.connect() as conn:
            rows = conn.execute(sa.select(table).order_by(table.c.username)).all()
        return [User(username=r.username, role=r.role, grid_id=r.grid_id) for r in rows]

    def update_user(
        self,
        username: str,
        *,
        role: str | None = None,
        grid_id: str | None = None,
        clear_grid: bool = False,
        password: str | None = None,
    ) -> User:
        """Change a user's role, grid (``clear_grid`` removes it) or password.

        Raises NotFoundError for an unknown user, ValueError for a bad role or an
        empty password.
        """
        if role is not None and role not in ROLES:
            msg = f"role {role!r} is not one of {', '.join(ROLES)}"
            raise ValueError(msg)
        if password is not None and not password:
            msg = "password must not be empty"
            raise ValueError(msg)
        table = self.tables["users"]
        values: dict = {}
        if role is not None:
            values["role"] = role
        if grid_id is not None or clear_grid:
            values["grid_id"] = None if clear_grid else grid_id
        if password is not None:
            values["password_hash"] = auth.hash_password(password)
        with self._write() as conn:
            found = self._user(conn, username)
            if found is None:
                msg = f"user {username!r} does not exist"
                raise NotFoundError(msg)
            if values:
                conn.execute(sa.update(table).where(table.c.username == username).values(values))
            if password is not None:  # a new password ends every session and token
                self._end_logins(conn, username)
            after = self._user(conn, username)[0]  # type: ignore[index]
            if values:
                self._audit(
                    conn,
                    kind="user.update",
                    entity=f"user:{username}",
                    old={"role": found[0].role, "grid_id": found[0].grid_id},
                    new={
                        "role": after.role,
                        "grid_id": after.grid_id,
                        **({"password": "changed"} if password is not None else {}),
                    },
                )
            return after

    def delete_user(self, username: str) -> None:
        """Remove a user, their sessions and API tokens; NotFoundError when there is none."""
        with self._write() as conn:
            found = self._user(conn, username)
            if found is None:
                msg = f"user {username!r} does not exist"
                raise NotFoundError(msg)
            for name in ("tokens", "sessions", "users"):
                table = self.tables[name]
                conn.execute(sa.delete(table).where(table.c.username == username))
            self._audit(
                conn,
                kind="user.remove",
                entity=f"user:{username}",
                old={"role": found[0].role, "grid_id": found[0].grid_id},
            )

    def assign_driver(self, plan_id: str, route_id: str, username: str | None) -> None:
        """Assign a route to a driver (None: unassign)."""
        table = self.tables["route_drivers"]
        with self._write() as conn:
            where = (table.c.plan_id == plan_id) & (table.c.route_id == route_id)
            before = conn.execute(sa.select(table.c.username).where(where)).scalar()
            conn.execute(sa.delete(table).where(where))
            if username is not None:
                values = {"plan_id": plan_id, "route_id": route_id, "username": username}
                conn.execute(sa.insert(table), values)
            self._audit(
                conn,
                kind="route.assign",
                entity=f"route:{plan_id}/{route_id}",
                old={"driver": before},
                new={"driver": username},
            )

    def route_drivers(self, plan_id: str) -> dict[str, str]:
        """Route id → assigned driver's username, for one plan."""
        table = self.tables["route_drivers"]
        with self._reader.connect() as conn:
            rows = conn.execute(
                sa.select(table.c.route_id, table.c.username).where(table.c.plan_id == plan_id)
            ).all()
        return {r.route_id: r.username for r in rows}

    def routes_of_driver(self, username: str) -> list[tuple[str, str]]:
        """(plan id, route id) of every route assigned to a driver."""
        table = self.tables["route_drivers"]
        with self._reader.connect() as conn:
            rows = conn.execute(
                sa.select(table.c.plan_id, table.c.route_id).where(table.c.username == username)
            ).all()
        return [(r.plan_id, r.route_id) for r in rows]

    def close_session(self, session_id: str) -> None:
        """End one session (logout)."""
        table = self.tables["sessions"]
        with self._write() as conn:
            conn.execute(sa.delete(table).where(table.c.session == auth.token_digest(session_id)))

    def login_lock(self, keys: Iterable[str], *, now: datetime | None = None) -> float:
        """Return the seconds left on the longest login lock of ``keys`` (0: not locked)."""
        with self._reader.connect() as conn:
            return sessions.lock_seconds(
                conn, self.tables["login_failures"], keys, now=now or datetime.now(UTC)
            )

    def record_login_failure(
        self, limits: Mapping[str, int], *, window_s: float, now: datetime | None = None
    ) -> None:
        """Count a failed login against each key (-> failures that lock it for ``window_s``)."""
        with self._write() as conn:
            sessions.record_failure(
                conn,
                self.tables["login_failures"],
                limits,
                window_s=window_s,
                now=now or datetime.now(UTC),
            )

    def clear_login_failures(self, keys: Iterable[str]) -> None:
        """Forget the failed logins and locks of ``keys`` (after a successful login)."""
        with self._write() as conn:
            sessions.clear_failures(conn, self.tables["login_failures"], keys)

    # -- jobs --------------------------------------------------------------------------

    def create_job(self, kind: str, params: dict) -> str:
        """Record a new queued job with JSON-serialisable ``params``; returns its id."""
        with self._write() as conn:
            return jobs.insert_job(conn, self.tables["jobs"], kind, params)

    def update_job(
        self,
        job_id: str,
        *,
        state: str | None = None,
        progress: float | None = None,
        result: dict | None = None,
        error: str | None = None,
    ) -> None:
        """Update a job's state (queued/running/done/failed), progress 0..1, result or error.

        Raises NotFoundError for an unknown job, ValueError for a bad state or progress.
        """
        values = jobs.job_changes(state=state, progress=progress, result=result, error=error)
        with self._write() as conn:
            jobs.update_job_row(conn, self.tables["jobs"], job_id, values)

    def get_job(self, job_id: str) -> dict | None:
        """Return a job as a dict (params and result decoded from JSON), or None."""
        with self._reader.connect() as conn:
            return jobs.read_job(conn, self.tables["jobs"], job_id)


def open_store(url: str, *, pool_size: int | None = None, read_url: str | None = None) -> Store:
    """Open the store at a SQLAlchemy URL and create its schema if missing.

    Parameters
    ----------
    url
        ``sqlite:///path/to/file.sqlite`` (parent folder created; WAL mode) or
        ``postgresql+psycopg://user@host/db`` (PostGIS extension created).
    pool_size
        PostgreSQL connections kept open (see ``Settings.db_pool``).
    read_url
        A read replica for the map's reads (``Settings.database_read_url``).
    """
    store = Store(url, pool_size=pool_size, read_url=read_url)
    store.create_schema()
    return store
