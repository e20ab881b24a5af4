"""Benchmark: status roll-up and stored counts at a million households, batch-to-map
latency, page weight.

Run: python bench/status_scale.py [--households 1000000 --buildings 50000]
Prints figures; asserts nothing. Needs Debian chromium for the page weights.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mapserver.demo import generate_demo
from mapserver.services.mapview import MapView
from mapserver.status.rollup import rollup
from mapserver.store import StatusRow, open_store
from mapserver.web import create_app

from synthetic import synthetic_district

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _timed(label: str, func, *args, **kwargs):
    start = time.perf_counter()
    value = func(*args, **kwargs)
    elapsed = time.perf_counter() - start
    print(f"  {label:<58} {elapsed:8.3f} s")
    return value, elapsed


def _serve(url: str):
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app({"database_url": url})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return app, server, f"http://127.0.0.1:{server.server_port}"


def page_weight(base: str) -> tuple[int, int, int]:
    """Bytes transferred and features drawn for the command map's first view."""
    from playwright.sync_api import sync_playwright

    sizes: list[int] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
        )
        page = browser.new_page(viewport={"width": 1600, "height": 900})

        def on_response(response):
            if "/api/stream" in response.url:
                return
            with contextlib.suppress(Exception):
                sizes.append(len(response.body()))

        page.on("response", on_response)
        page.goto(base + "/")
        if "/login" in page.url:  # reading the map needs a login
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", "bench")
            page.click("button[type=submit]")
        page.wait_for_selector("body[data-ready='1']", timeout=120_000)
        page.wait_for_timeout(500)
        features = page.evaluate(
            "document.querySelectorAll('path.ms-grid, path.ms-building').length"
        )
        browser.close()
    return sum(sizes), len(sizes), features


def batch_latency(base: str, token: str, household_ids: list[str], code: str) -> float:
    """Seconds from sending a 1,000-row batch to a map client reading the new colours."""
    auth = {"Authorization": f"Bearer {token}"}
    since = requests.get(f"{base}/api/config", headers=auth, timeout=60).json()["seq"]
    rows = [{"entity_id": h, "status": code} for h in household_ids]
    start = time.perf_counter()
    response = requests.post(
        f"{base}/api/status",
        json={"rows": rows},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    response.raise_for_status()
    while True:
        changes = requests.get(f"{base}/api/changes?since={since}", headers=auth, timeout=60).json()
        if changes["changed"] >= len(rows) and changes["buildings"]:
            return time.perf_counter() - start
        time.sleep(0.01)


def stored_counts(store, layers: dict) -> None:
    """The status counts the store keeps: a full recount, reads, and a 1-row write."""
    _timed("recount the stored status counts (db recount)", store.recount)
    _timed("read the district's totals (stored counts)", store.read_counts, level="total")
    grids, _ = _timed("read every grid's counts (stored counts)", store.read_counts, level="grid")
    top = layers["grids"]["grid_id"].iloc[:1].tolist()
    _timed("read one grid's counts (stored counts)", store.read_counts, level="grid", ids=top)
    ids = layers["households"]["household_id"].iloc[:50].tolist()
    took = []
    for i, household in enumerate(ids):
        started = time.perf_counter()
        store.apply_status(
            [StatusRow("household", household, ("red", "green")[i % 2])], user="b", source="b"
        )
        took.append(time.perf_counter() - started)
    took.sort()
    print(f"  {'1-row status write, counts kept (median of 50)':<58} {took[25]:8.3f} s")
    print(f"  {'count rows':<58} {len(grids):8,} grid rows")


def run_district(name: str, layers: dict, *, weights: bool) -> None:
    """Load one district into a fresh SQLite store and print every figure."""
    print(
        f"\n== {name}: {len(layers['grids']):,} grids, {len(layers['buildings']):,} buildings, "
        f"{len(layers['households']):,} households"
    )
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite"
        store = open_store(url)
        _timed("import all layers into SQLite", store.import_layers, layers, user="bench")
        store.create_user("admin", "bench", role="admin")
        token = store.create_token("admin")
        view = MapView(store)
        _timed("read the grid layer a worker holds (cached per import)", view.layers)
        layers_now = view.layers()
        status, t_read = _timed(
            "read full status table from the store (before stored counts)",
            store.read_status,
            columns=("entity_kind", "entity_id", "status", "persons"),
        )
        _, t_roll = _timed(
            "roll up through the grid tree (numpy; before stored counts)",
            rollup,
            layers_now.grids.reset_index(drop=True),
            store.read_buildings(),
            store.read_households(),
            status,
            view.scheme,
        )
        print(f"  {'=> load status + roll-up, before stored counts':<58} {t_read + t_roll:8.3f} s")
        _, t_counts = _timed(
            "read every grid's and the district's stored counts", view._counted, layers_now
        )
        print(f"  {'=> status load from stored counts (target <= 0.5 s)':<58} {t_counts:8.3f} s")
        stored_counts(store, layers)
        app, server, base = _serve(url)
        _timed(
            "first map request (cold caches)",
            requests.get,
            f"{base}/api/summary",
            headers={"Authorization": f"Bearer {token}"},
            timeout=300,
        )
        ids = layers["households"]["household_id"].iloc[:1000].tolist()
        latencies = [batch_latency(base, token, ids, code) for code in ("red", "green", "yellow")]
        print(
            f"  {'1,000-row batch -> readable by map client (target < 1 s)':<58} "
            f"{min(latencies):8.3f} s (min of 3; max {max(latencies):.3f})"
        )
        if weights:
            try:
                total, requests_n, features = page_weight(base)
                print(
                    f"  {'command map first view (target < 1.5 MB)':<58} "
                    f"{total / 1e6:8.3f} MB in {requests_n} requests, {features} features drawn"
                )
            except Exception as err:  # no chromium here
                print(f"  page weight skipped: {err}")
        server.shutdown()
        app.extensions["store"].dispose()
        store.dispose()


def main() -> None:
    """Parse options and run the demo and the large district."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--buildings", type=int, default=50_000)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    demo, _ = _timed("generate demo district", generate_demo)
    run_district("demo district", demo, weights=not args.no_browser)
    large, _ = _timed(
        "generate large district",
        synthetic_district,
        buildings=args.buildings,
        households=args.households,
    )
    run_district("large district", large, weights=not args.no_browser)


if __name__ == "__main__":
    main()
