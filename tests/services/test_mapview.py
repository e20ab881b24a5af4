"""The live map service: counts read from the store and patched from the change log equal
a roll-up of the raw tables."""

from __future__ import annotations

import gzip
import json
import time

import pandas as pd

from mapserver.services.mapjson import MapJSON
from mapserver.services.mapview import MapView
from mapserver.status.rollup import rollup
from mapserver.status.scheme import load_scheme
from mapserver.store import StatusRow, open_store


def _frames(result) -> dict[str, pd.DataFrame]:
    """A raw roll-up's counts and colours, as frames to compare."""
    return {
        "building_households": result.building_households.sort_index(),
        "building_persons": result.building_persons.sort_index(),
        "building_codes": result.building_colour_codes().sort_index().to_frame("code"),
        "grid_households": result.grid_households.sort_index(),
        "grid_persons": result.grid_persons.sort_index(),
        "total": result.building_households.sum(axis=0).to_frame("n"),
    }


def _view_frames(view, store) -> dict[str, pd.DataFrame]:
    """What a map view shows of every building and grid, as the frames of :func:`_frames`
    (buildings asked one view at a time, as maps do)."""
    snap = view.snapshot()
    ids = sorted(store.read_buildings()["building_id"])
    rows = view.building_rows(snap, ids)
    columns = list(snap.counts.grid_households.columns)

    def counts(member: str) -> pd.DataFrame:
        values = [[rows[b][member].get(c, 0) for c in columns] for b in ids]
        return pd.DataFrame(values, index=ids, columns=columns)

    codes = pd.Series([rows[b]["status"] for b in ids], index=ids, dtype=object)
    return {
        "building_households": counts("counts"),
        "building_persons": counts("person_counts"),
        "building_codes": codes.to_frame("code"),
        "grid_households": snap.counts.grid_households.sort_index(),
        "grid_persons": snap.counts.grid_persons.sort_index(),
        "total": snap.counts.total_households.to_frame("n"),
    }


def _raw_rollup(store, scheme):
    """A roll-up of the raw tables, not of the counts the store keeps."""
    return rollup(
        store.read_grids(),
        store.read_buildings(),
        store.read_households(),
        store.read_status(),
        scheme,
    )


def test_patched_counts_equal_a_rollup_of_the_raw_tables(demo_db_url, demo_layers):
    store = open_store(demo_db_url)
    live = MapView(store)
    live.snapshot()  # cache the full roll-up, then patch it from the change log
    households = demo_layers["households"]
    buildings = demo_layers["buildings"]
    first = households["household_id"].iloc[:40].tolist()
    store.apply_status(
        [StatusRow("household", h, "red", persons=1) for h in first], user="t", source="t"
    )
    store.apply_status(
        [StatusRow("building", buildings["building_id"].iloc[7], "grey")], user="t", source="t"
    )
    store.apply_status(
        [StatusRow("household", h, "black", persons=0) for h in first[:10]], user="t", source="t"
    )
    patched = _view_frames(live, store)
    for fresh in (
        _view_frames(MapView(store), store),
        _frames(_raw_rollup(store, live.scheme)),
    ):
        for name, frame in fresh.items():
            pd.testing.assert_frame_equal(
                patched[name],
                frame,
                check_dtype=False,
                check_index_type=False,
                check_names=False,
                obj=name,
            )
    changes = live.changes(0)
    assert changes["seq"] == store.last_seq()
    store.dispose()


def test_snapshot_max_age_reuses_a_young_snapshot_only(demo_db_url, demo_layers):
    store = open_store(demo_db_url)
    other = open_store(demo_db_url)  # another server process on the same database
    live = MapView(store)
    before = live.snapshot()
    households = demo_layers["households"]["household_id"]
    seq = other.apply_status(
        [StatusRow("household", households.iloc[0], "red")], user="t", source="t"
    )
    assert live.snapshot(max_age_s=60).seq == before.seq  # young enough: no look at the store
    assert live.snapshot().seq == seq
    time.sleep(0.05)
    seq = other.apply_status(
        [StatusRow("household", households.iloc[1], "red")], user="t", source="t"
    )
    assert live.snapshot(max_age_s=0.01).seq == seq  # too old: the store is asked
    # layers: an import through this process's own store is seen at once, however young
    version = live.layers(max_age_s=60).version
    other.import_layers({"checkpoints": demo_layers["checkpoints"]}, user="t")
    assert live.layers(max_age_s=60).version == version  # another process's: within the age
    store.import_layers({"checkpoints": demo_layers["checkpoints"]}, user="t")
    assert live.layers(max_age_s=60).version == version + 2
    store.dispose()
    other.dispose()


