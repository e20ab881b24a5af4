"""Saved route plans (delivery and patrol) and the stop events drivers record on them."""

from __future__ import annotations

import json
import uuid

import sqlalchemy as sa

from mapserver.errors import NotFoundError
from mapserver.store.writes import utc_now

PLAN_KINDS: tuple[str, ...] = ("delivery", "patrol")
STOP_STATES: tuple[str, ...] = ("delivered", "failed", "pending")


def insert_plan(
    conn: sa.Connection,
    tables: dict[str, sa.Table],
    *,
    kind: str,
    name: str,
    data: dict,
    problem: dict | None,
    user: str,
) -> str:
    """Save a plan (and, when given, the JSON data re-planning needs); return its new id."""
    if kind not in PLAN_KINDS:
        msg = f"plan kind {kind!r} is not one of {', '.join(PLAN_KINDS)}"
        raise ValueError(msg)
    plan_id = uuid.uuid4().hex[:12]
    conn.execute(
        sa.insert(tables["route_plans"]).values(
            plan_id=plan_id,
            kind=kind,
            name=name,
            created_at=utc_now(),
            created_by=user,
            data=json.dumps(data, ensure_ascii=False),
        )
    )
    if problem is not None:
        conn.execute(
            sa.insert(tables["route_problems"]).values(
                plan_id=plan_id, problem=json.dumps(problem, ensure_ascii=False)
            )
        )
    return plan_id


def read_problem(conn: sa.Connection, table: sa.Table, plan_id: str) -> dict | None:
    """The re-planning data saved with a plan, or None (a plan saved without it)."""
    text = conn.execute(sa.select(table.c.problem).where(table.c.plan_id == plan_id)).scalar()
    return None if text is None else json.loads(text)


def read_plan(conn: sa.Connection, table: sa.Table, plan_id: str) -> dict:
    """A saved plan with its data decoded; NotFoundError when missing."""
    row = conn.execute(sa.select(table).where(table.c.plan_id == plan_id)).mappings().first()
    if row is None:
        msg = f"route plan '{plan_id}' not found"
        raise NotFoundError(msg)
    out = dict(row)
    out["data"] = json.loads(out["data"])
    return out


def list_plans(conn: sa.Connection, table: sa.Table, kind: str | None) -> list[dict]:
    """Saved plans, newest first, without data."""
    columns = [c for c in table.columns if c.name != "data"]
    query = sa.select(*columns).order_by(table.c.created_at.desc(), table.c.plan_id)
    if kind is not None:
        query = query.where(table.c.kind == kind)
    return [dict(r) for r in conn.execute(query).mappings()]


def insert_stop_event(
    conn: sa.Connection,
    table: sa.Table,
    *,
    plan_id: str,
    route_id: str,
    stop_id: str,
    state: str,
    reason: str | None,
    user: str,
) -> int:
    """Record that a stop was delivered or could not be (with a reason); returns its seq."""
    if state not in STOP_STATES:
        msg = f"stop state {state!r} is not one of {', '.join(STOP_STATES)}"
        raise ValueError(msg)
    if state == "failed" and not (reason or "").strip():
        msg = "a stop that could not be delivered needs a reason"
        raise ValueError(msg)
    result = conn.execute(
        sa.insert(table).values(
            plan_id=plan_id,
            route_id=route_id,
            stop_id=stop_id,
            state=state,
            reason=reason,
            at=utc_now(),
            by=user,
        )
    )
    return int(result.inserted_primary_key[0])


def stop_states(conn: sa.Connection, table: sa.Table, plan_id: str) -> dict[tuple[str, str], dict]:
    """The latest event per (route, stop) of a plan."""
    rows = conn.execute(
        sa.select(table).where(table.c.plan_id == plan_id).order_by(table.c.seq)
    ).mappings()
    return {(r["route_id"], r["stop_id"]): dict(r) for r in rows}
