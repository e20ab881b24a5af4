"""Tests of the store on SQLite and PostgreSQL/PostGIS: layers, status, change log, users, jobs."""

from __future__ import annotations

import threading
import time

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, Point

from mapserver import model
from mapserver.errors import NotFoundError, ValidationError
from mapserver.store import StatusRow, Store, open_store


def _snapshot(store: Store) -> dict[str, list[tuple]]:
    """Every row of every table."""
    return {name: store.table_rows(name) for name in store.tables}


def test_open_store_creates_parent_folder_and_is_idempotent(tmp_path):
    url = f"sqlite:///{tmp_path / 'a' / 'b' / 'store.sqlite'}"
    first = open_store(url)
    first.dispose()
    again = open_store(url)
    assert (tmp_path / "a" / "b" / "store.sqlite").is_file()
    others = {"changelog", "users", "tokens", "jobs", "meta"}
    others |= {"plan_versions", "route_plans", "stop_events", "column_mappings", "import_log"}
    others |= {"events", "route_drivers", "route_problems", "audit_log"}
    others |= {"sessions", "login_failures", "status_counts"}
    others |= {
        "count_snapshots",
        "count_snapshot_list",
        "client_requests",
        "patrol_checkins",
        "route_plan_archive",
    }
    assert set(again.row_counts()) == {*model.LAYERS, *others}
    assert again.dialect == "sqlite"
    again.dispose()


def test_grids_roundtrip_geometry_and_dtypes(loaded: Store, district):
    grids = loaded.read_grids()
    assert isinstance(grids, gpd.GeoDataFrame)
    assert grids.crs == "EPSG:4326"
    assert list(grids.columns) == list(model.GRID_COLUMNS)
    assert grids["grid_id"].tolist() == ["G", "G-1", "G-2"]
    expected = district["grids"]
    assert all(grids.geometry.geom_equals_exact(expected.geometry, tolerance=0))
    assert grids["version"].dtype == "int64"
    assert grids["target_households"].dtype == "Int64"
    assert pd.isna(grids["target_households"].iloc[0])
    assert grids["target_households"].iloc[1] == 5
    assert pd.isna(grids["parent_id"].iloc[0])
    assert grids["name"].tolist() == expected["name"].tolist()


def test_buildings_and_households_roundtrip(loaded: Store, district):
    buildings = loaded.read_buildings()
    assert list(buildings.columns) == list(model.BUILDING_COLUMNS)
    assert buildings.crs == "EPSG:4326"
    assert all(buildings.geometry.geom_equals_exact(district["buildings"].geometry, tolerance=0))
    for column in ("units", "households", "residents"):
        assert buildings[column].dtype == "int64"
        assert buildings[column].tolist() == district["buildings"][column].tolist()
    households = loaded.read_households()
    assert list(households.columns) == list(model.HOUSEHOLD_COLUMNS)
    assert households["residents"].dtype == "int64"
    assert households["room"].tolist() == district["households"]["room"].tolist()
    only = loaded.read_households(building_ids=["B3", "B4"])
    assert only["household_id"].tolist() == ["H07", "H08", "H09", "H10"]


def test_roads_and_checkpoints_roundtrip_bools_and_floats(store: Store):
    nodes = gpd.GeoDataFrame(
        {"node_id": ["N1", "N2"], "kind": ["junction", "gate"]},
        geometry=[Point(121.48, 31.26), Point(121.49, 31.26)],
        crs="EPSG:4326",
    )
    edges = gpd.GeoDataFrame(
        {
            "edge_id": ["E1", "E2"],
            "u": ["N1", "N2"],
            "v": ["N2", "N1"],
            "name": ["欧阳路", None],
            "road_class": ["street", "lane"],
            "oneway": [True, False],
            "mode": ["drive", "walk"],
            "length_m": [951.25, 951.25],
            "closed": [False, True],
        },
        geometry=[
            LineString([(121.48, 31.26), (121.49, 31.26)]),
            LineString([(121.49, 31.26), (121.48, 31.26)]),
        ],
        crs="EPSG:4326",
    )
    checkpoints = gpd.GeoDataFrame(
        {
            "checkpoint_id": ["K1"],
            "name": ["北口"],
            "node_id": ["N1"],
            "kind": ["land"],
            "staffed": [True],
            "shifts": [3],
        },
        geometry=[Point(121.48, 31.26)],
        crs="EPSG:4326",
    )
    store.import_layers({"road_nodes": nodes, "road_edges": edges, "checkpoints": checkpoints})
    read = store.read_layer("road_edges")
    assert list(read.columns) == list(model.ROAD_EDGE_COLUMNS)
    assert read["oneway"].dtype == bool
    assert read["oneway"].tolist() == [True, False]
    assert read["closed"].tolist() == [False, True]
    assert read["length_m"].dtype == "float64"
    assert read["length_m"].tolist() == [951.25, 951.25]
    assert read.geometry.iloc[0].equals(edges.geometry.iloc[0])
    cps = store.read_layer("checkpoints")
    assert cps["staffed"].dtype == bool
    assert cps["shifts"].dtype == "int64"
    assert cps["shifts"].iloc[0] == 3
    assert store.read_layer("road_nodes")["kind"].tolist() == ["junction", "gate"]


