"""Newcomer paths of the demo: where it writes, which store it names, what it refuses."""

from __future__ import annotations

from pathlib import Path

from mapserver.cli import demo as cli_demo
from mapserver.cli import main as cli_main
from mapserver.config import DEFAULT_DEMO_DIR, PACKAGE_DIR
from mapserver.store import open_store


def _package_files() -> set[Path]:
    return {p for p in PACKAGE_DIR.parent.joinpath("geodata").rglob("*") if p.is_file()}


def test_demo_writes_generated_data_to_the_instance_folder_and_names_its_store(
    tmp_path: Path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    shipped = _package_files()
    args = ["demo", "--no-serve", "--no-plans", "--scale", "0.3", "--seed", "7"]
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    folder = tmp_path / "instance" / "demo-x0.3-seed7"
    assert (folder / "grids.geojson").is_file() and "generating" in out
    assert "export DATABASE_URL=sqlite:///instance/demo.sqlite" in out
    assert _package_files() == shipped  # nothing written beside the package
    database = tmp_path / "instance" / "demo.sqlite"
    assert oct(database.stat().st_mode & 0o777) == "0o600"
    assert cli_main(args) == 0  # the second start reads what the first wrote
    assert f"reading demo data: {Path('instance') / 'demo-x0.3-seed7'}" in capsys.readouterr().out
    # the printed store is the one the other commands then use
    monkeypatch.setenv("DATABASE_URL", "sqlite:///instance/demo.sqlite")
    assert cli_main(["export", "out"]) == 0
    assert (tmp_path / "out" / "grids.geojson").is_file()


def test_demo_refuses_a_scheme_that_does_not_fit_its_codes(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "demo.sqlite").write_bytes(b"kept")
    monkeypatch.setenv("MAPSERVER_SCHEME", "area3")
    assert cli_main(["demo", "--no-serve", "--no-plans"]) == 2
    err = capsys.readouterr().err
    assert "area3" in err and "red" in err and "sealed" in err and "hongkou6" in err
    assert (tmp_path / "instance" / "demo.sqlite").read_bytes() == b"kept"  # untouched
    assert DEFAULT_DEMO_DIR.joinpath("grids.geojson").is_file()


def test_a_large_demo_skips_its_delivery_run_and_says_how_to_plan_one(
    tmp_path: Path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(cli_demo, "DEMO_DELIVERY_MAX_HOUSEHOLDS", 1000)
    assert cli_main(["demo", "--no-serve"]) == 0
    out = capsys.readouterr().out
    assert "skipped the sample delivery run: 10451 households (over 1000," in out
    assert "mapserver deliver" in out and "street patrol" in out
    store = open_store("sqlite:///instance/demo.sqlite")
    assert [p["kind"] for p in store.list_route_plans(kind="delivery")] == []
    assert store.list_route_plans(kind="patrol")
    store.dispose()


def test_demo_has_a_login_per_role_and_the_driver_holds_a_route(
    tmp_path: Path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert cli_main(["demo", "--no-serve"]) == 0
    out = capsys.readouterr().out
    store = open_store("sqlite:///instance/demo.sqlite")
    try:
        roles = {u.username: u for u in store.list_users()}
        for role in ("admin", "commander", "planner", "dispatcher", "driver", "worker"):
            assert roles[role].role == role and role in out
            assert store.check_password(role, cli_demo.DEMO_PASSWORD) is not None
        assert roles["worker"].grid_id and roles["planner"].grid_id
        (plan,) = store.list_route_plans(kind="delivery")
        assert store.routes_of_driver("driver") == [
            (plan["plan_id"], route) for route in store.route_drivers(plan["plan_id"])
        ]
        assert len(store.routes_of_driver("driver")) == 1
    finally:
        store.dispose()


def test_a_demo_whose_sample_run_cannot_be_planned_still_starts(
    tmp_path: Path, monkeypatch, capsys
):
    """A small generated district whose roads leave stops unreachable: the demo says why
    it skipped the sample delivery run and goes on (it used to stop with a traceback)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert cli_main(["demo", "--no-serve", "--scale", "0.3", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert "skipped the sample delivery run: stop" in out and "cannot be reached" in out
    assert "street patrol" in out
