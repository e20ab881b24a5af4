"""The event layer in the store (SQLite, PostGIS): merge by id, replace, audit, all or nothing."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import Point

from mapserver.store import Store


def _events(ids: list[str], *, kind: str = "确诊", x0: float = 121.481) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "event_id": ids,
            "occurred_at": ["2022-04-02T08:30:00"] * len(ids),
            "day": ["2022-04-02"] * len(ids),
            "kind": [kind] * len(ids),
            "name": ["一号楼"] + [None] * (len(ids) - 1),
            "address": [None] * len(ids),
            "grid_id": ["G-1"] * len(ids),
            "building_id": ["B1"] + [None] * (len(ids) - 1),
            "building_distance_m": [12.345] + [float("nan")] * (len(ids) - 1),
            "properties": [{"备注": "首例"}] + [{}] * (len(ids) - 1),
        },
        geometry=[Point(x0 + i * 0.001, 31.261) for i in range(len(ids))],
        crs="EPSG:4326",
    )


def test_events_round_trip(store: Store):
    result = store.import_events(_events(["E1", "E2"]), user="admin", file="cases.csv")
    assert result == {"rows": 2, "added": 2, "replaced": 0, "deleted": 0}
    back = store.read_events()
    assert back["event_id"].tolist() == ["E1", "E2"]
    first = back.iloc[0]
    assert first["properties"] == {"备注": "首例"}
    assert first["building_distance_m"] == pytest.approx(12.35)
    assert first["kind"] == "确诊" and first["source_file"] == "cases.csv"
    assert first["imported_by"] == "admin"
    assert back.geometry.iloc[1].equals_exact(Point(121.482, 31.261), 1e-9)
    assert back.crs.to_epsg() == 4326
    assert store.read_events(grid_ids=["OTHER"]).empty


def test_reimport_merges_by_id_and_replace_replaces_the_layer(store: Store):
    store.import_events(_events(["E1", "E2", "E3"]), user="admin", file="first.csv")
    merged = store.import_events(_events(["E3", "E4"], kind="无症状"), user="admin", file="b.csv")
    assert merged == {"rows": 2, "added": 1, "replaced": 1, "deleted": 0}
    kinds = dict(zip(*(store.read_events()[c] for c in ("event_id", "kind")), strict=True))
    assert kinds == {"E1": "确诊", "E2": "确诊", "E3": "无症状", "E4": "无症状"}
    replaced = store.import_events(_events(["E4", "E9"]), replace=True, user="lead", file="c.csv")
    assert replaced == {"rows": 2, "added": 1, "replaced": 1, "deleted": 3}
    assert store.read_events()["event_id"].tolist() == ["E4", "E9"]
    audit = store.recent_imports()  # the one import log, shared with the layer imports
    assert [(a["files"], a["mode"], a["by"]) for a in audit] == [
        (["c.csv"], '{"events": "replace"}', "lead"),
        (["b.csv"], '{"events": "merge"}', "admin"),
        (["first.csv"], '{"events": "merge"}', "admin"),
    ]
    assert audit[0]["summary"]["rows"] == {"events": 2}
    assert audit[0]["summary"]["plan"] == {"events": {"added": 1, "updated": 1, "deleted": 3}}


def test_a_failed_write_changes_nothing(store: Store):
    store.import_events(_events(["E1"]), user="admin", file="a.csv")
    before = (store.table_rows("events"), store.table_rows("import_log"))
    with pytest.raises(ValueError, match="twice"):
        store.import_events(_events(["E2", "E2"]), replace=True, user="admin", file="bad.csv")
    projected = _events(["E5"]).to_crs("EPSG:3857")
    with pytest.raises(ValueError, match="reproject"):
        store.import_events(projected, replace=True, user="admin", file="bad.csv")
    assert (store.table_rows("events"), store.table_rows("import_log")) == before
