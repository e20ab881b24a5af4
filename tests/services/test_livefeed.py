"""The per-process live feed: ticks follow the change log, writes within the gap coalesce,
deltas are computed once per tick and name what changed."""

from __future__ import annotations

import json
import time

from mapserver.services.livefeed import LiveFeed
from mapserver.services.mapview import MapView
from mapserver.store import StatusRow, open_store


def _write(store, household: str, status: str) -> int:
    return store.apply_status([StatusRow("household", household, status)], user="t", source="t")


def test_tick_follows_writes_and_coalesces_within_the_gap(demo_db_url, demo_layers):
    store = open_store(demo_db_url)
    feed = LiveFeed(MapView(store), poll_s=0.02, gap_s=0.6)
    households = demo_layers["households"]["household_id"].tolist()
    start = feed.current()
    first = _write(store, households[0], "red")
    tick = feed.wait(start, timeout=5)
    assert tick.seq == first  # the first change goes out at once
    published = time.monotonic()
    second = _write(store, households[1], "red")
    third = _write(store, households[2], "yellow")
    later = feed.wait(tick, timeout=5)
    assert later.seq == third > second  # both writes in one tick
    assert time.monotonic() - published >= 0.5
    assert feed.wait(later, timeout=0.2) is later  # nothing new: the same tick back
    store.dispose()


def test_tick_carries_the_delta_for_maps_it_covers(demo_db_url, demo_layers):
    store = open_store(demo_db_url)
    feed = LiveFeed(MapView(store), poll_s=0.02, gap_s=0.0)
    households = demo_layers["households"]
    household = households["household_id"].iloc[0]
    building = households["building_id"].iloc[0]
    start = feed.current()
    seq = _write(store, household, "red")
    tick = feed.wait(start, timeout=5)
    assert (tick.since, tick.seq) == (start.seq, seq)
    data = json.loads(feed.event_data(tick, start.seq))
    assert data["changed"] == 1 and data["buildings"][building]["counts"]["red"] >= 1
    assert feed.event_data(tick, start.seq) is tick.data  # one text for every stream
    behind = json.loads(feed.event_data(tick, start.seq - 1))  # the delta misses one change
    assert behind == {"seq": seq, "since": start.seq - 1}
    store.dispose()
