"""The audit log in the store, on both backends: one row per change, in its transaction."""

from __future__ import annotations

import ast
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

import mapserver
from mapserver.errors import ValidationError
from mapserver.model import DISTRICT_TZ
from mapserver.store import StatusRow, Store, audit
from mapserver.store.audit import AuditContext, AuditFilter
from tests.store.test_plans import ASSIGNMENT, _cells


def _rows(store: Store, **where) -> list[dict]:
    return store.read_audit(AuditFilter(**where), limit=1000)


def test_status_writes_reference_the_change_log(loaded: Store):
    start = loaded.last_seq()
    one = loaded.apply_status([StatusRow("household", "H01", "red")], user="网格员", source="form")
    batch = [StatusRow("household", f"H0{i}", "green") for i in (2, 3, 4)]
    last = loaded.apply_status(batch, user="网格员", source="api")
    rows = _rows(loaded, kind="status")
    assert [r["entity"] for r in rows] == [f"changelog:{one + 1}-{last}", "household:H01"]
    assert rows[1]["new"] == {
        "rows": 1,
        "source": "form",
        "changelog": [start + 1, one],
        "status": "red",
        "persons": None,
    }
    assert rows[0]["new"]["rows"] == 3 and rows[0]["new"]["changelog"] == [one + 1, last]
    assert {r["actor"] for r in rows} == {"网格员"}
    log = loaded.changes_since(one)
    assert list(log["seq"]) == list(range(one + 1, last + 1))
    assert set(log["changed_by"]) == {"网格员"}
    before = loaded.table_rows("audit_log")
    with pytest.raises(ValidationError):
        loaded.apply_status(
            [StatusRow("household", "H05", "red"), StatusRow("household", "NOPE", "red")],
            user="网格员",
            source="api",
        )
    assert loaded.table_rows("audit_log") == before  # refused write: no audit row either


def test_imports_are_one_row_naming_the_import_log(store: Store, district):
    log = {"files": ["grids.geojson", "status.csv"], "summary": {"rows": 4}}
    store.import_layers(district, user="导入员", log=log)
    (row,) = _rows(store, kind="import")
    (logged,) = store.recent_imports()
    assert row["entity"] == f"import_log:{logged['import_id']}" and row["actor"] == "导入员"
    assert row["new"]["files"] == log["files"]
    assert row["new"]["rows"]["households"] == len(district["households"])
    first, last = row["new"]["changelog"]
    assert last - first + 1 == len(district["status"])
    assert list(store.changes_since(first - 1)["seq"]) == list(range(first, last + 1))


def test_grid_saves_publications_and_rollbacks(loaded: Store):
    first = loaded.save_plan(
        "G", base_version=None, level="micro", cells=_cells(), assignment=ASSIGNMENT, user="规划员"
    )
    loaded.publish_plan(first, user="规划员")
    second = loaded.save_plan(
        "G", base_version=first, level="micro", cells=_cells(), assignment=ASSIGNMENT, user="乙"
    )
    loaded.publish_plan(second)
    loaded.republish_plan("G", first, user="规划员")
    rows = _rows(loaded, kind="grid")
    got = [(r["kind"], r["actor"], r["old"], r["new"]["version"]) for r in reversed(rows)]
    assert got == [
        ("grid.save", "规划员", {"version": None}, first),
        ("grid.publish", "规划员", {"version": None}, first),
        ("grid.save", "乙", {"version": first}, second),
        ("grid.publish", "system", {"version": first}, second),
        ("grid.rollback", "规划员", {"version": second}, second + 1),
    ]
    assert rows[0]["new"]["from_version"] == first and {r["entity"] for r in rows} == {"grid:G"}


