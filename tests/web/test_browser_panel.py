"""The command map's side panel and board sheet (headless Chromium, network cut off): totals
and the grid table follow a status change within a second without reload; the table sorts,
filters and zooms; the print button offers the wall map of the level shown; the board
sheet of a micro-grid draws one dot per person the API counts."""

from __future__ import annotations

import time

import pytest
import requests

pytestmark = pytest.mark.browser


def _community_of(demo_layers: dict, household_id: str) -> str:
    households = demo_layers["households"].set_index("household_id")
    buildings = demo_layers["buildings"].set_index("building_id")
    grids = demo_layers["grids"].set_index("grid_id")
    grid = buildings.at[households.at[household_id, "building_id"], "grid_id"]
    while grids.at[grid, "level"] != "community":
        grid = grids.at[grid, "parent_id"]
    return str(grid)


def _cell(page, selector: str) -> str:
    return page.evaluate(
        "(sel) => { const e = document.querySelector(sel); return e ? e.textContent : null; }",
        selector,
    )


def test_totals_and_table_follow_a_status_change_within_a_second(
    live_server, offline_page, admin_token, demo_layers, open_map
):
    page = offline_page
    open_map(page, live_server.url + "/?level=community")
    page.click("#table-box summary")
    page.wait_for_selector("#grid-table tr.grid-row", timeout=10_000)
    page.wait_for_selector("#totals-table tr.total-row", timeout=10_000)
    status = demo_layers["status"]
    green = status[(status["status"] == "green") & (status["entity_kind"] == "household")]
    chosen = green["entity_id"].iloc[:3].tolist()
    community = _community_of(demo_layers, chosen[0])
    assert all(_community_of(demo_layers, h) == community for h in chosen)
    red_total = "#totals-table tr.total-row[data-code='red'] td.hh"
    red_day = "#totals-table tr.total-row[data-code='red'] td.day"
    row_value = f"#grid-table tr.grid-row[data-id='{community}'] td.value"
    before_total = int(_cell(page, red_total))
    before_value = int(_cell(page, row_value))
    auth = {"Authorization": f"Bearer {admin_token}"}
    rows = [{"entity_id": h, "status": "red"} for h in chosen]
    assert requests.post(
        f"{live_server.url}/api/status", json={"rows": rows}, headers=auth, timeout=10
    ).ok
    written = time.monotonic()
    page.wait_for_function(
        "([a, n, b, m]) => Number(document.querySelector(a).textContent) === n"
        " && Number(document.querySelector(b).textContent) === m",
        arg=[red_total, before_total + 3, row_value, before_value + 3],
        timeout=5_000,
    )
    elapsed = time.monotonic() - written
    assert elapsed < 1.0, f"the panel took {elapsed:.2f} s to show the change"
    assert _cell(page, red_day) == "+3"  # the change since midnight
    api = requests.get(f"{live_server.url}/api/summary", headers=auth, timeout=10).json()
    assert api["counts"]["red"] == before_total + 3
    assert not [u for u in page.blocked if "127.0.0.1" in u]


