"""The store: one SQLAlchemy implementation over SQLite and PostgreSQL/PostGIS."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa

from mapserver import model
from mapserver.errors import ValidationError
from mapserver.model import StatusRow
from mapserver.mvt import Tile
from mapserver.store import (
    audit,
    counts,
    history,
    imports,
    snapshots,
    tiles,
)
from mapserver.store.engine import fetch_rows, make_engine, writer_gate
from mapserver.store.frames import build_frame, layer_values, paused_gc, selectable
from mapserver.store.groupcommit import GroupCommit, PendingWrite
from mapserver.store.schema import build_tables
from mapserver.store.sql_gridplans import GridPlanStore
from mapserver.store.sql_records import RecordStore
from mapserver.store.sql_routeplans import RoutePlanStore
from mapserver.store.sql_users import UserStore
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

_IN_CHUNK = 20_000
REQUEST_IDS_KEPT_DAYS = 30  # a phone's queued entry sent later than this may be written again
COUNTED_LAYERS = frozenset({"grids", "buildings", "households", "status"})  # what counts read


class Store(GridPlanStore, RoutePlanStore, UserStore, RecordStore):
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
        return selectable(table, self.dialect)

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
