"""SIGKILL of the command line mid-upload and mid-publish leaves the store all or nothing.

Each case runs the real `mapserver` command in a subprocess against a real store
(SQLite file or PostgreSQL), kills it at a random moment (several seeds; half of
them while its write transaction is open, found by its locks), then checks the
store's invariants.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from mapserver.store import StatusRow, Store, open_store
from tests.conftest import ROOT

SEEDS = (11, 12)  # with in-write and any-time kills: four runs per test and backend
WRITE_TABLES = ("households", "status", "changelog", "grids", "buildings", "plan_versions")
NEW_HOUSEHOLDS = 20_000


def _writing(url: str) -> bool:
    """True while another process holds a write transaction on the store."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        conn = sqlite3.connect(parsed.database, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            conn.close()
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            held = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE l.pid <> pg_backend_pid() AND l.granted "
                "AND l.mode IN ('RowExclusiveLock', 'ExclusiveLock') AND c.relname = ANY(%s)",
                (list(WRITE_TABLES),),
            ).scalar()
    finally:
        engine.dispose()
    return bool(held)


def _run_and_kill(
    url: str,
    args: list[str],
    rng: random.Random,
    *,
    in_write: bool,
    late_s: float,
    any_s: float,
    after_line: str | None = None,
) -> int:
    """Run ``mapserver ARGS`` and SIGKILL it; returns the exit status.

    ``in_write``: up to ``late_s`` seconds after its write transaction opens (or after
    it prints ``after_line``, the last word before its final write); otherwise a random
    time up to ``any_s`` seconds into the run.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mapserver.cli", "--database", url, *args],
        env=env,
        stdout=subprocess.PIPE if in_write and after_line else subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    if in_write and after_line:
        for line in process.stdout:
            if after_line in line:
                break
        time.sleep(rng.uniform(0, late_s))
    elif in_write:
        # a write held over two polls 50 ms apart: the data, not the quick schema check
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if _writing(url):
                time.sleep(0.05)
                if _writing(url):
                    break
            time.sleep(0.002)
        time.sleep(rng.uniform(0, late_s))
    else:
        time.sleep(rng.uniform(0.5, any_s))
    process.send_signal(signal.SIGKILL)
    return process.wait(timeout=60)


def _check_status_log(store: Store) -> None:
    """Every current status is the newest change-log entry of its entity."""
    status = store.read_status()
    log = store.changes_since(0, limit=10_000_000)
    newest = log.sort_values("seq").groupby(["entity_kind", "entity_id"]).tail(1)
    newest = newest.set_index(["entity_kind", "entity_id"])["new_status"]
    current = status.set_index(["entity_kind", "entity_id"])["status"]
    assert current.sort_index().to_dict() == newest.reindex(current.index).sort_index().to_dict()
    households = set(store.read_households()["household_id"])
    held = status[status["entity_kind"] == "household"]["entity_id"]
    assert set(held) <= households


def _check_integrity(url: str) -> None:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        conn = sqlite3.connect(parsed.database)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            conn.close()


def _upload_files(folder: Path, demo_layers: dict) -> list[str]:
    """A large upload: 40,000 new households on the demo's buildings, each with a status."""
    buildings = demo_layers["buildings"]["building_id"].tolist()
    ids = [f"NEW-{i:06d}" for i in range(NEW_HOUSEHOLDS)]
    households = pd.DataFrame(
        {
            "household_id": ids,
            "building_id": [buildings[i % len(buildings)] for i in range(NEW_HOUSEHOLDS)],
            "unit": "9",
            "room": [f"{i % 3000:04d}" for i in range(NEW_HOUSEHOLDS)],
            "residents": [1 + i % 4 for i in range(NEW_HOUSEHOLDS)],
        }
    )
    status = pd.DataFrame(
        {
            "entity_kind": "household",
            "entity_id": ids,
            "status": ["red" if i % 7 == 0 else "green" for i in range(NEW_HOUSEHOLDS)],
            "persons": [1 + i % 4 for i in range(NEW_HOUSEHOLDS)],
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    households.to_csv(folder / "households.csv", index=False)
    status.to_csv(folder / "status.csv", index=False)
    return [str(folder / "households.csv"), str(folder / "status.csv")]


def test_sigkill_mid_upload_leaves_all_or_nothing(demo_store_url: str, demo_layers: dict, tmp_path):
    files = _upload_files(tmp_path / "upload", demo_layers)
    store = open_store(demo_store_url)
    before = store.row_counts()
    store.dispose()
    outcomes = []
    for seed in SEEDS:
        for in_write in (True, False):
            rng = random.Random(seed)
            code = _run_and_kill(
                demo_store_url, ["import", *files], rng, in_write=in_write, late_s=0.3, any_s=20.0
            )
            store = open_store(demo_store_url)
            counts = store.row_counts()
            done = counts["households"] == before["households"] + NEW_HOUSEHOLDS
            if done:
                expected = {
                    "households": before["households"] + NEW_HOUSEHOLDS,
                    "status": before["status"] + NEW_HOUSEHOLDS,
                    "changelog": before["changelog"] + NEW_HOUSEHOLDS,
                    "import_log": before["import_log"] + 1,
                }
            else:
                expected = {k: before[k] for k in ("households", "status", "changelog")}
                expected["import_log"] = before["import_log"]
            assert {k: counts[k] for k in expected} == expected, (seed, in_write, code)
            _check_status_log(store)
            store.dispose()
            _check_integrity(demo_store_url)
            outcomes.append((code, done))
            if done:  # back to the state before, for the next seed
                _undo_upload(demo_store_url)
    print(f"upload (exit status, committed): {outcomes}")
    # the kills landed before the commit at least once (not every run just finished)
    assert any(code == -signal.SIGKILL and not done for code, done in outcomes), outcomes
    store = open_store(demo_store_url)
    household = demo_layers["households"]["household_id"].iloc[0]
    assert store.apply_status([StatusRow("household", household, "red")], user="t", source="api")
    store.dispose()


def _undo_upload(url: str) -> None:
    """Remove the uploaded rows (test bookkeeping, straight SQL)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        new = {"new": "NEW-%"}
        conn.execute(sa.text("DELETE FROM changelog WHERE entity_id LIKE :new"), new)
        conn.execute(sa.text("DELETE FROM status WHERE entity_id LIKE :new"), new)
        conn.execute(sa.text("DELETE FROM households WHERE household_id LIKE :new"), new)
        conn.execute(
            sa.text(
                "DELETE FROM import_log WHERE import_id = (SELECT max(import_id) FROM import_log)"
            )
        )
    engine.dispose()


def _largest_leaf_parent(demo_layers: dict) -> str:
    """The grid whose children are all leaves and hold the most buildings."""
    grids, buildings = demo_layers["grids"], demo_layers["buildings"]
    parents = grids.set_index("grid_id")["parent_id"]
    leaves = set(grids["grid_id"]) - set(grids["parent_id"].dropna())
    inner = set(parents[~parents.index.isin(leaves)].dropna())
    per_parent = buildings["grid_id"].map(parents).value_counts()
    return str(per_parent[~per_parent.index.isin(inner)].index[0])


def test_sigkill_mid_publish_leaves_old_or_new_grids(demo_store_url: str, demo_layers: dict):
    parent = _largest_leaf_parent(demo_layers)
    store = open_store(demo_store_url)
    old_children = set(store.read_grids(parent_id=parent)["grid_id"])
    held = set(store.read_buildings(grid_ids=[parent, *old_children])["building_id"])
    store.dispose()
    published_before: set[int] = set()
    args = ["partition", "--parent", parent, "--min", "5", "--max", "12", "--fresh", "--publish"]
    outcomes = []
    for seed in SEEDS:
        for in_write in (True, False):
            code = _run_and_kill(
                demo_store_url,
                args,
                random.Random(seed),
                in_write=in_write,
                late_s=0.15,
                any_s=8.0,
                after_line="saved version",
            )
            store = open_store(demo_store_url)
            versions = store.list_plans(parent)
            published = [
                v
                for v in versions
                if v["state"] == "published" and v["version_id"] not in published_before
            ]
            published_before |= {v["version_id"] for v in published}
            children = set(store.read_grids(parent_id=parent)["grid_id"])
            if published:
                newest = store.get_plan(published[0]["version_id"])["data"]
                assert children == {c["grid_id"] for c in newest["cells"]}
            else:
                assert children == old_children
            placed = store.read_buildings(grid_ids=sorted(children))
            assert set(placed["building_id"]) == held  # every building in exactly one cell
            grids = store.read_grids()
            assert set(grids["parent_id"].dropna()) <= set(grids["grid_id"])
            store.dispose()
            _check_integrity(demo_store_url)
            outcomes.append((code, bool(published)))
            old_children = children
    print(f"publish (exit status, published): {outcomes}")
    assert any(code == -signal.SIGKILL for code, _ in outcomes), outcomes
