"""The command map colours aggregated levels by a measure in graduated classes (headless
Chromium, network cut off): at least three fills at the 居委 and 大网格 levels, labels drawn
without overlap, the panel's top-ranked grid the API's; the micro level keeps the status
colours."""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.browser


def _fills(page) -> dict[str, str]:
    return page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('path.ms-grid'))
              .map(p => [p.dataset.id, (p.getAttribute('fill') || '').toLowerCase()]))"""
    )


def _overlaps(page) -> int:
    return page.evaluate(
        """() => {
            const boxes = Array.from(document.querySelectorAll('.ms-label-box'))
                .map(e => e.getBoundingClientRect());
            let n = 0;
            for (let i = 0; i < boxes.length; i++)
              for (let j = i + 1; j < boxes.length; j++) {
                const a = boxes[i], b = boxes[j];
                const apart = a.right <= b.left || b.right <= a.left
                  || a.bottom <= b.top || b.bottom <= a.top;
                if (!apart) n++;
              }
            return n;
        }"""
    )


def test_aggregated_levels_are_coloured_by_a_measure(
    live_server, offline_page, admin_token, open_map
):
    page = offline_page
    open_map(page, live_server.url + "/")
    auth = {"Authorization": f"Bearer {admin_token}"}
    for level in ("community", "big"):
        before = page.evaluate("() => document.body.dataset.loaded")
        page.select_option("#level", level)
        page.wait_for_function(
            "(b) => document.body.dataset.loaded !== b && document.body.dataset.measure",
            arg=before,
            timeout=10_000,
        )
        page.wait_for_function(
            "() => Number(document.body.dataset.labels || 0) > 0", timeout=10_000
        )
        assert page.input_value("#colour-mode") == "measure"
        api = requests.get(f"{live_server.url}/api/measure?level={level}", headers=auth, timeout=10)
        found = api.json()
        fills = _fills(page)
        assert set(fills) == set(found["grids"])
        assert len(set(fills.values())) >= 3, fills
        colours = [c["colour"] for c in found["classes"]]
        for grid_id, (_, cls) in found["grids"].items():
            expected = found["zero"]["colour"] if cls == -1 else colours[cls]
            assert fills[grid_id] == expected.lower()
        first = page.get_attribute("#ranking tr.rank", "data-id")
        assert first == found["ranking"][0]["id"]
        legend_rows = page.locator("#legend tr.measure-class").count()
        assert legend_rows == len(found["classes"]) + 1
        assert _overlaps(page) == 0
    # a click on the ranking zooms to that grid
    zoom = page.evaluate("() => window.msMap.map.getZoom()")
    page.click("#ranking-box summary")
    page.click("#ranking tr.rank")
    page.wait_for_function("(z) => window.msMap.map.getZoom() > z", arg=zoom, timeout=5_000)
    # the finest level shows the status colours again
    page.select_option("#level", "micro")
    page.wait_for_function(
        "() => document.querySelector('#colour-mode').value === 'status'", timeout=10_000
    )
    assert page.locator(".ms-label-box").count() == 0
    assert not [u for u in page.blocked if "127.0.0.1" in u]


def test_a_tiled_map_labels_its_aggregated_levels(live_server, offline_page, admin_token, open_map):
    """A map drawn from vector tiles holds no grid shapes: the labels are placed from the
    measure's answer, named as the grids are, without overlap."""
    page = offline_page
    open_map(page, live_server.url + "/?tiles=1&level=community")
    assert page.evaluate("document.body.dataset.tiled") == "1"
    page.wait_for_function("() => Number(document.body.dataset.labels || 0) > 0", timeout=10_000)
    auth = {"Authorization": f"Bearer {admin_token}"}
    found = requests.get(
        f"{live_server.url}/api/measure",
        params={"level": "community", "labels": 1},
        headers=auth,
        timeout=10,
    ).json()
    names = set(page.eval_on_selector_all(".ms-label-name", "ns => ns.map(n => n.textContent)"))
    assert names and names <= {label[2] for label in found["labels"].values()}
    assert set(found["labels"]) == set(found["grids"])
    assert _overlaps(page) == 0
