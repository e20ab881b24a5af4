"""A grid worker's journey on a phone (headless Chromium, network cut off but for our
server): a whole unit saved in one step shows its new colour and time; an entry made
without signal waits on the phone and is written once when the signal is back, however
often it is sent; undo puts the old status back; a household outside the worker's grid is
refused in plain Chinese; the page speaks Chinese."""

from __future__ import annotations

import re

import pytest
import requests

from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.browser

ALLOWED_WORDS = {"English"}  # the language switch names itself


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(viewport={"width": 390, "height": 800})
    context.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith(live_server.url) else r.abort(),
    )
    page = context.new_page()
    page.goto(live_server.url + "/login?next=/entry")
    page.fill("input[name=username]", "worker")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_function("() => window.msEntry", timeout=10_000)  # the page's script ran
    yield page
    context.close()


def _households(live_server, token: str, building: str) -> dict[str, str | None]:
    answer = requests.get(
        f"{live_server.url}/api/households",
        params={"building": building},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    return {h["household_id"]: h["status"] for h in answer["households"]}


def test_worker_saves_a_unit_then_offline_then_undoes(
    phone, app, live_server, admin_token, demo_layers
):
    page = phone
    store = app.extensions["store"]
    building = page.eval_on_selector("#building option:nth-child(2)", "o => o.value")
    page.select_option("#building", building)
    page.wait_for_selector("label.household", timeout=10_000)
    units = page.eval_on_selector_all("fieldset.unit", "fs => fs.map(f => f.dataset.unit)")
    first = units[0]
    page.click(f"button.pick-all[data-unit='{first}']")
    ticked = page.eval_on_selector_all("input[type=checkbox]:checked", "bs => bs.map(b => b.value)")
    households = demo_layers["households"]
    expected_unit = households[
        (households["building_id"] == building) & (households["unit"].astype(str) == first)
    ]
    assert sorted(ticked) == sorted(expected_unit["household_id"])
    page.click("label.code:has(input[value='grey'])")
    assert "保存（" in page.inner_text("#save")
    page.click("#save")
    page.wait_for_selector("#entry-result.ok", timeout=10_000)
    assert f"已保存 {len(ticked)} 户" in page.inner_text("#entry-result")
    now = _households(live_server, admin_token, building)
    assert all(now[h] == "grey" for h in ticked)
    grey = _rgb(next(c.colour for c in app.extensions["mapview"].scheme.codes if c.code == "grey"))
    for household in ticked:  # the list shows the new colour, status and time
        label = page.locator(f"label.household[data-id='{household}']")
        assert label.locator(".swatch").evaluate("s => getComputedStyle(s).backgroundColor") == grey
        assert "更新于" in label.inner_text()

    # no signal: the entry waits on the phone, then is written once when back
    other = next(h for h in now if h not in ticked and now[h] != "red")
    page.context.set_offline(True)
    page.check(f"label.household[data-id='{other}'] input")
    page.click("label.code:has(input[value='red'])")
    page.click("#save")
    page.wait_for_selector("#entry-result.queued", timeout=10_000)
    assert page.get_attribute("body", "data-pending") == "1"
    assert "待发送 1 条" in page.inner_text("#queue")
    assert _households(live_server, admin_token, building)[other] != "red"
    before = store.last_seq()
    page.context.set_offline(False)
    page.evaluate("() => window.msEntry.flush()")
    page.wait_for_function("() => document.body.dataset.pending === '0'", timeout=10_000)
    assert _households(live_server, admin_token, building)[other] == "red"
    # the answer was lost, say: the phone sends the same entry again; nothing is doubled
    page.evaluate(
        """(key) => { const all = JSON.parse(localStorage.getItem(key));
                      all[0].state = 'waiting'; localStorage.setItem(key, JSON.stringify(all));
                      return window.msEntry.flush(); }""",
        "ms-entry-worker",
    )
    page.wait_for_function("() => document.body.dataset.pending === '0'", timeout=10_000)
    rows = store.changes_since(before)
    assert rows["entity_id"].tolist() == [other]  # written once

    # undo: the household's old status is back
    old = now[other]
    page.locator("#recent li").first.locator("button.undo").click()
    page.wait_for_selector(  # the undo is an entry of its own, sent
        "#recent li:first-child[data-state='sent'] + li[data-state='undone']", timeout=10_000
    )
    assert page.get_attribute(f"label.household[data-id='{other}']", "data-status") == old
    assert _households(live_server, admin_token, building)[other] == old
    assert "已撤销" in page.inner_text("#recent")

    # every word on the page is Chinese (ids, numbers and the language switch aside)
    words = set(re.findall(r"[A-Za-z]{2,}", page.inner_text("body")))
    assert words <= ALLOWED_WORDS | {"worker"}, words


def test_a_household_outside_the_grid_is_refused_in_plain_words(phone, demo_layers):
    page = phone
    grids = demo_layers["grids"]
    mine = grids[grids["level"] == "micro"]["grid_id"].iloc[0]
    buildings = demo_layers["buildings"]
    elsewhere = buildings[buildings["grid_id"] != mine]["building_id"].iloc[0]
    households = demo_layers["households"]
    household = households[households["building_id"] == elsewhere].iloc[0]
    page.evaluate(
        """([key, id]) => {
            const entry = {id: 'test-outside-1', at: new Date().toISOString(),
                rows: [{entity_kind: 'household', entity_id: id, status: 'red'}],
                previous: [{entity_id: id, status: 'green'}], state: 'waiting',
                label: id, building: ''};
            localStorage.setItem(key, JSON.stringify([entry]));
            return window.msEntry.flush();
        }""",
        ["ms-entry-worker", household["household_id"]],
    )
    page.wait_for_selector("#recent li[data-state='refused']", timeout=10_000)
    assert "此户不在您负责的网格内" in page.inner_text("#recent")
