"""A checkpoint patrol on a phone (headless Chromium, network cut off): checkpoints by name,
not code; each team's colour in the list and on the map, with arrows for the direction;
a worker checks in at a checkpoint and the page and the plan show who passed when and the
observed interval next to the planned one."""

from __future__ import annotations

import re

import pytest

from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def test_patrol_checks_in_and_the_intervals_follow(app, live_server, browser, demo_layers):
    service = app.extensions["patrol"]
    plan_id = service.checkpoints(teams=2, user="test")
    plan = service.get(plan_id)
    names = plan["checkpoint_names"]
    layer = demo_layers["checkpoints"].set_index("checkpoint_id")
    assert names and all(names[c] == layer.at[c, "name"] for c in names)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith(live_server.url) else r.abort(),
    )
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/login?next=/patrol/{plan_id}")
        page.fill("input[name=username]", "worker")
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("li.checkpoint", timeout=10_000)
        shown = page.eval_on_selector_all(".cp-name", "ns => ns.map(n => n.textContent)")
        assert set(shown) <= set(names.values())
        assert not any(re.fullmatch(r"CP\d+", s) for s in shown)  # names, not codes
        swatches = page.eval_on_selector_all(
            "li.team > .swatch", "ss => ss.map(s => getComputedStyle(s).backgroundColor)"
        )
        assert len(set(swatches)) == len(plan["summary"]["team_routes"]) == 2
        page.wait_for_function("() => Number(document.body.dataset.arrows || 0) > 0")
        first = page.locator("li.checkpoint").first
        checkpoint = first.get_attribute("data-checkpoint")
        for passes in (1, 2):
            first.locator("button.checkin").click()
            page.wait_for_function(
                "([cp, n]) => document.querySelector("
                "`li.checkpoint[data-checkpoint='${cp}'] .cp-seen`).textContent"
                ".includes(`worker · ${n} 次`)",
                arg=[checkpoint, passes],
            )
        seen = service.get(plan_id)["checkins"][checkpoint]
        assert seen["passes"] == 2 and seen["last_by"] == "worker"
        assert seen["observed_minutes"] is not None  # two passes: an interval observed
        observed = page.inner_text(f"#revisit tr[data-checkpoint='{checkpoint}'] td.observed")
        assert float(observed) == seen["observed_minutes"]
    finally:
        context.close()


def test_a_checkin_off_the_tour_is_refused(app, viewer):
    service = app.extensions["patrol"]
    plan_id = service.checkpoints(teams=1, user="test")
    answer = viewer.post(f"/api/patrol/plans/{plan_id}/checkins", json={"checkpoint": "NOPE"})
    assert answer.status_code == 404
    assert viewer.post(f"/api/patrol/plans/{plan_id}/checkins", json={}).status_code == 400
