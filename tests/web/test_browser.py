"""The command map in real headless Chromium with the network cut off."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from mapserver.status.scheme import load_scheme

pytestmark = pytest.mark.browser
SCHEME = load_scheme("hongkou6")
COLOURS = {c.code: c.colour.lower() for c in SCHEME.codes}


def _fills(page, kind: str) -> dict[str, str]:
    return page.evaluate(
        """(kind) => Object.fromEntries(Array.from(document.querySelectorAll(`path.ms-${kind}`))
              .map(p => [p.dataset.id, (p.getAttribute('fill') || '').toLowerCase()]))""",
        kind,
    )


def _legend(page) -> dict[str, int]:
    return page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('#legend td.count'))
              .map(td => [td.dataset.code, Number(td.textContent)]))"""
    )


def _pick_building(demo_layers) -> tuple[str, str, list[str]]:
    """A building whose households are all not red, its leaf grid, and its households."""
    households = demo_layers["households"]
    status = demo_layers["status"].set_index("entity_id")["status"]
    codes = households["household_id"].map(status)
    clean = codes.groupby(households["building_id"]).apply(lambda s: "red" not in set(s))
    buildings = demo_layers["buildings"].set_index("building_id")
    grids = demo_layers["grids"].set_index("grid_id")
    for building_id in clean[clean].index:
        leaf = buildings.at[building_id, "grid_id"]
        if grids.at[leaf, "level"] == "micro":
            ids = households.loc[households["building_id"] == building_id, "household_id"]
            return building_id, leaf, ids.tolist()
    raise AssertionError("no building without red households")


def _login_if_asked(page, username: str = "admin") -> None:
    """Log in when the page went to the login form (reading needs a login by default)."""
    if "/login" in page.url:
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", "demo2020")
        page.click("button[type=submit]")
        page.wait_for_load_state()


def _open_map(page, url: str) -> None:
    page.goto(url)
    _login_if_asked(page)
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)


