"""Status counts kept in the store equal a full recount after every kind of write."""

from __future__ import annotations

import random
import threading

import pandas as pd

from mapserver.status.counts import all_counts
from mapserver.store import StatusRow, Store, open_store


def _stored(store: Store) -> dict[tuple[str, str, str], tuple[int, int]]:
    rows = store.read_counts()
    return {
        (r.level, r.entity_id, r.code): (int(r.households), int(r.persons))
        for r in rows.itertuples(index=False)
    }


def _recounted(store: Store) -> dict[tuple[str, str, str], tuple[int, int]]:
    """A full recount from what the store holds, in Python, apart from the store's own."""
    status = store.read_status().sort_values("seq")
    counts = all_counts(store.read_grids(), store.read_buildings(), store.read_households(), status)
    return {
        (r.level, r.entity_id, r.code): (int(r.households), int(r.persons))
        for r in counts.itertuples(index=False)
    }


def _grid(store: Store, grid_id: str) -> dict[str, tuple[int, int]]:
    rows = store.read_counts(level="grid", ids=[grid_id])
    return {r.code: (int(r.households), int(r.persons)) for r in rows.itertuples(index=False)}


def test_counts_of_a_small_district_by_hand(loaded: Store):
    # G-1: B1 holds H01 green (2 persons), H02 red (3), H03 no status (2 residents);
    # B2 holds H04 yellow (persons not given: its 1 resident), H05 (3) and H06 (2) none.
    assert _grid(loaded, "G-1") == {
        "green": (1, 2),
        "red": (1, 3),
        "yellow": (1, 1),
        "none": (3, 7),
    }
    # G-2: B3 holds H07 blue (2), H08 none (2); B4 is green as a building: H09 (3) and
    # H10 (2) take its code, with their own residents
    assert _grid(loaded, "G-2") == {"blue": (1, 2), "none": (1, 2), "green": (2, 5)}
    loaded.apply_status([StatusRow("household", "H05", "red", persons=4)], user="w", source="test")
    assert _grid(loaded, "G-1")["red"] == (2, 7) and _grid(loaded, "G-1")["none"] == (2, 4)
    assert _grid(loaded, "G")["red"] == (2, 7)  # the parent moved with its child
    loaded.apply_status([StatusRow("building", "B4", "yellow")], user="w", source="test")
    assert "green" not in _grid(loaded, "G-2") and _grid(loaded, "G-2")["yellow"] == (2, 5)
    assert _stored(loaded) == _recounted(loaded)


def test_counts_follow_random_writes_imports_and_a_repair(demo_store_url):
    store = open_store(demo_store_url)
    try:
        assert _stored(store) == _recounted(store)  # counted when the district was loaded
        households = store.read_households()["household_id"].tolist()
        buildings = store.read_buildings()["building_id"].tolist()
        rng = random.Random(7)
        codes = ["red", "yellow", "green", "grey", "blue", "black", "unknown-code"]
        for _ in range(30):
            batch = [
                StatusRow("household", rng.choice(households), rng.choice(codes))
                if rng.random() < 0.85
                else StatusRow("building", rng.choice(buildings), rng.choice(codes))
                for _ in range(rng.choice([1, 1, 3, 20]))
            ]
            if rng.random() < 0.3:
                batch[0] = StatusRow(batch[0].entity_kind, batch[0].entity_id, "red", persons=9)
            store.apply_status(batch, user="w", source="test")
        assert _stored(store) == _recounted(store)
        # one batch larger than an IN list: a building's households fall in two chunks
        big = [StatusRow("household", h, rng.choice(codes)) for h in households[:6000]]
        store.apply_status(big, user="w", source="test")
        assert _stored(store) == _recounted(store)
        merged = pd.DataFrame(
            {
                "entity_kind": "household",
                "entity_id": households[:50],
                "status": "green",
            }
        )
        store.import_layers({"status": merged}, mode="merge", user="import")
        assert _stored(store) == _recounted(store)
        fewer = store.read_households().iloc[100:]
        store.import_layers({"households": fewer}, user="import")  # layers change: recount
        assert _stored(store) == _recounted(store)
        with store.engine.begin() as conn:  # counts lost: the repair command restores them
            conn.exec_driver_sql("DELETE FROM status_counts WHERE level = 'grid'")
        assert _stored(store) != _recounted(store)
        assert store.recount() == len(_recounted(store))
        assert _stored(store) == _recounted(store)
    finally:
        store.dispose()


def test_counts_hold_under_concurrent_writers_of_two_processes(demo_store_url):
    """Threads of one store (their writes grouped) and of a second store (another
    process's connections) write at once; no difference may be lost or doubled."""
    first, second = open_store(demo_store_url), open_store(demo_store_url)
    households = first.read_households()["household_id"].tolist()
    failures: list[BaseException] = []

    def write(store: Store, seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(15):
                rows = [
                    StatusRow("household", rng.choice(households), rng.choice(["red", "green"]))
                    for _ in range(rng.choice([1, 2, 5]))
                ]
                store.apply_status(rows, user=f"w{seed}", source="test")
        except BaseException as err:
            failures.append(err)

    threads = [
        threading.Thread(target=write, args=(first if i % 2 else second, i)) for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    try:
        assert not failures
        assert _stored(first) == _recounted(first)
    finally:
        first.dispose()
        second.dispose()


def test_a_store_made_before_counts_is_counted_when_opened(demo_store_url):
    store = open_store(demo_store_url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM status_counts")
    store.dispose()
    reopened = open_store(demo_store_url)
    try:
        assert _stored(reopened) == _recounted(reopened) and _stored(reopened)
    finally:
        reopened.dispose()


def test_the_recount_command_repairs_the_counts(demo_db_url, capsys):
    from mapserver.cli import main as cli_main

    store = open_store(demo_db_url)
    try:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE status_counts SET households = households + 1")
        assert _stored(store) != _recounted(store)
        assert cli_main(["--database", demo_db_url, "db", "recount"]) == 0
        assert "recounted" in capsys.readouterr().out
        assert _stored(store) == _recounted(store)
    finally:
        store.dispose()
