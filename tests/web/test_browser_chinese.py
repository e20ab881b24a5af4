"""Every page in Chinese, as each role sees it (headless Chromium, network cut off): the
text a user reads holds no English word outside a short allow-list of names, units and
brand names (ids with digits, such as B0001 or van-1, are not words)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from mapserver.store import audit, open_store
from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.browser

ALLOWED = {
    "English",  # the language switch names itself
    "OSM", "OpenStreetMap", "Leaflet", "GPX", "PDF", "PNG", "HTML", "XLSX", "CSV", "WGS84",
    "GCJ", "BD", "EPSG", "km", "kB", "MB", "ID",
    "UTC", "GBK", "WKT", "GK", "CM",  # names of a time standard, an encoding, map projections
}  # fmt: skip
WORD = re.compile(r"(?<![\w./:@-])[A-Za-z]{2,}(?![\w./:@-])")


def _words(page) -> set[str]:
    text = page.evaluate("() => document.body.innerText")
    return {w for w in WORD.findall(text)} - ALLOWED


@pytest.fixture(scope="module")
def planned_template(tmp_path_factory, demo_db_template, demo_layers) -> tuple[Path, dict]:
    """The demo store with the users of each role, a delivery plan with a driver, a
    patrol tour and a saved planner draft, made once for the six roles' pages."""
    from mapserver.services.delivery import DeliveryRequest, DeliveryService
    from mapserver.services.patrol import PatrolService
    from mapserver.services.planner import PlannerService

    path = tmp_path_factory.mktemp("chinese") / "demo.sqlite"
    shutil.copy(demo_db_template, path)
    store = open_store(f"sqlite:///{path}")
    for role in ("commander", "planner", "dispatcher", "driver"):
        store.create_user(role, DEMO_PASSWORD, role=role)
    delivery = DeliveryService(store)
    plan_id = delivery.plan(DeliveryRequest(statuses=("red",), time_limit_s=1), user="test")
    route = delivery.get(plan_id)["plan"]["routes"][0]["route_id"]
    store.assign_driver(plan_id, route, "driver")
    tour = PatrolService(store).checkpoints(teams=2, user="test")
    grids = demo_layers["grids"]
    small = str(grids[grids["level"] == "small"]["grid_id"].iloc[0])
    planner = PlannerService(store)  # a saved draft: the versions list has a state
    opened = planner.open(small)
    planner.save(small, base_version=None, assignment=opened["assignment"], user="test")
    store.dispose()
    return path, {"plan_id": plan_id, "route": route, "tour": tour}


@pytest.fixture
def demo_db_url(tmp_path, planned_template) -> str:
    """This module's apps run on a copy of the planned store."""
    target = tmp_path / "demo.sqlite"
    shutil.copy(planned_template[0], target)
    return f"sqlite:///{target}"


@pytest.fixture
def pages(planned_template, demo_layers):
    """The pages each role is shown (the store holds the plans they need)."""
    made = planned_template[1]
    plan_id, route, tour = made["plan_id"], made["route"], made["tour"]
    grids = demo_layers["grids"]
    micro = str(grids[grids["level"] == "micro"]["grid_id"].iloc[0])
    small = str(grids[grids["level"] == "small"]["grid_id"].iloc[0])
    return {
        "admin": ["/", "/entry", "/upload", "/routes", "/planner", f"/planner?parent={small}",
                  "/users", "/audit", f"/driver/{plan_id}/{route}",
                  f"/driver/{plan_id}/{route}/manifest?noprint=1", f"/patrol/{tour}",
                  f"/board/{micro}"],
        "commander": ["/", "/routes", "/planner", f"/board/{micro}"],
        "planner": ["/", "/planner", f"/planner?parent={small}"],
        "dispatcher": ["/", "/routes", f"/driver/{plan_id}/{route}", f"/patrol/{tour}"],
        "worker": ["/", "/entry", f"/board/{micro}", f"/patrol/{tour}"],
        "driver": ["/routes", f"/driver/{plan_id}/{route}"],
    }  # fmt: skip


@pytest.mark.parametrize(
    "role", ["admin", "commander", "planner", "dispatcher", "worker", "driver"]
)
def test_every_page_speaks_chinese(role, pages, app, live_server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith(live_server.url) else r.abort(),
    )
    page = context.new_page()
    page.on("dialog", lambda d: d.dismiss())
    found: dict[str, set[str]] = {}
    store = app.extensions["store"]
    usernames = {u.username for u in store.list_users()}  # people's names are theirs
    usernames |= {r["actor"] for r in store.read_audit(audit.AuditFilter(), limit=1000)}
    try:
        page.goto(f"{live_server.url}/login")
        page.fill("input[name=username]", role)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        for path in pages[role]:
            page.goto(live_server.url + path)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(300)
            words = _words(page) - usernames
            if words:
                found[path] = words
    finally:
        context.close()
    assert not found, "; ".join(f"{path}: {' '.join(sorted(w))}" for path, w in found.items())