def _recolour_check(page, post_url: str, token: str, demo_layers) -> None:
    building_id, leaf, households = _pick_building(demo_layers)
    parent = demo_layers["grids"].set_index("grid_id").at[leaf, "parent_id"]
    page.evaluate("(id) => window.msMap.drillInto(id)", parent)
    page.wait_for_function(
        "(ids) => ids.every(id => document.querySelector(`path[data-id='${id}']`))",
        arg=[building_id, leaf],
        timeout=10_000,
    )
    assert _fills(page, "building")[building_id] != COLOURS["red"]
    response = requests.post(
        f"{post_url}/api/status",
        json={"rows": [{"entity_id": h, "status": "red"} for h in households]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    posted = time.monotonic()
    page.wait_for_function(
        """([b, g, red]) => {
            const fill = (id) => (document.querySelector(`path[data-id='${id}']`)
                                  .getAttribute('fill') || '').toLowerCase();
            return fill(b) === red && fill(g) === red;
        }""",
        arg=[building_id, leaf, COLOURS["red"]],
        timeout=2_000,
    )
    assert time.monotonic() - posted < 2.0


def test_command_map_offline_colours_legend_and_live_update(
    live_server, offline_page, admin_token, demo_layers
):
    page = offline_page
    _open_map(page, live_server.url + "/?colour=status")  # the status colours, not a measure
    fills = _fills(page, "grid")
    assert len(fills) >= 5
    auth = {"Authorization": f"Bearer {admin_token}"}
    api = requests.get(
        f"{live_server.url}/api/grids?level=community", headers=auth, timeout=10
    ).json()
    expected = {f["id"]: f["properties"]["colour"].lower() for f in api["features"]}
    assert fills == expected
    assert set(fills.values()) <= set(COLOURS.values())
    summary = requests.get(f"{live_server.url}/api/summary", headers=auth, timeout=10).json()
    legend = _legend(page)
    for code in COLOURS:
        assert legend[code] == summary["counts"].get(code, 0)
    _recolour_check(page, live_server.url, admin_token, demo_layers)
    assert not [u for u in page.blocked if "127.0.0.1" in u]


def test_english_switch(live_server, offline_page):
    page = offline_page
    _open_map(page, live_server.url + "/?lang=en&colour=status")
    assert page.locator("#panel h2").inner_text().startswith("Legend")
    legend = page.locator("#legend").inner_text()
    green = next(c for c in SCHEME.codes if c.code == "green")
    assert green.label_en in legend and "Total" in legend
    assert green.label_zh not in legend


def _start_server(url: str, port: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mapserver.cli", "--database", url, "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60  # gunicorn workers start and build the app first
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/login", timeout=5).ok:
                return proc, base
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("server process did not start")


def test_change_through_another_process_reaches_the_map(
    demo_db_url, offline_page, demo_layers, free_port
):
    """Two server processes on one database: a write through B recolours a map served by A."""
    a, url_a = _start_server(demo_db_url, free_port())
    b, url_b = _start_server(demo_db_url, free_port())
    try:
        from mapserver.store import open_store

        store = open_store(demo_db_url)
        token = store.create_token("admin")
        store.dispose()
        _open_map(offline_page, url_a + "/")
        _recolour_check(offline_page, url_b, token, demo_layers)
    finally:
        a.terminate()
        b.terminate()


def test_village_checkpoints_and_cordon_on_the_page(live_server, offline_page, demo_layers):
    """Open the village's popup, show its entrances, then its cordon plan moved outward."""
    page = offline_page
    _open_map(page, live_server.url + "/")
    grids = demo_layers["grids"]
    village = grids[(grids["level"] == "community") & grids["name"].str.contains("村")]
    village_id = str(village["grid_id"].iloc[0])
    page.click(f"path.ms-grid[data-id='{village_id}']", position={"x": 5, "y": 5}, force=True)
    page.locator("button.show-entrances").dispatch_event("click")
    page.wait_for_selector("path.ms-entrance", timeout=10_000)
    states = page.eval_on_selector_all("path.ms-entrance", "els => els.map(e => e.dataset.state)")
    assert len(states) == len(demo_layers["checkpoints"])
    assert states.count("staffed") == int(demo_layers["checkpoints"]["staffed"].sum())
    page.fill("#outward", "300")
    page.evaluate(
        """() => { const box = document.querySelector('#replan');
                   box.checked = true; box.dispatchEvent(new Event('change')); }"""
    )
    page.wait_for_selector(
        "body[data-cordon*='max_outward_m=300&keep_existing=false']", timeout=10_000
    )
    staffed = int(page.inner_text("#cordon-staffed"))
    now = int(page.inner_text("#cordon-now"))
    assert 0 < staffed <= now
    cuts = page.eval_on_selector_all("path.ms-cut", "els => els.map(e => e.dataset.state)")
    assert cuts.count("staffed") + cuts.count("existing") == staffed


def test_driver_marks_delivered_and_command_map_shows_it(app, live_server, browser):
    """A driver marks a stop delivered on the phone page; the open command map turns it green."""
    from mapserver.services.delivery import DeliveryRequest

    service = app.extensions["delivery"]
    plan_id = service.plan(DeliveryRequest(statuses=("red",), time_limit_s=1), user="test")
    route = service.get(plan_id)["plan"]["routes"][0]
    stop_id = route["stops"][0]["stop_id"]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith("http://127.0.0.1") else r.abort(),
    )
    command = context.new_page()
    _open_map(command, live_server.url + "/")
    marker = f"path.ms-delivery[data-stop='{stop_id}']"
    command.wait_for_selector(f"{marker}[data-state='pending']", timeout=10_000)
    phone = context.new_page()
    phone.set_viewport_size({"width": 390, "height": 800})
    phone.goto(f"{live_server.url}/driver/{plan_id}/{route['route_id']}")
    _login_if_asked(phone)
    item = f"li.stop[data-stop='{stop_id}']"
    phone.wait_for_selector(item, timeout=10_000)
    phone.locator(f"{item} button.mark-delivered").click()
    phone.wait_for_selector(f"{item}[data-state='delivered']", timeout=5_000)
    command.wait_for_selector(f"{marker}[data-state='delivered']", timeout=3_000)
    context.close()


def test_planner_move_save_publish_then_command_map(live_server, browser, demo_layers):
    """Move a building between micro-grids in /planner, see both totals change, save,
    publish, and find the building in its new grid on the command map."""
    grids = demo_layers["grids"]
    parent = str(grids[grids["level"] == "small"]["grid_id"].iloc[0])
    buildings = demo_layers["buildings"]
    held = buildings[buildings["grid_id"].str.startswith(parent + "-")]
    cells = sorted(held["grid_id"].unique())
    building = held[held["grid_id"] == cells[0]].iloc[0]
    households = int(building["households"])
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith("http://127.0.0.1") else r.abort(),
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/planner?parent={parent}")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "demo2020")
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", timeout=15_000)

    def total(cell: str) -> int:
        return int(page.get_attribute(f"tr[data-cell='{cell}'] td.hh", "data-households"))

    before = total(cells[0]), total(cells[1])
    page.click(f"path.pl-building[data-id='{building['building_id']}']", force=True)
    page.wait_for_function("() => document.getElementById('selected-count').textContent === '1'")
    page.click(f"tr[data-cell='{cells[1]}'] button.move-here")
    page.wait_for_function(
        "([cell, n]) => Number(document.querySelector(`tr[data-cell='${cell}'] td.hh`)"
        ".dataset.households) === n",
        arg=[cells[1], before[1] + households],
    )
    assert total(cells[0]) == before[0] - households
    page.click("#save")
    page.wait_for_selector("#version-label[data-version]", timeout=10_000)
    page.click("#publish")
    page.wait_for_selector("#version-label[data-published]", timeout=10_000)
    command = context.new_page()
    _open_map(command, live_server.url + "/")
    command.evaluate("(id) => window.msMap.drillInto(id)", parent)
    command.wait_for_function(
        "([b, g]) => { const l = window.msMap.state.buildingsById.get(b);"
        " return l && l.feature.properties.grid_id === g; }",
        arg=[building["building_id"], cells[1]],
        timeout=10_000,
    )
    context.close()


def test_worker_entry_form_on_a_phone(live_server, browser):
    """A grid worker logs in on a phone, picks a household, sets its status and saves."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith("http://127.0.0.1") else r.abort(),
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/entry")
    page.fill("input[name=username]", "worker")
    page.fill("input[name=password]", "demo2020")
    page.click("button[type=submit]")
    page.wait_for_selector("#building option", state="attached")  # the entry form, not login
    page.wait_for_load_state("load")  # entry.js listens for the choice only once it has run
    options = page.eval_on_selector_all("#building option", "els => els.map(e => e.value)")
    own = [o for o in options if o]
    assert own
    page.select_option("#building", own[0])
    page.wait_for_selector("label.household input", timeout=10_000)
    household = page.eval_on_selector("label.household input", "el => el.value")
    page.check(f"label.household[data-id='{household}'] input")
    page.check("input[name=status][value=grey]")
    page.click("#entry button[type=submit]")
    page.wait_for_selector("#entry-result.ok", timeout=5_000)
    listed = page.request.get(f"{live_server.url}/api/households?building={own[0]}").json()
    saved = {h["household_id"]: h["status"] for h in listed["households"]}
    assert saved[household] == "grey"
    context.close()
