"""The event layer on the command map in headless Chromium: points, colours, legend."""

from __future__ import annotations

import io
from dataclasses import replace

import pandas as pd
import pytest
import requests

pytestmark = pytest.mark.browser


def _fills(page) -> dict[str, str]:
    return page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('path.ms-grid'))
              .map(p => [p.dataset.id, (p.getAttribute('fill') || '').toLowerCase()]))"""
    )


def test_grids_coloured_by_events_and_points_for_a_logged_in_user(
    live_server, offline_page, admin_token, demo_layers
):
    buildings = demo_layers["buildings"].sample(60, random_state=11)
    inner = buildings.geometry.representative_point()
    table = pd.DataFrame({"编号": [f"E{i}" for i in range(60)], "经度": inner.x, "纬度": inner.y})
    upload = requests.post(
        f"{live_server.url}/api/events/upload",
        files={"file": ("cases.csv", io.BytesIO(table.to_csv(index=False).encode()))},
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=30,
    )
    assert upload.status_code == 200, upload.text
    page = offline_page
    page.goto(f"{live_server.url}/login?next=/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "demo2020")
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)
    page.wait_for_selector("body[data-events='60']", timeout=10_000)
    assert page.locator("path.ms-event").count() == 60

    level = page.eval_on_selector("#level", "s => s.value")
    summary = requests.get(
        f"{live_server.url}/api/events/summary?level={level}",
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=10,
    ).json()
    page.select_option("#colour-mode", "events")
    page.wait_for_selector("body[data-event-mode='events']", timeout=10_000)
    expected = {g["grid_id"]: g["colour_count"].lower() for g in summary["grids"]}
    fills = _fills(page)
    assert fills and all(fills[g] == expected[g] for g in fills)
    assert len(set(fills.values())) > 1  # more than one class on the map
    assert int(page.inner_text("#legend-events")) == summary["in_grids"] == 60
    assert "事件数" in page.inner_text("#legend")
    busiest = max((g for g in summary["grids"] if g["grid_id"] in fills), key=lambda g: g["events"])
    page.evaluate("(id) => window.msMap.state.gridsById.get(id).openPopup()", busiest["grid_id"])
    page.wait_for_selector(".popup-events", timeout=5_000)
    assert f"事件数 {busiest['events']}" in page.inner_text(".popup-events")
    page.evaluate("() => window.msMap.map.closePopup()")

    page.select_option("#colour-mode", "events_rate")
    page.wait_for_selector("body[data-event-mode='events_rate']", timeout=10_000)
    rate = {g["grid_id"]: g["colour_rate"].lower() for g in summary["grids"]}
    fills = _fills(page)
    assert all(fills[g] == rate[g] for g in fills)
    assert "每千户事件数" in page.inner_text("#legend")

    page.select_option("#colour-mode", "status")
    page.wait_for_function("() => document.querySelector('#legend td.count') !== null")
    assert not [u for u in page.blocked if "127.0.0.1" in u]


def test_points_stay_hidden_without_login(app, live_server, offline_page, admin_token):
    # the public map (anonymous reading on) shows grid counts, never event points
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], anonymous_read=True)
    table = "编号,经度,纬度\nP1,121.2,31.1\n"
    requests.post(
        f"{live_server.url}/api/events/upload",
        files={"file": ("cases.csv", io.BytesIO(table.encode()))},
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=30,
    )
    page = offline_page
    page.goto(f"{live_server.url}/")
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)
    assert page.locator("path.ms-event").count() == 0
    assert page.evaluate("() => document.body.dataset.events") is None