def test_import_rejects_other_crs(store: Store, district):
    projected = district["grids"].to_crs(32651)
    with pytest.raises(ValueError, match="EPSG:32651"):
        store.import_layers({"grids": projected})
    assert store.row_counts()["grids"] == 0


def test_read_grids_by_level_parent_ids_and_bbox(loaded: Store):
    assert loaded.read_grids(level="micro")["grid_id"].tolist() == ["G-1", "G-2"]
    assert loaded.read_grids(level=["community"])["grid_id"].tolist() == ["G"]
    assert loaded.read_grids(parent_id="G")["grid_id"].tolist() == ["G-1", "G-2"]
    assert loaded.read_grids(parent_id="")["grid_id"].tolist() == ["G"]
    assert loaded.read_grids(ids=["G-2", "missing"])["grid_id"].tolist() == ["G-2"]
    # East of G-1: only G and G-2 have bounding boxes reaching past 121.4905.
    east = loaded.read_grids(bbox=(121.4905, 31.261, 121.495, 31.262))
    assert east["grid_id"].tolist() == ["G", "G-2"]
    assert loaded.read_grids(bbox=(121.0, 31.0, 121.1, 31.1)).empty


def test_read_buildings_by_grid_bbox_and_ids(loaded: Store):
    assert loaded.read_buildings(grid_ids=["G-2"])["building_id"].tolist() == ["B3", "B4"]
    near_b2 = loaded.read_buildings(bbox=(121.4865, 31.2665, 121.4866, 31.2666))
    assert near_b2["building_id"].tolist() == ["B2"]
    assert loaded.read_buildings(ids=["B4", "B1"])["building_id"].tolist() == ["B1", "B4"]
    both = loaded.read_buildings(grid_ids=["G-1"], ids=["B1", "B3"])
    assert both["building_id"].tolist() == ["B1"]
    empty = loaded.read_buildings(grid_ids=[])
    assert empty.empty
    assert list(empty.columns) == list(model.BUILDING_COLUMNS)


def test_status_import_logs_changes_and_fills_persons(loaded: Store):
    status = loaded.read_status()
    assert list(status.columns) == list(model.STATUS_COLUMNS)
    assert len(status) == 5
    h04 = status.set_index("entity_id").loc["H04"]
    assert h04["persons"] == 1  # residents of H04, persons was missing
    assert status["seq"].dtype == "int64"
    log = loaded.changes_since(0)
    assert list(log.columns) == list(model.CHANGELOG_COLUMNS)
    assert log["seq"].tolist() == [1, 2, 3, 4, 5]
    assert set(log["changed_by"]) == {"loader"}
    assert set(log["source"]) == {"import"}
    assert log["old_status"].isna().all()
    assert loaded.read_status(entity_kind="building")["entity_id"].tolist() == ["B4"]


def test_apply_status_writes_and_logs_old_and_new(loaded: Store):
    before = loaded.last_seq()
    last = loaded.apply_status(
        [
            StatusRow("household", "H01", "red"),
            StatusRow("household", "H03", "green", persons=1),
            StatusRow("household", "H01", "yellow"),
        ],
        user="wang",
        source="api",
    )
    assert last == before + 3
    assert loaded.last_seq() == last
    log = loaded.changes_since(before)
    assert log["seq"].tolist() == [before + 1, before + 2, before + 3]
    assert log["old_status"].tolist()[0] == "green"
    assert pd.isna(log["old_status"].tolist()[1])
    assert log["old_status"].tolist()[2] == "red"
    assert log["new_status"].tolist() == ["red", "green", "yellow"]
    assert log["persons"].tolist() == [2, 1, 2]
    assert set(log["changed_by"]) == {"wang"}
    assert log["changed_at"].str.endswith("+00:00").all()
    status = loaded.read_status().set_index("entity_id")
    assert status.loc["H01", "status"] == "yellow"
    assert status.loc["H01", "seq"] == last
    assert status.loc["H01", "source"] == "api"
    assert status.loc["H03", "persons"] == 1
    building = loaded.apply_status([StatusRow("building", "B1", "red")], user="li", source="form")
    assert building == last + 1
    assert (
        loaded.read_status(entity_kind="building").set_index("entity_id").loc["B1", "persons"] == 7
    )


