"""A checkpoint patrol on a phone (headless Chromium, network cut off): checkpoints by name,
not code; each team's colour in the list and on the map, with arrows for the direction;
a worker checks in at a checkpoint and the page and the plan show who passed when and the
observed interval next to the planned one."""

from __future__ import annotations

import re

import pytest

from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def _logged_in(browser, live_server, username: str, path: str, viewport: dict):
    """A context with only our server reachable (the network cut off) and a page logged
    in as ``username``, sent on to ``path``."""
    context = browser.new_context(viewport=viewport)
    context.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith(live_server.url) else r.abort(),
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/login?next={path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    return context, page


def test_patrol_checks_in_and_the_intervals_follow(app, live_server, browser, demo_layers):
    service = app.extensions["patrol"]
    plan_id = service.checkpoints(teams=2, user="test")
    plan = service.get(plan_id)
    names = plan["checkpoint_names"]
    layer = demo_layers["checkpoints"].set_index("checkpoint_id")
    assert names and all(names[c] == layer.at[c, "name"] for c in names)
    context, page = _logged_in(browser, live_server, "worker", f"/patrol/{plan_id}", PHONE)
    try:
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


def test_checkins_show_on_the_command_map(app, client, login, live_server, browser):
    """A pass noted by a patrol shows on the command map: the checkpoint wears the ring of
    the last hour and its tooltip says when, by whom and how often; the API serves it to
    roles that see routes only."""
    service = app.extensions["patrol"]
    plan_id = service.checkpoints(teams=1, user="test")
    checkpoint = next(iter(service.get(plan_id)["checkpoint_names"]))
    service.checkin(plan_id, checkpoint, user="worker")
    service.checkin(plan_id, checkpoint, user="worker")
    store = app.extensions["store"]
    store.create_user("commander", DEMO_PASSWORD, role="commander")
    login(client, "commander")
    seen = client.get("/api/checkins?hours=1").get_json()["checkpoints"]
    assert list(seen) == [checkpoint] and seen[checkpoint]["passes"] == 2
    assert seen[checkpoint]["last_by"] == "worker" and seen[checkpoint]["plan_id"] == plan_id
    assert client.get("/api/checkins?hours=1000").status_code == 400
    worker = app.test_client()
    login(worker, "worker")
    assert worker.get("/api/checkins").status_code == 403  # who passed when: not for workers

    context, page = _logged_in(browser, live_server, "commander", "/", PHONE)
    try:
        page.wait_for_selector("body[data-checkins='1']", timeout=15_000)
        ringed = page.locator("path.leaflet-interactive[stroke='#1f78b4']")
        assert ringed.count() == 1  # the one checkpoint passed in the last hour
        ringed.first.hover()
        tip = page.wait_for_selector(".leaflet-tooltip", timeout=5_000).inner_text()
        assert "最近巡查" in tip and "worker" in tip and "2 次" in tip
        assert "1 小时内有巡查" in page.text_content("#symbols-table")  # the symbol legend
    finally:
        context.close()
