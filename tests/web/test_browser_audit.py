"""The audit page in real headless Chromium: filter by a click, by kind, export the CSV."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def test_admin_filters_by_clicking_and_exports(browser, live_server, app):
    store = app.extensions["store"]
    store.record_audit("login.failed", entity="user:王五", actor="王五")
    context = browser.new_context(viewport=PHONE, accept_downloads=True)
    context.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith("http://127.0.0.1") else r.abort(),
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/audit")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "demo2020")
    page.click("button[type=submit]")
    page.wait_for_selector("#audit-rows", timeout=10_000)
    page.click("#audit-rows a.pick[data-field=who] >> text=王五")
    page.wait_for_url("**who=*", timeout=10_000)
    actors = page.eval_on_selector_all(
        "#audit-rows a.pick[data-field=who]", "els => els.map(e => e.textContent)"
    )
    assert actors == ["王五"]
    page.fill("input[name=who]", "")
    page.select_option("select[name=kind]", "login")  # applies at once
    page.wait_for_url("**kind=login*", timeout=10_000)
    kinds = page.eval_on_selector_all(
        "#audit-rows tr td:nth-child(5)", "els => els.map(e => e.textContent)"
    )
    assert set(kinds) == {"登录成功", "登录失败"}
    scroll = page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
    assert scroll, "the page is wider than the phone"
    with page.expect_download() as download:
        page.click("#audit-export")
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert "login.failed" in text and "王五" in text and "import.layers" not in text
    context.close()
