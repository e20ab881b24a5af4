"""Imports through the service on both backends: merge by default, replace on request."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import shapely

from mapserver.errors import ValidationError
from mapserver.services.exports import export_layers
from mapserver.services.mapview import MapView
from mapserver.services.statusio import import_files
from mapserver.store import Store, User, open_store

ADMIN = User("tester", "admin")


def _import(store: Store, *files: Path, **options) -> dict:
    paths = {}
    for file in files:  # the service renames uploads: give it copies
        copy = file.parent / "upload" / file.name
        copy.parent.mkdir(exist_ok=True)
        shutil.copy(file, copy)
        paths[copy] = file.name
    return import_files(store, MapView(store, "hongkou6"), paths, user=ADMIN, **options)


def _status(store: Store) -> dict:
    frame = store.read_status()
    return dict(zip(frame["entity_id"], frame["status"], strict=True))


def test_a_status_import_merges(loaded: Store, tmp_path):
    before = _status(loaded)
    path = tmp_path / "status.csv"
    pd.DataFrame({"户号": ["H03"], "状态": ["一直在沪"]}).to_csv(path, index=False)
    result = _import(loaded, path)
    assert result["plan"]["status"] == {"added": 1, "updated": 0, "deleted": 0, "deleted_ids": []}
    after = _status(loaded)
    assert after == {**before, "H03": "green"}  # nothing else lost
    last = loaded.changes_since(0).iloc[-1]
    assert (last["entity_id"], last["new_status"], last["changed_by"]) == ("H03", "green", "tester")


def test_replace_says_what_it_deletes_and_a_dry_run_writes_nothing(loaded: Store, tmp_path):
    path = tmp_path / "status.csv"
    pd.DataFrame({"household_id": ["H01"], "status": ["red"]}).to_csv(path, index=False)
    before = {name: loaded.table_rows(name) for name in ("status", "changelog", "import_log")}
    plan = _import(loaded, path, replace=True, dry_run=True)["plan"]["status"]
    assert plan["deleted"] == 4 and set(plan["deleted_ids"]) == {
        "household/H02",
        "household/H04",
        "household/H07",
        "building/B4",
    }
    assert {name: loaded.table_rows(name) for name in before} == before
    _import(loaded, path, replace=True)
    assert _status(loaded) == {"H01": "red"}
    log = loaded.recent_imports()[0]
    assert log["files"] == ["status.csv"] and log["by"] == "tester"
    assert log["summary"]["plan"]["status"]["deleted"] == 4


def test_one_grid_sealed_by_a_two_column_table(loaded: Store, tmp_path):
    path = tmp_path / "grids.csv"
    pd.DataFrame({"网格编号": ["G-2"], "区域类型": ["封控区"]}).to_csv(path, index=False)
    before = loaded.read_grids().set_index("grid_id")
    _import(loaded, path)
    after = loaded.read_grids().set_index("grid_id")
    assert after.loc["G-2", "area_class"] == "sealed"
    assert after.loc["G-2", "geometry"].equals(before.loc["G-2", "geometry"])
    assert after.loc["G-2", "name"] == before.loc["G-2", "name"]
    assert list(after.index) == list(before.index)


def test_a_bad_row_in_a_merge_writes_nothing(loaded: Store, tmp_path):
    path = tmp_path / "status.csv"
    pd.DataFrame({"household_id": ["H01", "H99"], "status": ["red", "red"]}).to_csv(
        path, index=False
    )
    before = {name: loaded.table_rows(name) for name in ("status", "changelog")}
    with pytest.raises(ValidationError, match="H99"):
        _import(loaded, path)
    assert {name: loaded.table_rows(name) for name in before} == before


def _layers(store: Store) -> dict:
    out = {}
    for name in ("grids", "buildings", "households", "road_nodes", "road_edges", "checkpoints"):
        frame = store.read_layer(name)
        key = frame.columns[0]
        frame = frame.sort_values(key).reset_index(drop=True)
        if "geometry" in frame.columns:  # compared to 1e-9 degrees (0.1 mm)
            geometry = shapely.to_wkt(frame.geometry.values, rounding_precision=9)
            frame = pd.DataFrame(frame.drop(columns="geometry")).assign(geometry=geometry)
        out[name] = frame
    status = store.read_status()[["entity_kind", "entity_id", "status", "persons", "updated_at"]]
    out["status"] = status.sort_values(["entity_kind", "entity_id"]).reset_index(drop=True)
    return out


def test_every_layer_exported_imports_back_identical(store_url: str, demo_layers, tmp_path):
    source = open_store(store_url)
    source.import_layers(demo_layers, user="demo")
    files = export_layers(source, tmp_path / "export")
    assert set(files) == {
        "grids",
        "buildings",
        "households",
        "status",
        "road_nodes",
        "road_edges",
        "checkpoints",
    }
    expected = _layers(source)
    source.dispose()
    target = open_store(f"sqlite:///{tmp_path / 'copy.sqlite'}")
    _import(target, *files.values())
    got = _layers(target)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(got[name], frame, check_dtype=False, obj=name)
    # and again: a merge of the same files changes nothing
    result = _import(target, *files.values())
    assert all(p["added"] == 0 and p["deleted"] == 0 for p in result["plan"].values())
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(_layers(target)[name], frame, check_dtype=False, obj=name)


def test_a_road_network_needs_replace_when_roads_are_stored(demo_layers, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.import_layers({k: demo_layers[k] for k in ("road_nodes", "road_edges")})
    lines = demo_layers["road_edges"][["name", "road_class", "geometry"]]
    path = tmp_path / "roads.geojson"
    lines.to_file(path, driver="GeoJSON")
    with pytest.raises(ValidationError, match="replace"):
        _import(store, path)
    assert store.row_counts()["road_edges"] == len(demo_layers["road_edges"])
    result = _import(store, path, replace=True)
    assert result["plan"]["road_edges"]["deleted"] > 0
