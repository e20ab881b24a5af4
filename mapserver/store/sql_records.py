"""Records the store keeps beside the layers: column mappings and the import log, the audit
log, the event layer, jobs, and what the tables hold (for inspection)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import geopandas as gpd
import sqlalchemy as sa

from mapserver.store import (
    audit,
    events,
    imports,
    jobs,
)


class RecordStore:
    """The records part of :class:`~mapserver.store.sql.Store` (a mixin: it uses the
    store's engines, tables and audit helper)."""

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