def test_table_sorts_filters_and_zooms(
    live_server, offline_page, admin_token, demo_layers, open_map
):
    # one big grid without any grey household: the filter must leave it out
    grids = demo_layers["grids"].set_index("grid_id")
    buildings = demo_layers["buildings"].set_index("building_id")
    status = demo_layers["status"].query("entity_kind == 'household' and status == 'grey'")
    households = demo_layers["households"].set_index("household_id")

    def big_of(household: str) -> str:
        grid = buildings.at[households.at[household, "building_id"], "grid_id"]
        while grids.at[grid, "level"] != "big":
            grid = grids.at[grid, "parent_id"]
        return grid

    cleared = big_of(status["entity_id"].iloc[0])
    rows = [
        {"entity_id": h, "status": "green"} for h in status["entity_id"] if big_of(h) == cleared
    ]
    auth = {"Authorization": f"Bearer {admin_token}"}
    assert requests.post(
        f"{live_server.url}/api/status", json={"rows": rows}, headers=auth, timeout=10
    ).ok
    page = offline_page
    open_map(page, live_server.url + "/?level=big")
    page.click("#table-box summary")
    page.wait_for_selector("#grid-table tr.grid-row", timeout=10_000)
    table = requests.get(
        f"{live_server.url}/api/table", params={"level": "big"}, headers=auth, timeout=10
    ).json()
    ids = page.eval_on_selector_all("#grid-table tr.grid-row", "rs => rs.map(r => r.dataset.id)")
    assert ids[0] == table["rows"][0]["id"]  # falling value: the API's first
    page.click("#grid-table th[data-key='households']")
    households = page.eval_on_selector_all(
        "#grid-table tr.grid-row td.hh", "cs => cs.map(c => Number(c.textContent))"
    )
    assert households == sorted(households, reverse=True)
    page.select_option("#table-sort", "code:black")
    shown = page.eval_on_selector_all(
        "#grid-table tr.grid-row td:nth-child(4)", "cs => cs.map(c => Number(c.textContent))"
    )
    assert shown == sorted(shown, reverse=True)
    # the filter keeps only the grids with grey households: not the one cleared of them
    having = {r["id"] for r in table["rows"] if r["counts"].get("grey", 0) > 0}
    assert cleared not in having and len(having) == len(table["rows"]) - 1
    page.select_option("#table-filter", "grey")
    kept = page.eval_on_selector_all("#grid-table tr.grid-row", "rs => rs.map(r => r.dataset.id)")
    assert set(kept) == having
    target = kept[-1]
    page.click(f"#grid-table tr.grid-row[data-id='{target}']")
    page.wait_for_timeout(800)
    inside = page.evaluate(
        """(id) => {
            const layer = window.msMap.state.gridsById.get(id);
            return layer.getBounds().contains(window.msMap.map.getCenter());
        }""",
        target,
    )
    assert inside


def test_print_button_offers_the_wall_map_of_the_level_shown(live_server, offline_page, open_map):
    page = offline_page
    open_map(page, live_server.url + "/?level=big")
    page.click("#print")
    page.wait_for_selector("#export-box[open]", timeout=5_000)
    page.select_option("#paper", "A4")
    href = page.get_attribute("#export-pdf", "href")
    assert "level=big" in href and "paper=A4" in href and "format=pdf" in href
    answer = page.request.get(live_server.url + href)
    assert answer.ok and answer.headers["content-type"] == "application/pdf"
    assert answer.body().startswith(b"%PDF")
    xlsx = page.request.get(live_server.url + page.get_attribute("#export-xlsx", "href"))
    assert xlsx.ok and xlsx.body()[:2] == b"PK"


def test_board_sheet_draws_one_dot_per_person(
    live_server, offline_page, admin_token, demo_layers, open_map
):
    page = offline_page
    micro = demo_layers["grids"].query("level == 'micro'")["grid_id"].iloc[5]
    open_map(page, live_server.url + "/")
    page.goto(f"{live_server.url}/board/{micro}")
    page.wait_for_selector(".board-household", timeout=10_000)
    auth = {"Authorization": f"Bearer {admin_token}"}
    summary = requests.get(
        f"{live_server.url}/api/summary", params={"grid": micro}, headers=auth, timeout=10
    ).json()
    assert page.locator(".dot").count() == summary["persons"]
    assert page.locator(".board-household").count() == summary["households"]
    # each dot in its household's status colour
    scheme = requests.get(f"{live_server.url}/api/config", headers=auth, timeout=10).json()
    expected = {c["code"]: c["colour"] for c in scheme["scheme"]["codes"]}
    dots = page.evaluate(
        """() => Array.from(document.querySelectorAll('.board-household .dot')).map(d =>
              [d.closest('.board-household').dataset.status,
               getComputedStyle(d).backgroundColor])"""
    )
    for code, colour in dots:
        r, g, b = (int(expected[code][i : i + 2], 16) for i in (1, 3, 5))
        assert colour == f"rgb({r}, {g}, {b})"
    assert "挂图板" in page.inner_text("h1")
