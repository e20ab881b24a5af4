"""A driver on a phone (headless Chromium, network cut off): stop numbers sit beside the
markers, stops are named by their buildings, progress counts deliveries, a mark can be
undone and made again, one tap opens Gaode or Baidu navigation at the stop in their
coordinates, and the manifest speaks Chinese and fits the phone."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from mapserver.crs import wgs84_to_bd09, wgs84_to_gcj02
from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def route_page(app, live_server, browser):
    from mapserver.services.delivery import DeliveryRequest

    service = app.extensions["delivery"]
    plan_id = service.plan(DeliveryRequest(statuses=("red",), time_limit_s=1), user="test")
    route = service.get(plan_id)["plan"]["routes"][0]
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith(live_server.url) else r.abort(),
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/login?next=/driver/{plan_id}/{route['route_id']}")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_function("() => window.msDriver", timeout=10_000)
    yield page, service, plan_id, service.route(plan_id, route["route_id"])
    context.close()


def test_driver_marks_undoes_and_navigates(route_page):
    page, service, plan_id, route = route_page
    stops = route["route"]["stops"]
    total = len(stops)
    assert page.inner_text("#progress") == f"0/{total} 已送达"
    # numbers beside the markers, never over their colour
    apart = page.evaluate(
        """() => Array.from(document.querySelectorAll('.leaflet-tooltip.stop-number')).every(t => {
            const a = t.getBoundingClientRect();
            return Array.from(document.querySelectorAll('path.leaflet-interactive')).every(p => {
                const b = p.getBoundingClientRect();
                if (b.width > 30) return true;  // a route line, not a marker
                return a.right <= b.left || b.right <= a.left || a.bottom <= b.top
                    || b.bottom <= a.top;
            });
        })"""
    )
    assert apart
    # stops named in the words on the ground, not compound codes
    for stop in stops:
        assert not re.match(r"^[A-Z]\d{2}-\d", stop["name"]), stop["name"]
    first = page.locator("li.stop").first
    stop_id = first.get_attribute("data-stop")
    # the command map, open beside the driver's page, follows each mark live
    command = page.context.new_page()
    command.goto(page.url.split("/driver/")[0] + "/")
    command.wait_for_selector("body[data-ready='1']", timeout=15_000)
    on_map = (
        "([s, want]) => (document.querySelector(`[data-stop='${s}']`) || {}).dataset?.state"
        " === want"
    )
    command.wait_for_function(on_map, arg=[stop_id, "pending"], timeout=5_000)
    first.locator("button.mark-delivered").click()
    page.wait_for_function(
        "(t) => document.querySelector('#progress').textContent === `1/${t} 已送达`", arg=total
    )
    assert first.locator("button.mark-undo").is_visible()
    first.locator("button.mark-undo").click()
    page.wait_for_function(
        "(t) => document.querySelector('#progress').textContent === `0/${t} 已送达`", arg=total
    )
    states = {
        s["stop_id"]: s["state"]
        for s in service.route(plan_id, route["route"]["route_id"])["route"]["stops"]
    }
    assert states[stop_id] == "pending"
    first.locator("button.mark-delivered").click()
    page.wait_for_function(
        "(t) => document.querySelector('#progress').textContent === `1/${t} 已送达`", arg=total
    )
    states = {
        s["stop_id"]: s["state"]
        for s in service.route(plan_id, route["route"]["route_id"])["route"]["stops"]
    }
    assert states[stop_id] == "delivered"
    command.wait_for_function(on_map, arg=[stop_id, "delivered"], timeout=3_000)
    command.close()
    # navigation: Gaode in GCJ-02, Baidu in BD-09, at the stop
    lon, lat = stops[0]["nav"]["wgs84"]
    gaode = urlparse(first.locator("a.nav-gaode").get_attribute("href"))
    assert gaode.scheme == "amapuri"
    query = parse_qs(gaode.query)
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert float(query["dlon"][0]) == pytest.approx(float(glon), abs=1e-6)
    assert float(query["dlat"][0]) == pytest.approx(float(glat), abs=1e-6)
    assert query["dev"] == ["0"]  # the coordinates are Gaode's own
    baidu = unquote(first.locator("a.nav-baidu").get_attribute("href"))
    blon, blat = wgs84_to_bd09(lon, lat)
    found = re.search(r"latlng:([\d.]+),([\d.]+)", baidu)
    assert baidu.startswith("baidumap://") and "coord_type=bd09ll" in baidu
    assert float(found.group(1)) == pytest.approx(float(blat), abs=1e-6)
    assert float(found.group(2)) == pytest.approx(float(blon), abs=1e-6)
    if stops[0].get("phone"):
        assert first.locator("a.call").get_attribute("href") == f"tel:{stops[0]['phone']}"


def test_manifest_speaks_chinese_and_fits_a_phone(route_page):
    page, _, plan_id, route = route_page
    page.goto(
        page.url.split("/driver/")[0]
        + f"/driver/{plan_id}/{route['route']['route_id']}/manifest?noprint=1"
    )
    page.wait_for_selector("table.manifest")
    text = page.inner_text("body")
    words = set(re.findall(r"[A-Za-z_]{3,}", text))
    assert not words & {
        "seq",
        "stop_id",
        "eta_s",
        "building_id",
        "where",
        "kind",
        "food",
        "order_id",
    }
    heads = page.eval_on_selector_all("table.manifest th", "ths => ths.map(t => t.textContent)")
    assert heads == ["序号", "停靠点", "预计到达", "楼栋与地址", "物资", "箱"]
    assert "生活物资" in text
    width = page.evaluate("() => document.scrollingElement.scrollWidth")
    assert width <= 390  # no sideways scrolling on the phone
