"""Search that lands: hits carry the path of grids above them (same names told apart), a role
that may read personal data finds a grid by its person in charge or phone, the public does
not; in Chromium (network cut off) the hit stays highlighted with its popup open."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest


def test_hits_carry_their_path_and_persons_only_for_those_who_may_see_them(
    app, viewer, client, demo_layers
):
    hits = viewer.get("/api/search?q=第1微网格").get_json()["results"]
    same = [h for h in hits if h["name"] == "第1微网格"]
    assert len(same) >= 2
    paths = [" › ".join(h["path"]) for h in same]
    assert len(set(paths)) == len(paths)  # told apart
    grids = demo_layers["grids"].set_index("grid_id")
    for hit in same:
        parent = grids.at[hit["id"], "parent_id"]
        assert hit["path"][-1] == grids.at[parent, "name"]
    micro = grids[grids["level"] == "micro"].iloc[3]
    found = viewer.get(f"/api/search?q={micro['phone']}").get_json()["results"]
    assert [h["id"] for h in found if h["match"] == "person"] == [micro.name]
    assert found[0]["person"] == micro["person"]
    buildings = viewer.get("/api/search?q=" + demo_layers["buildings"]["name"].iloc[0]).get_json()
    building = next(h for h in buildings["results"] if h["kind"] == "building")
    assert building["path"][-1] == grids.at[demo_layers["buildings"]["grid_id"].iloc[0], "name"]
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], anonymous_read=True)
    public = client.get(f"/api/search?q={micro['phone']}")
    assert public.status_code == 200  # anonymous reading on: no person in charge found
    assert not [h for h in public.get_json()["results"] if h["match"] == "person"]


@pytest.mark.browser
def test_a_search_hit_stays_highlighted_with_its_popup(live_server, offline_page, open_map):
    page = offline_page
    open_map(page, live_server.url + "/?colour=status")
    page.fill("#search", "第2微网格")
    page.wait_for_selector("#search-results li a small.path", timeout=5_000)
    page.click("#search-results li a")
    page.wait_for_selector(".leaflet-popup-content", timeout=5_000)
    focus = page.get_attribute("body", "data-focus")
    time.sleep(2)
    assert page.is_visible(".leaflet-popup-content")
    assert "第2微网格" in page.inner_text(".leaflet-popup-content")
    stroke = page.get_attribute(f"path[data-id='{focus}']", "stroke")
    assert stroke == "#00a0e9"
    page.mouse.click(5, 400)  # a click elsewhere ends the highlight
    page.wait_for_function("() => !document.body.dataset.focus", timeout=5_000)


def test_rooms_are_found_by_those_who_may_see_them(app, viewer, client, demo_layers, login):
    households = demo_layers["households"]
    buildings = demo_layers["buildings"].set_index("building_id")
    one = households.iloc[7]
    name = buildings.at[one["building_id"], "name"]
    room = str(int(one["room"]))  # typed without the leading zero
    hits = viewer.get("/api/search", query_string={"q": f"{name} {room}"}).get_json()["results"]
    rooms = [h for h in hits if h["kind"] == "household"]
    same_room = households[
        (households["building_id"] == one["building_id"])
        & (households["room"].astype(int) == int(one["room"]))
    ]
    assert sorted(h["id"] for h in rooms) == sorted(same_room["household_id"])  # every unit
    assert {h["building_id"] for h in rooms} == {one["building_id"]}
    assert rooms[0]["match"] == "room"
    assert (
        rooms[0]["path"][-1]
        == demo_layers["grids"]
        .set_index("grid_id")
        .at[buildings.at[one["building_id"], "grid_id"], "name"]
    )
    unit_room = f"{one['unit']}-{room}"
    by_unit = viewer.get("/api/search", query_string={"q": unit_room}).get_json()["results"]
    assert one["household_id"] in {h["id"] for h in by_unit if h["kind"] == "household"}
    # a worker finds the rooms of their own grid only
    worker = app.test_client()
    login(worker, "worker")
    seen = worker.get("/api/search", query_string={"q": room}).get_json()["results"]
    grids = demo_layers["grids"]
    mine = grids[grids["level"] == "micro"].iloc[0]["grid_id"]
    assert all(h["grid_id"] == mine for h in seen if h["kind"] == "household")
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], anonymous_read=True)
    public = client.get("/api/search", query_string={"q": f"{name} {room}"}).get_json()
    assert not [h for h in public["results"] if h["kind"] == "household"]


@pytest.mark.browser
def test_a_room_lands_on_its_building(live_server, offline_page, demo_layers, open_map):
    households = demo_layers["households"]
    buildings = demo_layers["buildings"].set_index("building_id")
    one = households.iloc[7]
    name = buildings.at[one["building_id"], "name"]
    page = offline_page
    open_map(page, live_server.url + "/?colour=status")
    page.fill("#search", f"{name} {int(one['room'])}")
    page.wait_for_selector("#search-results li a", timeout=5_000)
    page.click("#search-results li a")
    page.wait_for_function(
        "(id) => document.body.dataset.focus === id", arg=one["building_id"], timeout=5_000
    )
    page.wait_for_selector(".leaflet-popup-content .room-hit", timeout=10_000)
    assert str(one["room"]) in page.inner_text(".leaflet-popup-content .room-hit")
