"""Benchmark: the command map as a commander opens it, on the demo district and on one ten
times its size, served by `mapserver serve` as deployed.

For each district: the first view in headless Chromium (seconds until the map, panel,
totals and table are quiet, and the bytes on the wire of every answer, a revalidated one
counted as its 304), a level switch (居委 → 大网格),
a status change until the panel's totals show it, and the wall map (PDF at A3 and A0, PNG
at A3), the offline HTML map and the XLSX table: seconds and bytes of each. Prints
figures; asserts nothing.

Run: python bench/command_map.py [--scales 1 10]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from load import _free_port, _start_server, _stop_server

from mapserver.demo import generate_demo
from mapserver.store import open_store

PASSWORD = "bench-map-2026"
VIEW_PX = (1600, 900)  # a wall screen's map


def _line(label: str, value: str) -> None:
    print(f"  {label:<58} {value}")


def _load(url: str, scale: float) -> tuple[str, dict]:
    layers = generate_demo(seed=2020, scale=scale)
    store = open_store(url)
    store.import_layers(layers, user="bench")
    store.create_user("admin", PASSWORD, role="admin")
    token = store.create_token("admin")
    store.dispose()
    return token, layers


def _wait_ready(base: str, token: str, proc, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(requests.RequestException):
            answer = requests.get(
                f"{base}/api/config", headers={"Authorization": f"Bearer {token}"}, timeout=5
            )
            if answer.ok:
                return
        time.sleep(0.3)
    raise RuntimeError("server did not answer")


def _browser(base: str, token: str, layers: dict) -> None:
    from playwright.sync_api import sync_playwright

    sizes: list[int] = []  # bytes on the wire of each answer (a revalidated one: its 304)
    last = [time.perf_counter()]
    streams: set[str] = set()

    def on_sent(event) -> None:
        if "/api/stream" in event["request"]["url"]:
            streams.add(event["requestId"])

    def on_finished(event) -> None:
        if event["requestId"] in streams:
            return
        sizes.append(int(event["encodedDataLength"]))
        last[0] = time.perf_counter()

    def quiet(page, started: float) -> float:
        while time.perf_counter() - last[0] < 0.5:
            page.wait_for_timeout(100)
        return last[0] - started

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
            headless=True,
        )
        context = browser.new_context(viewport={"width": VIEW_PX[0], "height": VIEW_PX[1]})
        context.route(  # no internet: the page must not need it
            "**/*",
            lambda r: r.continue_() if r.request.url.startswith(base) else r.abort(),
        )
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.on("Network.requestWillBeSent", on_sent)
        cdp.on("Network.loadingFinished", on_finished)
        page.goto(base + "/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("body[data-ready='1']", timeout=120_000)
        page.wait_for_timeout(1000)
        sizes.clear()
        started = time.perf_counter()
        last[0] = started
        page.evaluate("location.reload()")
        page.wait_for_selector("body[data-ready='1']", timeout=120_000)
        page.wait_for_function("() => document.body.dataset.totals && document.body.dataset.table")
        took = quiet(page, started)
        _line(
            "first view (居委 level, panel, totals, table)",
            f"{took:7.3f} s, {sum(sizes) / 1e6:6.3f} MB in {len(sizes)} answers",
        )
        for level in ("big", "community"):
            before = page.evaluate("() => document.body.dataset.measure")
            sizes.clear()
            started = time.perf_counter()
            last[0] = started
            page.select_option("#level", level)
            page.wait_for_function(
                "(b) => document.body.dataset.measure && document.body.dataset.measure !== b"
                " || document.body.dataset.loaded",
                arg=before,
            )
            took = quiet(page, started)
            _line(
                f"level switch to {level}",
                f"{took:7.3f} s, {sum(sizes) / 1e3:7.1f} kB in {len(sizes)} answers",
            )
        status = layers["status"]
        green = status[(status["status"] == "green") & (status["entity_kind"] == "household")]
        rows = [{"entity_id": h, "status": "red"} for h in green["entity_id"].iloc[:5]]
        before = int(page.inner_text("#totals-table tr.total-row[data-code='red'] td.hh") or 0)
        sent = time.perf_counter()
        requests.post(
            f"{base}/api/status",
            json={"rows": rows},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).raise_for_status()
        page.wait_for_function(
            "(n) => Number(document.querySelector("
            "\"#totals-table tr.total-row[data-code='red'] td.hh\").textContent) === n",
            arg=before + 5,
            timeout=30_000,
        )
        _line(
            "status change until the panel's totals show it", f"{time.perf_counter() - sent:7.3f} s"
        )
        browser.close()


def _exports(base: str, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    for label, path in (
        ("wall map PDF A3 (居委)", "/api/print?level=community&paper=A3"),
        ("wall map PDF A3 (大网格)", "/api/print?level=big&paper=A3"),
        ("wall map PDF A0 (大网格)", "/api/print?level=big&paper=A0"),
        ("wall map PNG A3 (大网格)", "/api/print?level=big&paper=A3&format=png"),
        ("offline HTML map (大网格)", "/api/export/map.html?level=big"),
        ("table XLSX (微网格)", "/api/table.xlsx?level=micro"),
    ):
        started = time.perf_counter()
        answer = requests.get(base + path, headers=auth, timeout=300)
        took = time.perf_counter() - started
        answer.raise_for_status()
        _line(label, f"{took:7.3f} s, {len(answer.content) / 1e3:8.1f} kB")


def run(scale: float) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-map-"))
    url = f"sqlite:///{work / 'store.sqlite'}"
    started = time.perf_counter()
    token, layers = _load(url, scale)
    counts = {k: len(v) for k, v in layers.items() if k in ("grids", "buildings", "households")}
    print(f"district x{scale:g}: {counts} (loaded in {time.perf_counter() - started:.1f} s)")
    port = _free_port()
    args = SimpleNamespace(code=ROOT, workers=2, threads=32, server="serve")
    proc = _start_server(args, url, port, work)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, token, proc)
        _browser(base, token, layers)
        _exports(base, token)
    finally:
        _stop_server(proc)


def main() -> int:
    """Run the benchmark on each scale asked for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="+", type=float, default=[1.0, 10.0])
    args = parser.parse_args()
    os.environ.setdefault("MAPSERVER_SECRET_KEY", "bench-map-secret")
    for scale in args.scales:
        run(scale)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