def _features(collection: dict) -> dict:
    return {f["id"]: f for f in collection["features"]}


def test_cached_layer_answers_equal_the_uncached_ones(demo_db_url, demo_layers):
    store = open_store(demo_db_url)
    live = MapView(store)
    cache = MapJSON(live)
    grids = demo_layers["grids"]
    parent = grids.query("level == 'community'")["grid_id"].iloc[0]
    bbox = tuple(demo_layers["buildings"].total_bounds * [1, 1, 0.99999, 0.99999])
    queries = [
        {"level": "small"},
        {"level": "micro", "bbox": bbox},
        {"parent_id": parent},
        {"ids": grids["grid_id"].iloc[:3].tolist(), "coords": "gcj02"},
        {"level": "community", "rule": "share"},
    ]
    for query in queries:
        cached = json.loads(cache.grids(**query).body)
        plain = json.loads(json.dumps(live.grid_features(**query)))
        assert cached["seq"] == plain["seq"]
        assert _features(cached) == _features(plain), query
        assert [f["id"] for f in cached["features"]] == [f["id"] for f in plain["features"]]
    big = grids.query("level == 'big'")["grid_id"].iloc[0]
    for query in ({"grid_id": big}, {"bbox": bbox}, {"grid_id": big, "coords": "gcj02"}):
        cached = json.loads(cache.buildings(**query).body)
        plain = json.loads(json.dumps(live.building_features(**query)))
        assert cached["truncated"] == plain["truncated"]
        assert _features(cached) == _features(plain), query
    store.dispose()


def test_cached_answer_moves_with_a_write_and_gzips(demo_db_url, demo_layers):
    store = open_store(demo_db_url)
    live = MapView(store)
    cache = MapJSON(live)
    households = demo_layers["households"]
    building = households["building_id"].iloc[0]
    leaf = demo_layers["buildings"].set_index("building_id").at[building, "grid_id"]
    first = cache.buildings(grid_id=leaf)
    assert cache.buildings(grid_id=leaf) is first  # nothing moved: the same answer
    rows = households.loc[households["building_id"] == building, "household_id"]
    store.apply_status([StatusRow("household", h, "red") for h in rows], user="t", source="t")
    second = cache.buildings(grid_id=leaf)
    assert second.etag != first.etag
    colour = load_scheme("hongkou6").colour("red")
    assert _features(json.loads(second.body))[building]["properties"]["colour"] == colour
    assert _features(json.loads(first.body))[building]["properties"]["colour"] != colour
    assert gzip.decompress(second.gzipped()) == second.body
    store.dispose()


def test_status_table_equals_one_by_one_status(demo_db_url, demo_layers):
    store = open_store(demo_db_url)
    live = MapView(store)
    households = demo_layers["households"]["household_id"]
    store.apply_status(
        [StatusRow("household", h, "red") for h in households.iloc[::7]], user="t", source="t"
    )
    snap = live.snapshot()
    for rule in (None, "share"):
        grids = live.status_table(snap, "grid", rule)
        assert any(s["status"] == "red" for s in grids.values())
        for grid_id in demo_layers["grids"]["grid_id"]:
            one = live.grid_status(snap, grid_id, rule)
            assert grids.get(grid_id, one) == one
        ids = demo_layers["buildings"]["building_id"].tolist()
        buildings = live.building_rows(snap, ids, rule)
        assert set(buildings) == set(ids)
        assert any(s["status"] == "red" for s in buildings.values())
        fresh = MapView(store)  # one by one, from another view: the same dicts
        for building_id in ids:
            one = fresh.building_status(fresh.snapshot(), building_id, rule)
            assert buildings[building_id] == one
    store.dispose()


