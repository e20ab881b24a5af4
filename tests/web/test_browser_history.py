"""The history slider (headless Chromium, network cut off): moved to a moment before a write,
the legend shows the counts of then; back at the right end the map is live again."""

from __future__ import annotations

import time

import pytest
import requests

pytestmark = pytest.mark.browser


def _legend(page) -> dict[str, int]:
    return page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('#legend td.count'))
              .map(td => [td.dataset.code, Number(td.textContent)]))"""
    )


def test_slider_shows_the_counts_of_a_past_moment(
    live_server, offline_page, admin_token, demo_layers, open_map
):
    page = offline_page
    open_map(page, live_server.url + "/?colour=status")
    page.wait_for_selector("#history-slider", state="visible", timeout=10_000)
    before = _legend(page)
    auth = {"Authorization": f"Bearer {admin_token}"}
    time.sleep(2)
    moment = page.evaluate("() => new Date().toISOString()")
    time.sleep(2)
    households = demo_layers["households"]["household_id"].iloc[:40]
    rows = [{"entity_id": h, "status": "black"} for h in households]
    assert requests.post(
        f"{live_server.url}/api/status", json={"rows": rows}, headers=auth, timeout=10
    ).ok
    black = "#legend td.count[data-code='black']"
    page.wait_for_function(
        "([sel, n]) => Number(document.querySelector(sel).textContent) !== n",
        arg=[black, before["black"]],
        timeout=5_000,
    )
    now = _legend(page)
    assert now["black"] > before["black"]
    page.evaluate(
        """(moment) => {
            const slider = document.querySelector('#history-slider');
            slider.value = String(window.msHistory.valueOf(moment));
            slider.dispatchEvent(new Event('input'));
            slider.dispatchEvent(new Event('change'));
        }""",
        moment,
    )
    page.wait_for_function(
        "() => { const d = document.body.dataset; return d.at && d.atShown === d.at; }",
        timeout=10_000,
    )
    shown = page.get_attribute("body", "data-at")
    assert _legend(page) == before
    assert page.is_visible("#history-live")
    assert "截至" in page.inner_text("#history-at")
    past = requests.get(f"{live_server.url}/api/summary", params={"at": shown}, headers=auth)
    assert past.json()["counts"].get("black", 0) == before["black"]
    page.click("#history-live")
    page.wait_for_function("() => document.body.dataset.atShown === 'now'", timeout=10_000)
    assert _legend(page) == now
    assert not [u for u in page.blocked if "127.0.0.1" in u]


def test_a_banner_says_when_the_live_feed_is_down(live_server, offline_page, open_map):
    page = offline_page
    open_map(page, live_server.url + "/")
    page.wait_for_selector("#live.on", timeout=10_000)
    assert page.is_hidden("#stale")
    page.route("**/api/stream*", lambda route: route.abort())  # the feed drops
    page.evaluate("() => window.msMap.reconnect()")
    page.wait_for_selector("#stale", state="visible", timeout=10_000)
    assert "实时连接已中断" in page.inner_text("#stale")
    page.unroute("**/api/stream*")  # back: the banner goes once the feed greets again
    page.evaluate("() => window.msMap.reconnect()")
    page.wait_for_selector("#stale", state="hidden", timeout=10_000)


def test_a_banner_says_when_the_data_is_older_than_a_minute(live_server, offline_page, open_map):
    page = offline_page
    open_map(page, live_server.url + "/")
    page.wait_for_selector("#live.on", timeout=10_000)
    page.evaluate("() => window.msMap.checkStale()")
    assert page.is_hidden("#stale")  # heard from the server just now
    # nothing heard for 61 s (a proxy holding the stream back): the map says so
    page.evaluate(
        "() => { window.msMap.state.heardAt = Date.now() - 61000; window.msMap.checkStale(); }"
    )
    assert page.is_visible("#stale")
    assert "超过 1 分钟" in page.inner_text("#stale")
    page.evaluate("() => window.msMap.reconnect()")  # the server greets again: gone
    page.wait_for_selector("#stale", state="hidden", timeout=10_000)


def test_an_unreachable_basemap_gives_a_notice_not_a_blank_map(live_server, offline_page, open_map):
    page = offline_page
    open_map(page, live_server.url + "/")
    page.select_option("#basemap", "osm")  # the network is cut: no OSM tile can load
    page.wait_for_selector("#basemap-notice", state="visible", timeout=10_000)
    assert "无法加载" in page.inner_text("#basemap-notice")
    assert "OSM" in page.inner_text("#basemap-notice")
    assert page.input_value("#basemap") == "none"  # our own roads instead
    page.wait_for_function(
        "() => document.querySelectorAll('path.ms-grid').length > 0", timeout=10_000
    )
    assert page.get_attribute("body", "data-basemap-offline") == "osm"


def test_grids_changed_in_the_last_hour_are_outlined(
    live_server, offline_page, admin_token, demo_layers, demo_db_url, open_map
):
    import sqlite3

    # the demo was loaded two days ago: only what is written now is recent
    path = demo_db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE changelog SET changed_at = '2026-01-01T00:00:00.000+00:00'")
    grids = demo_layers["grids"].set_index("grid_id")
    buildings = demo_layers["buildings"].set_index("building_id")
    household = demo_layers["households"].iloc[0]
    grid = buildings.at[household["building_id"], "grid_id"]
    while grids.at[grid, "level"] != "community":
        grid = grids.at[grid, "parent_id"]
    page = offline_page
    open_map(page, live_server.url + "/?level=community&colour=status")
    page.wait_for_selector("#history", state="visible", timeout=10_000)
    page.select_option("#recent-hours", "1")
    page.wait_for_function("() => document.body.dataset.recent === '0'", timeout=10_000)
    auth = {"Authorization": f"Bearer {admin_token}"}
    rows = [{"entity_id": household["household_id"], "status": "grey"}]
    assert requests.post(
        f"{live_server.url}/api/status", json={"rows": rows}, headers=auth, timeout=10
    ).ok
    page.wait_for_function("() => Number(document.body.dataset.recent) > 0", timeout=10_000)
    strokes = page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('path.ms-grid'))
              .map(p => [p.dataset.id, p.getAttribute('stroke')]))"""
    )
    assert strokes[grid] == "#7b3294"
    assert {s for g, s in strokes.items() if g != grid} == {"#333"}
    recent = requests.get(
        f"{live_server.url}/api/recent", params={"hours": 1}, headers=auth, timeout=10
    ).json()
    assert grid in recent["grids"] and recent["buildings"] == 1
    assert page.locator("#symbols-table tr").count() >= 8  # the symbol legend
