"""A dispatcher on the routes page (headless Chromium, network cut off): plans a run under a
name of their own for the households they choose, renames it and deletes it; times are
the district's."""

from __future__ import annotations

import re

import pytest

from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def test_dispatcher_names_and_deletes_a_plan(live_server, offline_page, app):
    page = offline_page
    page.goto(live_server.url + "/login?next=/routes")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#new-plan", timeout=10_000)
    assert page.is_checked("input[name=area_classes][value=sealed]")
    page.fill("input[name=name]", "周三上午 红码户配送")
    page.fill("input[name=time_limit_s]", "1")
    page.click("#new-plan button[type=submit]")
    article = page.locator("article.plan", has_text="周三上午 红码户配送")
    article.wait_for(timeout=60_000)
    when = article.locator("h2 small").inner_text()
    assert re.fullmatch(r"\d\d-\d\d \d\d:\d\d", when)  # month-day hour:minute, China time
    plan_id = article.get_attribute("data-plan")
    article = page.locator(f"article.plan[data-plan='{plan_id}']")  # whatever its name
    # the overview map draws the newest plan's routes, one colour each, with a legend
    page.wait_for_function(
        "(id) => document.querySelector('#overview-map').dataset.plan === id", arg=plan_id
    )
    plan = app.extensions["delivery"].get(plan_id)["plan"]
    used = [r for r in plan["routes"] if r["stops"]]
    assert page.locator("#overview-legend tr.overview-route").count() == len(used)
    colours = page.eval_on_selector_all(
        "#overview-legend .swatch", "ss => ss.map(s => getComputedStyle(s).backgroundColor)"
    )
    assert len(set(colours)) == len(used)
    lines = page.eval_on_selector_all(
        "#overview-map path.leaflet-interactive",
        "ps => new Set(ps.map(p => p.getAttribute('stroke'))).size",
    )
    assert lines >= len(used)
    article.locator("input.plan-rename").fill("周三上午 A 线")
    article.locator("button.rename").click()
    page.wait_for_function(
        "(id) => document.querySelector(`article[data-plan='${id}'] .plan-name`)"
        ".textContent === '周三上午 A 线'",
        arg=plan_id,
    )
    store = app.extensions["store"]
    assert {p["plan_id"]: p["name"] for p in store.list_route_plans()}[plan_id] == "周三上午 A 线"
    page.once("dialog", lambda dialog: dialog.accept())
    article.locator("button.delete").click()
    page.wait_for_selector(f"article[data-plan='{plan_id}']", state="detached", timeout=10_000)
    assert plan_id not in {p["plan_id"] for p in store.list_route_plans()}
