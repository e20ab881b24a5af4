"""Compact status tables (/api/status/grids, /api/status/buildings): the same colours and
counts as the GeoJSON layers, patched from the change log, cut to the reader's area."""

from __future__ import annotations

import time


def _rows_of_features(collection: dict) -> dict[str, tuple]:
    return {
        f["id"]: (
            f["properties"]["status"],
            f["properties"]["households"],
            f["properties"]["persons"],
            f["properties"]["counts"],
        )
        for f in collection["features"]
    }


def _rows_of_table(table: dict) -> dict[str, tuple]:
    codes = table["codes"]
    return {
        i: (row[0], row[1], row[2], {c: n for c, n in zip(codes, row[3], strict=True) if n})
        for i, row in table["rows"].items()
    }


def test_level_table_equals_the_layer_and_follows_writes(viewer, admin_token, demo_layers):
    for level in ("community", "micro"):
        table = viewer.get(f"/api/status/grids?level={level}").get_json()
        layer = viewer.get(f"/api/grids?level={level}").get_json()
        assert table["level"] == level and table["seq"] == layer["seq"]
        assert _rows_of_table(table) == _rows_of_features(layer)
    households = demo_layers["households"]
    building_id = households["building_id"].iloc[0]
    mine = households.loc[households["building_id"] == building_id, "household_id"]
    before = table["seq"]
    rows = [{"entity_kind": "household", "entity_id": h, "status": "red"} for h in mine]
    headers = {"Authorization": f"Bearer {admin_token}"}
    assert viewer.post("/api/status", json={"rows": rows}, headers=headers).status_code == 200
    leaf = demo_layers["buildings"].set_index("building_id").at[building_id, "grid_id"]
    time.sleep(1.1)  # map answers may lag the change log by a second (the live feed's pace)
    moved = viewer.get(f"/api/status/grids?level=micro&since={before}").get_json()
    assert moved["since"] == before and moved["seq"] > before
    assert set(moved["rows"]) == {leaf}  # only the grid that moved, at this level
    whole = viewer.get("/api/status/grids?level=micro").get_json()
    assert moved["rows"][leaf] == whole["rows"][leaf]
    codes = whole["codes"]
    assert whole["rows"][leaf][3][codes.index("red")] >= len(mine)
    assert whole["rows"][leaf][0] == "red"
    buildings = viewer.get(f"/api/status/buildings?grid={leaf}").get_json()
    layer = viewer.get(f"/api/buildings?grid={leaf}").get_json()
    assert _rows_of_table(buildings) == _rows_of_features(layer)
    assert buildings["rows"][building_id][3][codes.index("red")] == len(mine)


def test_tables_are_cut_to_the_readers_area(app, client, login, demo_layers):
    assert client.get("/api/status/buildings").status_code == 401
    login(client, "worker")
    store = app.extensions["store"]
    own = store.check_password("worker", "demo2020").grid_id
    grids = demo_layers["grids"]
    level = grids.set_index("grid_id").at[own, "level"]
    table = client.get(f"/api/status/grids?level={level}").get_json()
    outside = [n for i, r in table["rows"].items() if i != own for n in r[3] + r[4]]
    assert None in outside  # small counts outside the area are withheld, never shown
    assert all(n is None or n == 0 or n >= 5 for n in outside)
    assert all(isinstance(n, int) for n in table["rows"][own][3])
    assert client.get("/api/status/buildings").status_code == 403
    other = grids.loc[(grids["level"] == level) & (grids["grid_id"] != own), "grid_id"].iloc[0]
    assert client.get(f"/api/status/buildings?grid={other}").status_code == 403
    mine = client.get(f"/api/status/buildings?grid={own}").get_json()
    buildings = demo_layers["buildings"]
    assert set(mine["rows"]) == set(buildings.loc[buildings["grid_id"] == own, "building_id"])


def test_level_table_of_a_view(viewer, demo_layers):
    grids = demo_layers["grids"]
    micro = grids[grids["level"] == "micro"].set_index("grid_id")
    minx, miny, maxx, maxy = micro.geometry.iloc[0].bounds
    bbox = f"{minx},{miny},{maxx},{maxy}"
    part = viewer.get(f"/api/status/grids?level=micro&bbox={bbox}").get_json()
    whole = viewer.get("/api/status/grids?level=micro").get_json()
    meeting = {
        g
        for g, geom in micro.geometry.items()
        if geom.bounds[2] >= minx
        and geom.bounds[0] <= maxx
        and geom.bounds[3] >= miny
        and geom.bounds[1] <= maxy
    }
    assert set(part["rows"]) == meeting and micro.index[0] in meeting
    assert len(meeting) < len(whole["rows"])
    assert all(part["rows"][g] == whole["rows"][g] for g in meeting)
    far = viewer.get("/api/status/grids?level=micro&bbox=0,0,0.1,0.1").get_json()
    assert far["rows"] == {}


def test_history_answers_as_of_a_past_moment(viewer, admin_token, demo_layers):
    """``at=`` (summary, grids, level table): the state before a write, in China time or
    UTC; the present without it; a malformed moment is refused naming the field."""
    from datetime import UTC, datetime, timedelta, timezone

    before = viewer.get("/api/summary").get_json()
    table_before = viewer.get("/api/status/grids?level=micro").get_json()
    layer_before = viewer.get("/api/grids?level=micro").get_json()
    time.sleep(0.05)
    moment = datetime.now(UTC)
    time.sleep(0.05)
    households = demo_layers["households"]["household_id"].iloc[:50]
    rows = [{"entity_kind": "household", "entity_id": h, "status": "black"} for h in households]
    headers = {"Authorization": f"Bearer {admin_token}"}
    assert viewer.post("/api/status", json={"rows": rows}, headers=headers).status_code == 200
    time.sleep(1.1)
    now = viewer.get("/api/summary").get_json()
    assert now["counts"] != before["counts"]
    china = moment.astimezone(timezone(timedelta(hours=8))).replace(tzinfo=None).isoformat()
    for at in (moment.isoformat(), china):
        past = viewer.get("/api/summary", query_string={"at": at}).get_json()
        assert past["counts"] == before["counts"] and past["seq"] == before["seq"]
        table = viewer.get("/api/status/grids", query_string={"level": "micro", "at": at})
        assert table.get_json()["rows"] == table_before["rows"]
        layer = viewer.get("/api/grids", query_string={"level": "micro", "at": at}).get_json()
        assert _rows_of_features(layer) == _rows_of_features(layer_before)
    bad = viewer.get("/api/summary?at=yesterday")
    assert bad.status_code == 400 and bad.get_json()["issues"][0]["field"] == "at"


def test_history_span_names_the_change_logs_first_and_last_moment(viewer):
    span = viewer.get("/api/history").get_json()
    assert span["first"] <= span["last"] and span["seq"] > 0
    then = viewer.get("/api/summary", query_string={"at": span["last"]}).get_json()
    assert then["seq"] == span["seq"]