def test_route_plans_and_stop_marks(store: Store):
    plan_id = store.save_route_plan(kind="delivery", name="上午", data={}, user="调度员")
    store.record_stop_event(plan_id, "van-1", "S1", state="delivered", user="司机")
    store.record_stop_event(plan_id, "van-1", "S1", state="failed", reason="无人", user="司机")
    plan_row, *_ = _rows(store, kind="route_plan")
    assert plan_row["entity"] == f"route_plan:{plan_id}" and plan_row["actor"] == "调度员"
    assert plan_row["new"] == {"kind": "delivery", "name": "上午"}
    marks = _rows(store, kind="stop.mark")
    assert [(m["old"], m["new"]["state"]) for m in marks] == [
        ({"state": "delivered", "reason": None}, "failed"),
        (None, "delivered"),
    ]
    assert {m["entity"] for m in marks} == {f"stop:{plan_id}/van-1/S1"}


def test_user_changes_name_the_acting_user_and_address(store: Store):
    store.create_user("li", "pw-1", role="worker", grid_id="G-1")
    audit.bind(AuditContext(address="10.1.2.3", actor=lambda: "admin"))
    try:
        store.create_user("li", "pw-2", role="admin")
        store.create_token("li")
    finally:
        audit.clear()
    store.record_audit("login.failed", entity="user:li", actor="li")
    rows = _rows(store, entity="user:li")
    assert [(r["kind"], r["actor"], r["address"]) for r in rows] == [
        ("login.failed", "li", None),
        ("token.create", "admin", "10.1.2.3"),
        ("user.create", "admin", "10.1.2.3"),
        ("user.create", "system", None),
    ]
    assert rows[2]["old"] == {"role": "worker", "grid_id": "G-1"}
    assert rows[2]["new"] == {"role": "admin", "grid_id": None, "password": "set"}
    assert "pw-" not in str(store.table_rows("audit_log"))
    with pytest.raises(ValueError, match=r"audit kind 'user\.delete_all'"):
        store.record_audit("user.delete_all")


def test_filters_by_actor_kind_entity_and_dates(store: Store):
    for kind, entity, actor in (
        ("login.ok", "user:a", "a"),
        ("login.failed", "user:50%_b", "b"),
        ("user.create", "user:c", "a"),
    ):
        store.record_audit(kind, entity=entity, actor=actor)
        time.sleep(0.005)  # distinct millisecond times for the time filters below
    assert [r["entity"] for r in _rows(store, actor="a")] == ["user:c", "user:a"]
    assert len(_rows(store, kind="login")) == 2 and len(_rows(store, kind="log")) == 0
    assert [r["actor"] for r in _rows(store, entity="50%_")] == ["b"]
    assert _rows(store, entity="0%_c") == []
    newest_at = store.read_audit(AuditFilter(), limit=1)[0]["at"]
    today = datetime.fromisoformat(newest_at).astimezone(DISTRICT_TZ).date().isoformat()
    assert len(_rows(store, since=today, until=today)) == 3  # the district's day
    assert _rows(store, until="2000-01-01") == [] and _rows(store, since="2999-01-01") == []
    assert len(_rows(store, since=f"{today}T00:00:00+08:00")) == 3
    assert len(_rows(store, since=newest_at)) == 1 and len(_rows(store, until=newest_at)) == 2
    # The same instant written in Beijing time (UTC+8) selects the same rows.
    shifted = datetime.fromisoformat(newest_at).astimezone(timezone(timedelta(hours=8)))
    assert len(_rows(store, since=shifted.isoformat())) == 1
    with pytest.raises(ValueError, match="since 'yesterday' is not a date"):
        _rows(store, since="yesterday")
    newest, *older = store.read_audit(AuditFilter(), limit=10)
    assert [r["seq"] for r in store.read_audit(AuditFilter(), before=newest["seq"])] == [
        r["seq"] for r in older
    ]
    everything = list(
        audit.iterate(store.engine, store.tables["audit_log"], AuditFilter(), batch=2)
    )
    assert [r["seq"] for r in everything] == sorted(r["seq"] for r in [newest, *older])
    assert [r["seq"] for r in store.iter_audit(AuditFilter(actor="a"))] == sorted(
        r["seq"] for r in _rows(store, actor="a")
    )


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_postgres_refuses_to_edit_or_delete_audit_rows(store: Store):
    store.record_audit("login.ok", entity="user:a", actor="a")
    before = store.table_rows("audit_log")
    for sql in (
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.exec_driver_sql(sql)
    assert store.table_rows("audit_log") == before
    store.create_schema()  # opening the store again keeps the triggers, once
    with store.engine.connect() as conn:
        names = conn.exec_driver_sql(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass"
        ).scalars()
        assert sorted(names) == ["audit_log_append_only_rows", "audit_log_append_only_truncate"]
    with store.engine.begin() as conn:  # a whole-store restore may lift the guard
        audit.allow_rewrite(conn)
        conn.exec_driver_sql("DELETE FROM audit_log")
    assert store.table_rows("audit_log") == []


_WRITE = re.compile(r"\b(delete\s+from|update|truncate(\s+table)?)\s+\"?audit_log", re.I)


def test_no_code_path_edits_or_deletes_audit_rows():
    package = Path(mapserver.__file__).parent
    found = []
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            where = f"{path.relative_to(package)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if _WRITE.search(node.value) and "audit_log_append_only" not in node.value:
                    found.append(where)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("delete", "update")
                and "audit" in ast.unparse(node)
            ):
                found.append(where)
    assert found == []
    probe = ast.parse('sa.delete(tables["audit_log"])').body[0].value
    assert probe.func.attr == "delete" and "audit" in ast.unparse(probe)
    assert _WRITE.search("DELETE FROM audit_log") and _WRITE.search('update "audit_log" set')


