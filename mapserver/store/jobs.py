"""Job records: long work (routes, partitions, imports) reports state and progress here."""

from __future__ import annotations

import json
import uuid

import sqlalchemy as sa

from mapserver.errors import NotFoundError
from mapserver.store.writes import utc_now

JOB_STATES: tuple[str, ...] = ("queued", "running", "done", "failed")


def insert_job(conn: sa.Connection, table: sa.Table, kind: str, params: dict) -> str:
    """Insert a queued job with progress 0 and return its new id (32 hex digits)."""
    job_id = uuid.uuid4().hex
    now = utc_now()
    values = {
        "job_id": job_id,
        "kind": kind,
        "params": json.dumps(params, ensure_ascii=False, sort_keys=True),
        "state": "queued",
        "progress": 0.0,
        "result": None,
        "error": None,
        "created_at": now,
        "updated_at": now,
    }
    conn.execute(sa.insert(table), values)
    return job_id


def job_changes(
    *,
    state: str | None = None,
    progress: float | None = None,
    result: dict | None = None,
    error: str | None = None,
) -> dict[str, object]:
    """Return the column values of a job update, checking state and progress (0..1)."""
    values: dict[str, object] = {"updated_at": utc_now()}
    if state is not None:
        if state not in JOB_STATES:
            msg = f"job state {state!r} is not one of {', '.join(JOB_STATES)}"
            raise ValueError(msg)
        values["state"] = state
    if progress is not None:
        if not 0.0 <= progress <= 1.0:
            msg = f"job progress {progress} is outside 0..1"
            raise ValueError(msg)
        values["progress"] = float(progress)
    if result is not None:
        values["result"] = json.dumps(result, ensure_ascii=False, sort_keys=True)
    if error is not None:
        values["error"] = error
    return values


def update_job_row(
    conn: sa.Connection, table: sa.Table, job_id: str, values: dict[str, object]
) -> None:
    """Apply an update made by ``job_changes``; NotFoundError when the job does not exist."""
    done = conn.execute(sa.update(table).where(table.c.job_id == job_id).values(values))
    if done.rowcount == 0:
        msg = f"job {job_id!r} does not exist"
        raise NotFoundError(msg)


def read_job(conn: sa.Connection, table: sa.Table, job_id: str) -> dict | None:
    """Return a job as a dict with ``params`` and ``result`` decoded, or None."""
    row = conn.execute(sa.select(table).where(table.c.job_id == job_id)).first()
    if row is None:
        return None
    job = dict(row._mapping)
    job["params"] = json.loads(job["params"])
    job["result"] = None if job["result"] is None else json.loads(job["result"])
    return job
