"""Status as of a past moment, on both backends: the counts a view shows for a past change-log
sequence number (or moment) equal a full recount of the status table as it was then, after
random writes, a merging import and a replacing import that drops entities."""

from __future__ import annotations

import random
import time

import pandas as pd
import pytest
import sqlalchemy as sa

from mapserver.services.mapview import MapView
from mapserver.status.counts import TOTAL_ID, all_counts, wide_counts
from mapserver.store import StatusRow, open_store, snapshots


def _recount(store, status: pd.DataFrame, codes) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Grid households and persons and the district's households, recounted from the raw
    tables with ``status`` as the status table."""
    grids = store.read_grids()
    rows = all_counts(grids, store.read_buildings(), store.read_households(), status)
    index = pd.Index(grids["grid_id"], dtype=object)
    households, persons = wide_counts(rows[rows["level"] == "grid"], codes, index)
    total, _ = wide_counts(rows[rows["level"] == "total"], codes, pd.Index([TOTAL_ID]))
    return households.sort_index(), persons.sort_index(), total.iloc[0]


def _same(view, snap, expected) -> None:
    households, persons, total = expected
    pd.testing.assert_frame_equal(
        snap.counts.grid_households.sort_index(), households, check_index_type=False
    )
    pd.testing.assert_frame_equal(
        snap.counts.grid_persons.sort_index(), persons, check_index_type=False
    )
    assert snap.counts.total_households.to_dict() == total.to_dict()
    summary = view.summary(at=snap.seq)
    assert summary["households"] == int(total.sum())


@pytest.mark.parametrize("every", [None, 100])
def test_counts_as_of_a_past_seq_equal_a_recount_of_the_status_then(
    demo_store_url, demo_layers, monkeypatch, every
):
    """From today's counts (no snapshot yet), and from the nearest of snapshots taken every
    100 change-log rows (``every``)."""
    if every is not None:
        monkeypatch.setattr(snapshots, "SNAPSHOT_EVERY_ROWS", every)
    store = open_store(demo_store_url)
    try:
        view = MapView(store)
        codes = view.scheme.code_names
        rng = random.Random(7)
        households = demo_layers["households"]["household_id"].tolist()
        buildings = demo_layers["buildings"]["building_id"].tolist()
        kept: list[tuple[int, pd.DataFrame]] = [(store.last_seq(), store.read_status())]
        for _ in range(6):
            rows = [
                StatusRow("household", h, rng.choice(codes), persons=rng.choice([None, 0, 1, 4]))
                for h in rng.sample(households, 60)
            ]
            rows += [StatusRow("building", b, rng.choice(codes)) for b in rng.sample(buildings, 3)]
            seq = store.apply_status(rows, user="t", source="t")
            kept.append((seq, store.read_status()))
        # a merging import, then a replacing one that drops every other household's row
        current = store.read_status()
        merged = current.head(40).assign(status="grey")
        store.import_layers({"status": merged}, mode="merge")
        kept.append((store.last_seq(), store.read_status()))
        replaced = store.read_status().iloc[::2].assign(status="blue")
        store.import_layers({"status": replaced}, mode="replace")
        kept.append((store.last_seq(), store.read_status()))
        store.apply_status([StatusRow("household", households[0], "red")], user="t", source="t")
        with store.engine.connect() as conn:
            taken = conn.execute(sa.select(store.tables["count_snapshot_list"].c.seq)).scalars()
            taken = sorted(taken)
        assert bool(taken) == (every is not None), taken
        for seq, status in kept:
            snap = view.snapshot_at(seq)
            assert snap.seq == seq
            _same(view, snap, _recount(store, status, codes))
        # the current state through the same door is the live snapshot
        assert view.snapshot_at(store.last_seq()) is view.snapshot()
    finally:
        store.dispose()


def test_a_moment_finds_the_last_change_written_before_it(demo_store_url, demo_layers):
    store = open_store(demo_store_url)
    try:
        view = MapView(store)
        households = demo_layers["households"]["household_id"].tolist()
        first = store.apply_status(
            [StatusRow("household", households[0], "red")], user="t", source="t"
        )
        log = store.changes_since(first - 1)
        written = str(log["changed_at"].iloc[-1])
        time.sleep(0.01)
        store.apply_status([StatusRow("household", households[1], "red")], user="t", source="t")
        assert view.seq_at(written) == first
        assert view.seq_at("2000-01-01T00:00:00.000+00:00") == 0
    finally:
        store.dispose()


def test_old_snapshots_are_thinned_to_the_last_of_each_day(tmp_path):
    from datetime import UTC, datetime, timedelta

    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    try:
        now = datetime(2026, 12, 2, 12, tzinfo=UTC)
        moments = [now - timedelta(days=10, hours=h) for h in (9, 5, 1)]  # one old day
        moments += [now - timedelta(days=1, hours=h) for h in (5, 1)]  # within the week
        with store.engine.begin() as conn:
            for seq, moment in enumerate(moments, start=1):
                snapshots.take(conn, store.tables, seq=seq, version=1, now=moment)
            snapshots.take(conn, store.tables, seq=9, version=1, now=now)
            kept = sorted(
                conn.execute(sa.select(store.tables["count_snapshot_list"].c.seq)).scalars()
            )
        assert kept == [3, 4, 5, 9]  # the old day's last, and everything of the last week
    finally:
        store.dispose()