def test_apply_status_rejects_batch_with_unknown_entity_whole(loaded: Store):
    before = _snapshot(loaded)
    rows = [
        StatusRow("household", "H01", "red"),
        StatusRow("household", "H99", "red"),
        StatusRow("building", "B2", "green"),
    ]
    with pytest.raises(ValidationError) as caught:
        loaded.apply_status(rows, user="wang", source="upload.csv")
    (issue,) = caught.value.issues
    assert (issue.file, issue.row, issue.field) == ("upload.csv", 2, "entity_id")
    assert "H99" in issue.reason
    assert _snapshot(loaded) == before


def test_apply_status_names_every_bad_row(loaded: Store):
    rows = [
        StatusRow("flat", "H01", "red"),
        StatusRow("household", "H02", " "),
        StatusRow("building", "H03", "red"),
    ]
    with pytest.raises(ValidationError) as caught:
        loaded.apply_status(rows, user="wang", source="api")
    found = [(i.row, i.field) for i in caught.value.issues]
    assert found == [(1, "entity_kind"), (2, "status"), (3, "entity_id")]


def test_apply_status_thousand_rows_quickly(store: Store):
    households = pd.DataFrame(
        {
            "household_id": [f"H{i:04d}" for i in range(1000)],
            "building_id": ["B"] * 1000,
            "residents": [2] * 1000,
        }
    )
    store.import_layers({"households": households})
    rows = [StatusRow("household", f"H{i:04d}", "green") for i in range(1000)]
    store.apply_status(rows[:10], user="warm", source="api")
    start = time.perf_counter()
    last = store.apply_status(rows, user="bulk", source="api")
    elapsed = time.perf_counter() - start
    assert last == 1010
    assert len(store.read_status()) == 1000
    assert elapsed < 1.0, f"1,000 status rows took {elapsed:.2f} s"


def test_changes_since_pages_in_order(loaded: Store):
    loaded.apply_status(
        [StatusRow("household", f"H{i:02d}", "red") for i in range(1, 11)], user="u", source="api"
    )
    assert loaded.last_seq() == 15
    page = loaded.changes_since(3, limit=4)
    assert page["seq"].tolist() == [4, 5, 6, 7]
    assert loaded.changes_since(15).empty
    assert list(loaded.changes_since(15).columns) == list(model.CHANGELOG_COLUMNS)


def test_failed_import_keeps_old_data(loaded: Store, district):
    before = _snapshot(loaded)
    new_grids = district["grids"].assign(name=["甲", "乙", "丙"])
    twice = pd.concat([district["buildings"], district["buildings"].iloc[[1]]])
    with pytest.raises(ValidationError) as caught:
        loaded.import_layers({"grids": new_grids, "buildings": twice})
    (issue,) = caught.value.issues
    assert (issue.file, issue.row, issue.field) == ("buildings", 5, "building_id")
    assert "first at row 2" in issue.reason
    assert _snapshot(loaded) == before


def test_import_replaces_layer_whole(loaded: Store, district):
    fewer = district["households"].iloc[:3]
    loaded.import_layers({"households": fewer})
    assert loaded.read_households()["household_id"].tolist() == ["H01", "H02", "H03"]
    assert loaded.row_counts()["buildings"] == 4
    new_status = pd.DataFrame({"entity_id": ["H01"], "status": ["red"]})
    loaded.import_layers({"status": new_status}, user="admin")
    status = loaded.read_status()
    assert status["entity_id"].tolist() == ["H01"]
    assert status["entity_kind"].tolist() == ["household"]
    assert status["seq"].tolist() == [6]
    log = loaded.changes_since(5)
    first = log.iloc[0]
    assert [first["old_status"], first["new_status"], first["changed_by"]] == [
        "green",
        "red",
        "admin",
    ]
    # every entity the new table drops is logged too, with no new status (for history)
    dropped = log.iloc[1:]
    assert len(dropped) == 4 and dropped["new_status"].isna().all()
    kept = set(zip(dropped["entity_kind"], dropped["entity_id"], strict=True))
    assert ("household", "H01") not in kept
    assert dropped["seq"].tolist() == list(range(7, 11))


