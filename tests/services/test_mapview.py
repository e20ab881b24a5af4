"""The live map service: the incrementally patched roll-up equals a full recount."""

from __future__ import annotations

import pandas as pd

from mapserver.services.mapview import MapView
from mapserver.store import StatusRow, open_store


def _frames(view: MapView) -> dict[str, pd.DataFrame]:
    result = view.snapshot().result
    return {
        "building_households": result.building_households,
        "building_persons": result.building_persons,
        "grid_households": result.grid_households.sort_index(),
        "grid_persons": result.grid_persons.sort_index(),
    }


def test_patched_rollup_equals_full_recount(demo_db_url, demo_layers):
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
    patched = _frames(live)
    fresh = _frames(MapView(store))
    for name, frame in fresh.items():
        pd.testing.assert_frame_equal(patched[name], frame, check_dtype=False, obj=name)
    changes = live.changes(0)
    assert changes["seq"] == store.last_seq()
    store.dispose()
