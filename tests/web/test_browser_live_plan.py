"""An open command map follows a published micro-grid plan without reload (headless
Chromium, network cut off): within 2 s the cells it draws are the published ones."""

from __future__ import annotations

import time

import pytest
import requests

pytestmark = pytest.mark.browser


def _shape(page, grid_id: str) -> str | None:
    return page.evaluate(
        """(id) => { const l = window.msMap.state.gridsById.get(id);
                     return l ? JSON.stringify(l.feature.geometry) : null; }""",
        grid_id,
    )


def test_open_map_follows_a_published_plan_within_two_seconds(
    live_server, offline_page, admin_token, demo_layers, open_map
):
    auth = {"Authorization": f"Bearer {admin_token}"}
    grids = demo_layers["grids"]
    parent = str(grids[grids["level"] == "small"]["grid_id"].iloc[0])
    plan = requests.get(f"{live_server.url}/api/planner/{parent}", headers=auth, timeout=30)
    original = plan.json()["assignment"]
    cells = sorted(set(original.values()))
    building = next(b for b, c in original.items() if c == cells[0])
    page = offline_page
    open_map(page, live_server.url + "/?level=micro&colour=status")
    page.wait_for_selector("#live.on", timeout=10_000)
    page.wait_for_function(
        "(id) => window.msMap.state.gridsById.has(id)", arg=cells[1], timeout=10_000
    )
    before = _shape(page, cells[1])
    saved = requests.post(
        f"{live_server.url}/api/planner/{parent}/versions",
        json={"base_version": None, "assignment": {**original, building: cells[1]}},
        headers=auth,
        timeout=30,
    )
    assert saved.status_code == 201
    version = saved.json()["version"]
    published = requests.post(
        f"{live_server.url}/api/planner/versions/{version}/publish", headers=auth, timeout=30
    )
    assert published.status_code == 200
    done = time.monotonic()
    page.wait_for_function(
        "([id, old]) => { const l = window.msMap.state.gridsById.get(id);"
        " return l && JSON.stringify(l.feature.geometry) !== old; }",
        arg=[cells[1], before],
        timeout=5_000,
    )
    elapsed = time.monotonic() - done
    assert elapsed < 2.0, f"the open map took {elapsed:.2f} s to show the published plan"
    api = requests.get(
        f"{live_server.url}/api/grids", params={"level": "micro"}, headers=auth, timeout=30
    ).json()
    shape = next(f["geometry"] for f in api["features"] if f["id"] == cells[1])
    drawn = page.evaluate("(id) => window.msMap.state.gridsById.get(id).feature.geometry", cells[1])
    assert drawn == shape  # the map draws what the API now serves
    assert not [u for u in page.blocked if "127.0.0.1" in u]
