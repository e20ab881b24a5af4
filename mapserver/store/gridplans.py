"""Micro-grid plan versions: drafts, publishing into the grid tree, conflicts between planners.

A version holds the cells (children of one parent grid) and the assignment of
buildings to them. Saving names the version it was based on; if another save for
the same parent came in between, the save is refused with a ConflictError and
nothing is written. Publishing replaces the parent's children in ``grids`` and
moves the buildings, in one transaction.
"""

from __future__ import annotations

import json

import geopandas as gpd
import sqlalchemy as sa
from shapely import wkt

from mapserver.errors import ConflictError, NotFoundError
from mapserver.model import STORAGE_CRS
from mapserver.store.frames import layer_values
from mapserver.store.writes import bulk_insert, utc_now

PLAN_STATES: tuple[str, ...] = ("draft", "published", "superseded")


def latest_version(conn: sa.Connection, table: sa.Table, parent_id: str) -> dict | None:
    """The newest version row of a parent grid (any state), or None."""
    row = (
        conn.execute(
            sa.select(table)
            .where(table.c.parent_id == parent_id)
            .order_by(table.c.version_id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def insert_version(
    conn: sa.Connection,
    table: sa.Table,
    parent_id: str,
    *,
    base_version: int | None,
    data: dict,
    user: str,
    label: str | None,
    state: str = "draft",
) -> int:
    """Save a version based on ``base_version``; ConflictError if the parent moved on."""
    latest = latest_version(conn, table, parent_id)
    if latest is not None and latest["version_id"] != base_version:
        msg = (
            f"grid '{parent_id}' was saved as version {latest['version_id']} by "
            f"{latest['created_by']} at {latest['created_at']} after the version you "
            f"started from ({base_version}); reload it and apply your edits again"
        )
        raise ConflictError(msg)
    result = conn.execute(
        sa.insert(table).values(
            parent_id=parent_id,
            base_version=base_version,
            state=state,
            label=label,
            created_by=user,
            created_at=utc_now(),
            data=json.dumps(data, ensure_ascii=False, sort_keys=True),
        )
    )
    return int(result.inserted_primary_key[0])


def read_version(conn: sa.Connection, table: sa.Table, version_id: int) -> dict:
    """One version with its data decoded; NotFoundError when missing."""
    row = conn.execute(sa.select(table).where(table.c.version_id == version_id)).mappings().first()
    if row is None:
        msg = f"plan version {version_id} not found"
        raise NotFoundError(msg)
    out = dict(row)
    out["data"] = json.loads(out["data"])
    return out


def list_versions(conn: sa.Connection, table: sa.Table, parent_id: str) -> list[dict]:
    """Every version of a parent, newest first, without their data."""
    columns = [c for c in table.columns if c.name != "data"]
    rows = conn.execute(
        sa.select(*columns)
        .where(table.c.parent_id == parent_id)
        .order_by(table.c.version_id.desc())
    ).mappings()
    return [dict(r) for r in rows]


def publish_version(
    conn: sa.Connection, tables: dict[str, sa.Table], version_id: int, *, dialect: str
) -> dict:
    """Make a version the parent's children: replace the child grids, and move the
    buildings (a plan of leaves) or the grids below the children (``units: grids``, a plan
    of a higher level: whole sub-grids move, their own subtrees with them).

    Raises ValueError when the children have sub-grids but the plan moves buildings (or
    the other way round), or when a building or sub-grid would be left in no cell.
    """
    plans, grids, buildings = tables["plan_versions"], tables["grids"], tables["buildings"]
    version = read_version(conn, plans, version_id)
    parent_id = version["parent_id"]
    data = version["data"]
    of_grids = data.get("units") == "grids"
    old_children = [
        r[0] for r in conn.execute(sa.select(grids.c.grid_id).where(grids.c.parent_id == parent_id))
    ]
    below = [
        r[0]
        for r in conn.execute(
            sa.select(grids.c.grid_id).where(grids.c.parent_id.in_(old_children or [""]))
        )
    ]
    if below and not of_grids:
        msg = (
            f"grid '{parent_id}' has sub-grids below its children (e.g. '{below[0]}'); "
            "open it again to plan its sub-grids"
        )
        raise ValueError(msg)
    if of_grids:
        held = set(below)
        what = "sub-grids"
    else:
        held = {
            r[0]
            for r in conn.execute(
                sa.select(buildings.c.building_id).where(
                    buildings.c.grid_id.in_([parent_id, *old_children])
                )
            )
        }
        what = "buildings"
    assignment: dict[str, str] = data["assignment"]
    cell_ids = {c["grid_id"] for c in data["cells"]}
    missing = sorted(held - set(assignment))
    if missing:
        msg = f"{what} in no cell of version {version_id}: {', '.join(missing[:5])}"
        raise ValueError(msg)
    strays = sorted({g for g in assignment.values() if g not in cell_ids})
    if strays:
        msg = f"version {version_id} assigns buildings to unknown cells: {', '.join(strays[:5])}"
        raise ValueError(msg)
    clash = conn.execute(
        sa.select(grids.c.grid_id).where(
            grids.c.grid_id.in_(cell_ids), grids.c.grid_id.not_in(old_children or [""])
        )
    ).first()
    if clash is not None:
        msg = f"cell id '{clash[0]}' is already used by another grid"
        raise ValueError(msg)

    frame = gpd.GeoDataFrame(
        [
            {
                "grid_id": c["grid_id"],
                "parent_id": parent_id,
                "level": data["level"],
                "name": c.get("name") or c["grid_id"],
                "person": c.get("person"),
                "phone": c.get("phone"),
                "target_households": c.get("target_households"),
                "area_class": c.get("area_class") or "none",
                "version": version_id,
                "geometry": wkt.loads(c["geometry"]),
            }
            for c in data["cells"]
        ],
        geometry="geometry",
        crs=STORAGE_CRS,
    )
    if old_children:
        conn.execute(sa.delete(grids).where(grids.c.grid_id.in_(old_children)))
    names, columns = layer_values(frame, "grids", dialect=dialect)
    bulk_insert(conn, grids, names, columns)
    if of_grids:  # whole sub-grids move under their new cell
        conn.execute(
            sa.update(grids)
            .where(grids.c.grid_id == sa.bindparam("u_id"))
            .values(parent_id=sa.bindparam("g_id")),
            [{"u_id": u, "g_id": g} for u, g in assignment.items()],
        )
    else:
        conn.execute(
            sa.update(buildings)
            .where(buildings.c.building_id == sa.bindparam("b_id"))
            .values(grid_id=sa.bindparam("g_id")),
            [{"b_id": b, "g_id": g} for b, g in assignment.items()],
        )
    conn.execute(
        sa.update(plans)
        .where(plans.c.parent_id == parent_id, plans.c.state == "published")
        .values(state="superseded")
    )
    conn.execute(
        sa.update(plans)
        .where(plans.c.version_id == version_id)
        .values(state="published", published_at=utc_now())
    )
    return {"version_id": version_id, "parent_id": parent_id, "cells": len(cell_ids)}
