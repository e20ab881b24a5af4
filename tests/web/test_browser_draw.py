"""Drawing an area on the command map and asking for its entrances and cordon, in Chromium."""

from __future__ import annotations

import base64
import json
import os

import pytest
import requests

from mapserver.crs import wgs84_to_gcj02

pytestmark = pytest.mark.browser


def _open_map(page, url: str) -> None:
    page.goto(url)
    if "/login" in page.url:  # reading the map needs a login by default
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", "demo2020")
        page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)


def _village_bounds(demo_layers) -> tuple[float, float, float, float]:
    """The village community grid's bounds, padded by about 50 m (EPSG:4326 degrees)."""
    grids = demo_layers["grids"]
    village = grids[(grids["level"] == "community") & grids["name"].str.contains("村")]
    return tuple(village.geometry.iloc[0].buffer(0.0005).bounds)


def _screen(page, lat: float, lng: float) -> tuple[float, float]:
    """Page pixel position of a map position (display coordinates)."""
    x, y = page.evaluate(
        "([lat, lng]) => { const p = window.msMap.map.latLngToContainerPoint([lat, lng]);"
        " return [p.x, p.y]; }",
        [lat, lng],
    )
    box = page.locator("#map").bounding_box()
    return box["x"] + x, box["y"] + y


def _draw_rectangle(page, bounds: tuple[float, float, float, float]) -> dict:
    """Zoom to the bounds (clear of the panel on the right), draw them as a rectangle by
    clicking, and return the polygon the page sends."""
    west, south, east, north = bounds
    page.evaluate(
        """([s, w, n, e]) => window.msMap.map.fitBounds([[s, w], [n, e]],
               {animate: false, paddingTopLeft: [80, 80], paddingBottomRight: [420, 80]})""",
        [south, west, north, east],
    )
    page.click("#draw-area")
    page.wait_for_selector("body[data-drawing='1']")
    corners = [(south, west), (south, east), (north, east), (north, west)]
    points = [_screen(page, lat, lng) for lat, lng in corners]
    for x, y in points[:-1]:
        page.mouse.click(x, y)
    page.mouse.dblclick(*points[-1])
    page.wait_for_selector("body[data-area]", timeout=5_000)
    return json.loads(page.get_attribute("body", "data-area"))


def test_draw_area_entrances_and_cordon(live_server, offline_page, demo_layers, admin_token):
    """A rectangle drawn around the village gets the same entrances as the API, and a cordon."""
    auth = {"Authorization": f"Bearer {admin_token}"}
    page = offline_page
    _open_map(page, live_server.url + "/")
    bounds = _village_bounds(demo_layers)
    polygon = _draw_rectangle(page, bounds)
    ring = polygon["coordinates"][0]
    assert len(ring) == 5 and ring[0] == ring[-1]
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    # the clicked corners land within a pixel or two (well under 1e-4 degrees) of the bounds
    assert min(xs) == pytest.approx(bounds[0], abs=1e-4)
    assert max(ys) == pytest.approx(bounds[3], abs=1e-4)
    assert page.get_attribute("body", "data-drawing") == "0"
    assert page.is_visible("#area-actions")

    page.click("#area-entrances")
    page.wait_for_selector("path.ms-entrance", timeout=10_000)
    expected = requests.post(
        f"{live_server.url}/api/entrances", json={"polygon": polygon}, headers=auth, timeout=30
    ).json()
    assert expected["total"] > 0
    assert page.locator("path.ms-entrance").count() == expected["total"]
    states = page.eval_on_selector_all("path.ms-entrance", "els => els.map(e => e.dataset.state)")
    assert states.count("staffed") == expected["counts"]["staffed"]

    page.click("#area-cordon")
    page.wait_for_selector(
        "body[data-cordon='polygon&max_outward_m=0&keep_existing=true']", timeout=15_000
    )
    cordon = requests.post(
        f"{live_server.url}/api/cordon",
        json={"polygon": polygon, "max_outward_m": 0, "keep_existing": True},
        headers=auth,
        timeout=30,
    ).json()
    assert int(page.inner_text("#cordon-staffed")) == cordon["summary"]["staffed"] > 0
    if os.environ.get("MAPSERVER_SCREENSHOT"):
        page.screenshot(path=os.environ["MAPSERVER_SCREENSHOT"])

    page.click("#coverage-clear")
    assert page.locator("path.ms-cut").count() == 0
    assert page.get_attribute("body", "data-area") is None


def test_escape_cancels_drawing_and_grid_popups_stay_shut(live_server, offline_page):
    """While drawing, clicks add vertices instead of opening popups; Esc drops the sketch."""
    page = offline_page
    _open_map(page, live_server.url + "/")
    page.click("#draw-area")
    box = page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.click(cx, cy)
    page.mouse.click(cx + 60, cy)
    assert page.locator(".leaflet-popup").count() == 0
    assert page.is_visible("#draw-finish")
    assert page.is_disabled("#draw-finish")  # two points cannot close a polygon
    page.keyboard.press("Escape")
    assert page.get_attribute("body", "data-drawing") == "0"
    assert page.get_attribute("#draw-area", "aria-pressed") == "false"
    assert page.get_attribute("body", "data-area") is None


def test_gaode_polygon_is_sent_in_wgs84(live_server, offline_page, demo_layers):
    """Over Gaode tiles a drawn polygon is shifted back from GCJ-02 before it is sent."""
    page = offline_page
    _open_map(page, live_server.url + "/")
    west, south, east, north = _village_bounds(demo_layers)
    # Gaode's tile server stands in as reachable (blank tiles): an unreachable basemap
    # would give way to our own roads
    blank = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
    )
    page.route(
        "**/*.is.autonavi.com/**",
        lambda route: route.fulfill(status=200, content_type="image/png", body=blank),
    )
    page.select_option("#basemap", "gaode")
    gx, gy = wgs84_to_gcj02([west, east], [south, north])
    polygon = _draw_rectangle(page, (gx[0], gy[0], gx[1], gy[1]))
    xs = [p[0] for p in polygon["coordinates"][0]]
    ys = [p[1] for p in polygon["coordinates"][0]]
    # GCJ-02 shifts Shanghai by about 500 m; the sent corners are back on the WGS84 bounds
    assert min(xs) == pytest.approx(west, abs=1e-4)
    assert min(ys) == pytest.approx(south, abs=1e-4)
    lon, lat = float(gx[0]), float(gy[0])
    back = page.evaluate("(c) => window.msMap.gcj02.toWgs84(c)", [lon, lat])
    assert back == pytest.approx([west, south], abs=1e-8)