def test_patched_status_tables_and_cached_answers_follow_writes(demo_db_url, demo_layers):
    """Tables carried from snapshot to snapshot (recounted only where writes moved them) and
    answers reusing unchanged features' text equal a fresh view's after every write."""
    store = open_store(demo_db_url)
    live = MapView(store)
    cache = MapJSON(live)
    households = demo_layers["households"]["household_id"]
    grids = demo_layers["grids"]
    big = grids.query("level == 'big'")["grid_id"].iloc[0]
    for rule in (None, "share"):
        for level in ("community", "micro"):
            cache.grids(level=level, rule=rule)
        cache.buildings(grid_id=big, rule=rule)
    writes = [
        [StatusRow("household", h, "red") for h in households.iloc[:30]],
        [StatusRow("household", h, "green") for h in households.iloc[10:20]],
        [StatusRow("household", households.iloc[500], "black", persons=0)],
    ]
    for number, rows in enumerate(writes):
        store.apply_status(rows, user="t", source="t")
        snap = live.snapshot()
        if number != 1:  # skip one snapshot's tables: the next carries two writes' moves
            for rule in (None, "share"):
                fresh = MapView(store)
                fresh_snap = fresh.snapshot()
                assert live.status_table(snap, "grid", rule) == fresh.status_table(
                    fresh_snap, "grid", rule
                ), (number, rule)
                ids = demo_layers["buildings"]["building_id"]
                assert live.building_rows(snap, ids, rule) == fresh.building_rows(
                    fresh_snap, ids, rule
                ), (number, rule)
                for level in ("community", "micro"):
                    cached = json.loads(cache.grids(level=level, rule=rule).body)
                    plain = json.loads(json.dumps(fresh.grid_features(level=level, rule=rule)))
                    assert _features(cached) == _features(plain), (number, level, rule)
                cached = json.loads(cache.buildings(grid_id=big, rule=rule).body)
                plain = json.loads(json.dumps(fresh.building_features(grid_id=big, rule=rule)))
                assert _features(cached) == _features(plain), (number, rule)
    store.dispose()


def test_warm_cache_serialises_every_feature_once(demo_db_url, demo_layers):
    store = open_store(demo_db_url)
    cache = MapJSON(MapView(store))
    cache.warm()
    pieces = cache._fixed()
    grids, buildings = demo_layers["grids"], demo_layers["buildings"]
    assert {key[1] for key in pieces.text if key[0] == "grid"} == set(grids["grid_id"])
    assert {key[1] for key in pieces.text if key[0] == "building"} == set(buildings["building_id"])
    held = len(pieces.text)
    bbox = tuple(buildings.total_bounds * [1, 1, 0.99999, 0.99999])
    cache.grids(level="micro", bbox=bbox)
    cache.buildings(bbox=bbox)
    assert len(pieces.text) == held  # a new query only selects and joins
    store.dispose()


def test_serialised_texts_are_kept_within_a_bound():
    from mapserver.services.recent import Recent

    kept = Recent(3)
    for i in range(10):
        kept[i] = str(i)
    assert list(kept) == [7, 8, 9]
    assert kept.get(7) == "7" and kept.get(1) is None  # 7 is now the most recent
    kept[10] = "10"
    assert list(kept) == [9, 7, 10]
    copied = kept.copy_without([7])
    assert list(copied) == [9, 10] and list(kept) == [9, 7, 10] and copied.limit == 3


def test_changes_of_too_many_buildings_tell_the_map_to_reload(
    demo_db_url, demo_layers, monkeypatch
):
    monkeypatch.setattr("mapserver.services.mapview.CHANGES_MAX_BUILDINGS", 2)
    store = open_store(demo_db_url)
    live = MapView(store)
    before = store.last_seq()
    buildings = demo_layers["buildings"]["building_id"]
    store.apply_status(
        [StatusRow("building", b, "grey") for b in buildings.iloc[:2]], user="t", source="t"
    )
    few = live.changes(before)
    assert not few.get("reload") and set(few["buildings"]) == set(buildings.iloc[:2])
    store.apply_status(
        [StatusRow("building", b, "grey") for b in buildings.iloc[2:5]], user="t", source="t"
    )
    many = live.changes(before)
    assert many["reload"] and many["buildings"] == {} and many["seq"] == store.last_seq()
    store.dispose()


def test_a_level_too_large_to_keep_is_written_feature_by_feature_the_same(demo_db_url, monkeypatch):
    """Past KEPT_UP_TO features an answer's texts are made as it is written, not kept; the
    answer is the same as the plain one and nothing of it stays in the text cache."""
    monkeypatch.setattr("mapserver.services.mapjson.KEPT_UP_TO", 3)
    store = open_store(demo_db_url)
    live = MapView(store)
    cache = MapJSON(live)
    for rule in (None, "share"):
        cached = json.loads(cache.grids(level="micro", rule=rule).body)
        plain = json.loads(json.dumps(live.grid_features(level="micro", rule=rule)))
        assert len(cached["features"]) > 3
        assert _features(cached) == _features(plain)
    assert not [key for key in cache._fixed().text if key[0] == "grid"]
    store.dispose()
