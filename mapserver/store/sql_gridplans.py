"""Grid plan versions of the store: drafts, publishing and rolling back a parent grid's children."""

from __future__ import annotations

import sqlalchemy as sa

from mapserver.store import (
    counts,
    gridplans,
)


class GridPlanStore:
    """The plans part of :class:`~mapserver.store.sql.Store` (a mixin: it uses the
    store's engines, tables and audit helper)."""

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
