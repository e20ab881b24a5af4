"""The cordon panel speaks in staff and households and leaves the area in view (headless
Chromium, network cut off, desktop and phone); a role without the cordon sees no cordon
buttons."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.browser

UNCOVERED = """() => {
    const m = window.msMap.map;
    const frame = m.getContainer().getBoundingClientRect();
    const panel = document.querySelector('#panel').getBoundingClientRect();
    let area = null;
    window.msMap.state.coverageData && m.eachLayer(l => {
        if (l.feature && l.feature.properties && l.feature.properties.feature === 'area')
            area = l.getBounds();
    });
    if (!area) return null;
    const a = m.latLngToContainerPoint(area.getNorthWest());
    const b = m.latLngToContainerPoint(area.getSouthEast());
    const box = {left: frame.left + a.x, top: frame.top + a.y,
                 right: frame.left + b.x, bottom: frame.top + b.y};
    const apart = box.right <= panel.left || panel.right <= box.left
        || box.bottom <= panel.top || panel.bottom <= box.top;
    return {apart, inside: box.left >= frame.left - 1 && box.right <= frame.right + 1
        && box.top >= frame.top - 1 && box.bottom <= frame.bottom + 1};
}"""


def _village(demo_layers) -> str:
    grids = demo_layers["grids"]
    village = grids[(grids["level"] == "community") & grids["name"].str.contains("村")]
    return str(village["grid_id"].iloc[0])


@pytest.mark.parametrize("viewport", [(1280, 800), (390, 800)], ids=["desktop", "phone"])
def test_cordon_choices_in_staff_and_households_beside_the_area(
    live_server, browser, admin_token, demo_layers, open_map, viewport
):
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    context.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith("http://127.0.0.1") else r.abort(),
    )
    page = context.new_page()
    try:
        village = _village(demo_layers)
        open_map(page, live_server.url + "/?level=community&colour=status")
        page.evaluate(
            """(id) => { document.querySelector('#outward').value = '300';
                         window.msMap.showCordon(id); }""",
            village,
        )
        page.wait_for_selector("#tradeoff tr.pick", timeout=20_000)
        heads = page.eval_on_selector_all("#tradeoff th", "ths => ths.map(t => t.textContent)")
        assert heads == ["值守道口", "其中新设", "硬隔离", "额外纳入户数"]
        shown = page.eval_on_selector_all(
            "#tradeoff tr.pick",
            "rs => rs.map(r => Array.from(r.cells).map(c => Number(c.textContent)))",
        )
        auth = {"Authorization": f"Bearer {admin_token}"}
        curve = requests.get(
            f"{live_server.url}/api/cordon/tradeoff",
            params={"grid": village, "max_outward_m": 300, "keep_existing": "true"},
            headers=auth,
            timeout=60,
        ).json()["points"]
        expected = [
            [p["staffed"], p["new_posts"], p["barriers"], p["extra_households"]] for p in curve
        ]
        assert shown == expected
        assert all(p["staffed"] == p["new_posts"] + p["kept_posts"] for p in curve)
        where = page.evaluate(UNCOVERED)
        assert where == {"apart": True, "inside": True}
        # a row picks that plan: the map shows its posts
        page.locator("#tradeoff tr.pick").last.click()
        page.wait_for_function(
            "(n) => Number(document.querySelector('#cordon-staffed').textContent) === n",
            arg=shown[-1][0],
            timeout=20_000,
        )
    finally:
        context.close()


def test_a_worker_sees_no_cordon_buttons(live_server, browser, demo_layers):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith("http://127.0.0.1") else r.abort(),
    )
    page = context.new_page()
    try:
        page.goto(live_server.url + "/login?next=/%3Flevel%3Dmicro%26colour%3Dstatus")
        page.fill("input[name=username]", "worker")
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("body[data-ready='1']", timeout=20_000)
        assert page.is_hidden("#draw-area")
        grids = demo_layers["grids"]
        mine = str(grids[grids["level"] == "micro"]["grid_id"].iloc[0])
        page.wait_for_function(
            "(id) => window.msMap.state.gridsById.has(id)", arg=mine, timeout=10_000
        )
        page.evaluate("(id) => window.msMap.state.gridsById.get(id).openPopup()", mine)
        page.wait_for_selector(".leaflet-popup-content .actions", timeout=5_000)
        assert page.locator(".leaflet-popup-content .show-cordon").count() == 0
        assert page.locator(".leaflet-popup-content .show-entrances").count() == 0
        assert page.locator(".leaflet-popup-content .open-board").count() == 1  # their own grid
    finally:
        context.close()
