"""Whole-store backup and restore, within and across backends (SQLite ⇄ PostgreSQL)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from shapely.geometry import box

from mapserver.store import StatusRow, Store, open_store
from mapserver.store.backup import BackupError, backup_store, restore_store
from tests.conftest import _empty_postgres, _postgres_url

X0, Y0 = 121.48, 31.26


def _fill(store: Store, district: dict) -> None:
    """Every kind of row: layers, status changes, users, tokens, plans, stops, logs, jobs."""
    store.import_layers(
        district, user="loader", log={"files": ["district.geojson"], "summary": {"grids": 3}}
    )
    store.apply_status([StatusRow("household", "H03", "red", 2)], user="网格员", source="form")
    store.apply_status([StatusRow("building", "B1", "yellow")], user="网格员", source="api")
    store.create_user("admin", "pw-1", role="admin")
    store.create_user("甲", "pw-2", role="worker", grid_id="G-1")
    store.create_token("甲")
    cells = [
        {"grid_id": "M-a", "name": "西", "geometry": box(X0, Y0, X0 + 0.01, Y0 + 0.01).wkt},
        {"grid_id": "M-b", "name": "东", "geometry": box(X0 + 0.01, Y0, X0 + 0.02, Y0 + 0.01).wkt},
    ]
    assignment = {"B1": "M-a", "B2": "M-a", "B3": "M-b", "B4": "M-b"}
    version = store.save_plan(
        "G", base_version=None, level="micro", cells=cells, assignment=assignment, user="甲"
    )
    store.publish_plan(version)
    plan_id = store.save_route_plan(
        kind="delivery", name="上午保供", data={"routes": [1]}, user="甲"
    )
    store.record_stop_event(plan_id, "van-1", "S1", state="failed", reason="无人", user="司机")
    store.save_mapping("hz", "grids", {"columns": {"grid_id": "网格编号"}}, user="甲")
    job = store.create_job("delivery", {"vans": 2})
    store.update_job(job, state="done", progress=1.0, result={"plan": plan_id})


def _snapshot(store: Store) -> dict[str, list[tuple]]:
    return {name: store.table_rows(name) for name in store.tables}


def _other_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'restored' / 'store.sqlite'}"
    url = _postgres_url()
    _empty_postgres(url)
    return url


@pytest.mark.parametrize("target", ["sqlite", "postgresql"])
def test_backup_restores_every_table_on_either_backend(
    store: Store, district: dict, tmp_path: Path, target: str
):
    if store.dialect == target == "postgresql":
        pytest.skip("one test PostgreSQL database: PostgreSQL → PostgreSQL is the same store")
    _fill(store, district)
    before = _snapshot(store)
    assert all(before[name] for name in ("changelog", "users", "plan_versions", "import_log"))
    path = tmp_path / "backup.zip"
    counts = backup_store(store, path)
    assert counts == {name: len(rows) for name, rows in before.items()}
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert set(manifest["tables"]) == set(store.tables)
    store.dispose()

    other = open_store(_other_url(target, tmp_path))
    try:
        other.create_user("someone", "pw", role="admin")  # replaced by the restore
        restore_store(other, path)
        after = _snapshot(other)
        log = after.pop("audit_log")
        assert {**after, "audit_log": log[:-1]} == before
        entry = log[-1]
        # the restore itself is the newest audit row: what was restored, from which backup
        columns = list(other.tables["audit_log"].columns.keys())
        entry = dict(zip(columns, entry, strict=True))
        assert entry["kind"] == "store.restore" and entry["entity"] == "backup:backup.zip"
        assert json.loads(entry["new"])["rows"] == sum(counts.values())
        # the serial sequences continue after the restored ids
        assert other.apply_status(
            [StatusRow("household", "H05", "red", 1)], user="x", source="api"
        ) == (max(r[0] for r in before["changelog"]) + 1)
        assert other.read_grids(parent_id="G")["grid_id"].tolist() == ["M-a", "M-b"]
    finally:
        other.dispose()


def test_a_broken_backup_changes_nothing(store: Store, district: dict, tmp_path: Path):
    _fill(store, district)
    path = tmp_path / "backup.zip"
    backup_store(store, path)
    before = _snapshot(store)
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "tables/users.jsonl":
                data = data.split(b"\n", 1)[1]  # one user row lost
            target.writestr(item, data)
    with pytest.raises(BackupError, match="users holds 1 rows, the manifest says 2"):
        restore_store(store, broken)
    assert _snapshot(store) == before
    (tmp_path / "not.zip").write_text("hello")
    with pytest.raises(BackupError, match="not a mapserver backup"):
        restore_store(store, tmp_path / "not.zip")