def test_role_password_removal_and_driver_assignment(store: Store):
    store.create_user("zhang", "pw-1", role="driver")
    audit.bind(AuditContext(address="10.1.2.3", actor=lambda: "admin"))
    try:
        store.update_user("zhang", role="dispatcher", grid_id="G-1")
        store.update_user("zhang", password="pw-2")
        store.update_user("zhang")  # nothing changes: nothing recorded
        store.assign_driver("P1", "van-1", "zhang")
        store.assign_driver("P1", "van-1", None)
        store.delete_user("zhang")
    finally:
        audit.clear()
    users = _rows(store, entity="user:zhang", kind="user")
    got = [(r["kind"], r["old"], r["new"]) for r in reversed(users)]
    assert got == [
        ("user.create", None, {"role": "driver", "grid_id": None, "password": "set"}),
        (
            "user.update",
            {"role": "driver", "grid_id": None},
            {"role": "dispatcher", "grid_id": "G-1"},
        ),
        (
            "user.update",
            {"role": "dispatcher", "grid_id": "G-1"},
            {"role": "dispatcher", "grid_id": "G-1", "password": "changed"},
        ),
        ("user.remove", {"role": "dispatcher", "grid_id": "G-1"}, None),
    ]
    assert {(r["actor"], r["address"]) for r in users[:3]} == {("admin", "10.1.2.3")}
    assigned = _rows(store, kind="route.assign")
    assert [(r["old"], r["new"]) for r in reversed(assigned)] == [
        ({"driver": None}, {"driver": "zhang"}),
        ({"driver": "zhang"}, {"driver": None}),
    ]
    assert {r["entity"] for r in assigned} == {"route:P1/van-1"}


def test_dates_and_times_without_a_zone_are_the_districts():
    """A date filter means the district's day (UTC+8), and so does a time without a zone."""
    assert audit._instant("2026-12-03", "since") == "2026-12-02T16:00:00.000+00:00"
    assert audit._instant("2026-12-03", "until", end=True) == "2026-12-03T16:00:00.000+00:00"
    assert audit._instant("2026-12-03T09:30", "since") == "2026-12-03T01:30:00.000+00:00"
    assert audit._instant("2026-12-03T09:30Z", "since") == "2026-12-03T09:30:00.000+00:00"