def test_table_rows_sorted_with_geometry_hex(loaded: Store):
    rows = loaded.table_rows("buildings")
    assert [r[0] for r in rows] == ["B1", "B2", "B3", "B4"]
    geometry_at = [c.name for c in loaded.tables["buildings"].columns].index("geometry")
    assert all(isinstance(r[geometry_at], str) for r in rows)
    bytes.fromhex(rows[0][geometry_at])
    with pytest.raises(ValueError, match="unknown table"):
        loaded.table_rows("nope")


def test_users_passwords_and_tokens(store: Store):
    user = store.create_user("wang", "s3cret", role="worker", grid_id="G-1")
    assert user.grid_id == "G-1"
    assert store.check_password("wang", "s3cret") == user
    assert store.check_password("wang", "wrong") is None
    assert store.check_password("nobody", "s3cret") is None
    stored = store.table_rows("users")[0]
    assert "s3cret" not in str(stored)
    token = store.create_token("wang")
    assert store.user_for_token(token) == user
    assert store.user_for_token(token + "x") is None
    assert token not in str(store.table_rows("tokens"))
    admin = store.create_user("wang", "new", role="admin")
    assert store.check_password("wang", "s3cret") is None
    assert store.check_password("wang", "new") == admin
    assert store.user_for_token(token) is None  # a new password ends the old tokens
    with pytest.raises(ValueError, match="role"):
        store.create_user("li", "pw", role="boss")
    with pytest.raises(NotFoundError):
        store.create_token("nobody")


def test_jobs_lifecycle(store: Store):
    job_id = store.create_job("routes", {"vehicles": 3, "名": "东"})
    job = store.get_job(job_id)
    assert job["state"] == "queued"
    assert job["progress"] == 0.0
    assert job["params"] == {"vehicles": 3, "名": "东"}
    store.update_job(job_id, state="running", progress=0.5)
    store.update_job(job_id, state="done", progress=1.0, result={"cost": 12.5})
    job = store.get_job(job_id)
    assert (job["state"], job["progress"], job["result"]) == ("done", 1.0, {"cost": 12.5})
    assert job["updated_at"] >= job["created_at"]
    assert store.get_job("missing") is None
    with pytest.raises(NotFoundError):
        store.update_job("missing", state="failed")
    with pytest.raises(ValueError, match="state"):
        store.update_job(job_id, state="sleeping")


def test_concurrent_writers_never_hide_a_change_from_a_poller(loaded: Store):
    start = loaded.last_seq()
    writers, batches = 4, 15
    seen: list[int] = []
    done = threading.Event()

    def write(worker: int) -> None:
        for batch in range(batches):
            ids = [f"H{(worker * 3 + batch + k) % 10 + 1:02d}" for k in range(3)]
            rows = [StatusRow("household", i, f"s{worker}-{batch}") for i in ids]
            loaded.apply_status(rows, user=f"w{worker}", source="api")

    def poll() -> None:
        last = start
        while True:
            finished = done.is_set()
            page = loaded.changes_since(last)
            if not page.empty:
                seen.extend(page["seq"].tolist())
                last = int(page["seq"].iloc[-1])
            if finished:
                return

    poller = threading.Thread(target=poll)
    poller.start()
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    poller.join()
    total = writers * batches * 3
    assert loaded.last_seq() == start + total
    assert seen == list(range(start + 1, start + total + 1))


def test_data_version_grows_with_imports_not_status(loaded: Store, district):
    before = loaded.data_version()
    assert before >= 1
    loaded.import_layers({"grids": district["grids"]})
    assert loaded.data_version() == before + 1
    household = district["households"]["household_id"].iloc[0]
    loaded.apply_status([StatusRow("household", household, "red")], user="t", source="t")
    assert loaded.data_version() == before + 1


def test_search_households_by_room_unit_and_building(loaded: Store):
    def ids(query: str) -> list[str]:
        return loaded.search_households(query)["household_id"].tolist()

    assert ids("201") == ["H03", "H06", "H10"]
    assert ids("0201") == ["H03", "H06", "H10"]  # a leading zero typed or stored
    assert ids("2-101") == ["H05"]  # unit and room
    assert ids("2号楼 101") == ["H04", "H05"]  # room 101 of 2号楼, both units
    assert ids("B3 102") == ["H08"]
    assert ids("H1") == ["H10"]  # by id
    assert ids("999") == []
    assert ids("  ") == []
    found = loaded.search_households("101", limit=2)
    assert list(found.columns) == list(model.HOUSEHOLD_COLUMNS) and len(found) == 2
