"""Benchmark: a city-sized district served by `mapserver serve` as deployed.

Loads a synthetic lattice district (bench/synthetic.py) into SQLite or a throwaway
PostGIS, starts `mapserver serve`, and prints: import time; worker start; summary and
level-table latency; a first view and a pan as the map draws them from vector tiles and
compact status tables, against the same views as GeoJSON layers (bytes, time); tiles per
second cold and cached against the same tiles' bounding boxes as GeoJSON in the same run;
a 1,000-row status write until a map client's live feed carries it; peak memory of
each worker process. Prints figures; asserts nothing.

Run: python bench/city_scale.py [--households 1000000 --buildings 50000 --micro 80x60]
     [--backend sqlite|postgresql] [--workers 1]
(the issue's city: --households 10000000 --buildings 500000 --micro 250x200 on PostGIS)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from load import Postgres, _free_port

from mapserver.mvt import Tile, tile_of
from mapserver.store import open_store

from synthetic import synthetic_district

VIEW_PX = (1280, 800)  # a wall screen's map
PARALLEL = 6  # a browser's connections per host
LEVEL = "micro"
PASSWORD = "bench-city-2026"


def _timed(label: str, func, *args, **kwargs):
    started = time.perf_counter()
    out = func(*args, **kwargs)
    took = time.perf_counter() - started
    print(f"  {label:<62} {took:9.3f} s", flush=True)
    return out, took


def _line(label: str, value: str) -> None:
    print(f"  {label:<62} {value}", flush=True)


def _view_tiles(lon: float, lat: float, z: int) -> list[Tile]:
    """The tiles a VIEW_PX viewport centred on (lon, lat) at zoom z shows."""
    centre = tile_of(lon, lat, z)
    across = math.ceil(VIEW_PX[0] / 256 / 2) + 1
    down = math.ceil(VIEW_PX[1] / 256 / 2) + 1
    side = 1 << z
    return [
        Tile(z, x, y)
        for x in range(centre.x - across + 1, centre.x + across)
        for y in range(centre.y - down + 1, centre.y + down)
        if 0 <= x < side and 0 <= y < side
    ]


def _bbox_param(tiles: list[Tile]) -> str:
    boxes = [t.lonlat_bounds() for t in tiles]
    west, south = min(b[0] for b in boxes), min(b[1] for b in boxes)
    east, north = max(b[2] for b in boxes), max(b[3] for b in boxes)
    return f"{west},{south},{east},{north}"


class Client:
    """An HTTP client as the map is one: a token, gzip, a few parallel connections."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=PARALLEL * 2)
        self.session.mount("http://", adapter)
        self.session.headers.update({"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"})

    def get(self, path: str) -> tuple[int, float]:
        """(bytes on the wire, seconds) of one GET."""
        started = time.perf_counter()
        response = self.session.get(self.base + path, timeout=300, stream=True)
        raw = response.raw.read(decode_content=False)
        took = time.perf_counter() - started
        if response.status_code != 200:
            msg = f"{path}: {response.status_code} {raw[:200]!r}"
            raise RuntimeError(msg)
        return len(raw), took

    def many(self, paths: list[str], parallel: int = PARALLEL) -> tuple[int, float]:
        """(bytes, seconds) of fetching ``paths`` over ``parallel`` connections."""
        started = time.perf_counter()
        with ThreadPoolExecutor(parallel) as pool:
            sizes = list(pool.map(lambda p: self.get(p)[0], paths))
        return sum(sizes), time.perf_counter() - started


def _median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


def _tile_path(tile: Tile, layer: str = "grids") -> str:
    level = f"?level={LEVEL}" if layer == "grids" else ""
    return f"/api/tiles/{layer}/{tile.z}/{tile.x}/{tile.y}.pbf{level}"


def _rate(client: Client, paths: list[str]) -> tuple[float, int]:
    """(requests per second, bytes) fetching ``paths`` one after another."""
    started = time.perf_counter()
    total = sum(client.get(p)[0] for p in paths)
    return len(paths) / (time.perf_counter() - started), total


def _peak_memory_mb(pid: int) -> dict[int, float]:
    """Peak resident memory (VmHWM) of a process's children (the workers), in MB."""
    out: dict[int, float] = {}
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else []:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    out[int(child)] = int(line.split()[1]) / 1024
    return out


def _browser_views(base: str, password: str) -> None:
    """First view and a pan of the command map in headless Chromium: bytes of every answer
    (bodies as received, the event stream left out) and seconds until quiet."""
    from playwright.sync_api import sync_playwright

    sizes: list[int] = []
    last = [time.perf_counter()]

    def on_response(response) -> None:
        if "/api/stream" in response.url:
            return
        with contextlib.suppress(Exception):
            sizes.append(len(response.body()))
        last[0] = time.perf_counter()

    def quiet(started: float) -> float:
        while time.perf_counter() - last[0] < 0.5:
            page.wait_for_timeout(100)
        return last[0] - started

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
            headless=True,
        )
        page = browser.new_page(viewport={"width": VIEW_PX[0], "height": VIEW_PX[1]})
        page.on("response", on_response)
        page.goto(base + "/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_selector("body[data-ready='1']", timeout=120_000)
        page.evaluate("window.msMap.map.setZoom(window.msMap.map.getZoom() + 1)")
        page.wait_for_timeout(300)
        sizes.clear()
        page.evaluate("location.reload()")
        started = time.perf_counter()
        last[0] = started
        page.wait_for_selector("body[data-ready='1']", timeout=120_000)
        took = quiet(started)
        tiled = page.evaluate("document.body.dataset.tiled")
        _line(
            f"browser: first view (tiled={tiled}; target <= 1 s, 1.5 MB)",
            f"{took:9.3f} s, {sum(sizes) / 1e6:6.3f} MB in {len(sizes)} answers",
        )
        sizes.clear()
        started = time.perf_counter()
        last[0] = started
        page.evaluate(f"window.msMap.map.panBy([{VIEW_PX[0] // 2}, 0], {{animate: false}})")
        took = quiet(started)
        _line(
            "browser: pan by half a screen (target <= 300 ms, 200 kB)",
            f"{took:9.3f} s, {sum(sizes) / 1e3:7.1f} kB in {len(sizes)} answers",
        )
        browser.close()


def _write_until_seen(client: Client, token: str, households: list[str]) -> float:
    """Seconds from a 1,000-row status POST until the live feed names its seq."""
    seen = threading.Event()
    wanted: dict[str, int] = {}
    stream = requests.get(
        client.base + "/api/stream",
        headers={"Authorization": f"Bearer {token}"},
        stream=True,
        timeout=120,
    )

    def follow() -> None:
        for line in stream.iter_lines(decode_unicode=True):
            if line and line.startswith("data: ") and "seq" in wanted:
                with contextlib.suppress(ValueError, KeyError):
                    if json.loads(line[6:])["seq"] >= wanted["seq"]:
                        seen.set()
                        return

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    time.sleep(1.5)  # the stream's hello first
    rows = [{"entity_kind": "household", "entity_id": h, "status": "red"} for h in households]
    started = time.perf_counter()
    response = client.session.post(client.base + "/api/status", json={"rows": rows}, timeout=120)
    response.raise_for_status()
    wanted["seq"] = response.json()["seq"]
    seen.wait(60)
    took = time.perf_counter() - started
    stream.close()
    return took if seen.is_set() else float("nan")


def run(args: argparse.Namespace, url: str, work: Path) -> None:
    """Load, serve and measure one district."""
    micro_x, micro_y = (int(v) for v in args.micro.split("x"))
    layers, _ = _timed(
        "generate the district",
        synthetic_district,
        micro_x=micro_x,
        micro_y=micro_y,
        buildings=args.buildings,
        households=args.households,
    )
    print(
        f"  ({len(layers['grids']):,} grids, {len(layers['buildings']):,} buildings, "
        f"{len(layers['households']):,} households, backend {args.backend})"
    )
    store = open_store(url)
    _timed("import every layer (and count every status)", store.import_layers, layers, user="b")
    store.create_user("admin", PASSWORD, role="admin")
    token = store.create_token("admin")
    store.dispose()
    households = layers["households"]["household_id"].iloc[:1000].astype(str).tolist()
    west, south, east, north = layers["grids"].total_bounds
    lon, lat = (west + east) / 2, (south + north) / 2
    z = math.floor(math.log2(360 * VIEW_PX[0] / 256 / (east - west)))
    del layers

    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "MAPSERVER_SECRET_KEY": "bench-city-secret"}
    command = [sys.executable, "-m", "mapserver.cli", "--database", url, "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)]
    log = open(work / "server.log", "w")  # noqa: SIM115 (closed with the process)
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    client = Client(f"http://127.0.0.1:{port}", token)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError((work / "server.log").read_text()[-2000:])
            with contextlib.suppress(requests.RequestException, RuntimeError):
                client.get("/api/summary")
                break
            time.sleep(0.2)
        _line(
            "worker start until the first answer (caches warm)",
            f"{time.perf_counter() - started:9.3f} s",
        )
        summary = [client.get("/api/summary")[1] for _ in range(20)]
        _line(
            "summary latency (median of 20; target <= 100 ms)", f"{_median(summary) * 1000:9.1f} ms"
        )
        table = [client.get(f"/api/status/grids?level={LEVEL}") for _ in range(10)]
        _line(
            f"level table ({LEVEL}) latency, median of 10",
            f"{_median([t for _, t in table]) * 1000:9.1f} ms, {table[0][0] / 1e3:,.0f} kB",
        )

        view = _view_tiles(lon, lat, z + 1)
        # as the map asks: the status rows of the view with a margin, not the whole level
        top = ["/api/config", "/api/summary"]
        top.append(f"/api/status/grids?level={LEVEL}&bbox={_bbox_param(view)}")
        size, took = client.many(top + [_tile_path(t) for t in view])
        _line(
            f"first view from tiles (z{z + 1}, {len(view)} tiles; target <= 1 s, 1.5 MB)",
            f"{took:9.3f} s, {size / 1e6:6.3f} MB",
        )
        size, took = client.many(["/api/config", "/api/summary", f"/api/grids?level={LEVEL}"])
        _line("first view as GeoJSON (the level whole)", f"{took:9.3f} s, {size / 1e6:6.3f} MB")

        # a pan by a sixth of the screen at a zoom where the district is wider than it
        before = _view_tiles(lon, lat, z + 2)
        client.many([_tile_path(t) for t in before])
        shifted = _view_tiles(lon + (east - west) / 16, lat, z + 2)
        new = [t for t in shifted if t not in set(before)]
        seq = client.session.get(client.base + "/api/config", timeout=60).json()["seq"]
        pan = [_tile_path(t) for t in new] + [f"/api/status/grids?level={LEVEL}&since={seq}"]
        size, took = client.many(pan)
        _line(
            f"pan from tiles (z{z + 2}, {len(new)} new tiles; target <= 300 ms, 200 kB)",
            f"{took:9.3f} s, {size / 1e3:7.1f} kB",
        )
        size, took = client.many([f"/api/grids?level={LEVEL}&bbox={_bbox_param(shifted)}"])
        _line("pan as GeoJSON (the new view's bbox)", f"{took:9.3f} s, {size / 1e3:7.1f} kB")

        deep = _view_tiles(lon, lat, z + 3)[: args.tiles]
        cold, _ = _rate(client, [_tile_path(t) for t in deep])
        cached, _ = _rate(client, [_tile_path(t) for t in deep])
        gj = [f"/api/grids?level={LEVEL}&bbox={_bbox_param([t])}" for t in deep]
        gj_cold, _ = _rate(client, gj)
        gj_cached, _ = _rate(client, gj)
        _line(f"tiles/s, one connection, {len(deep)} tiles at z{z + 3}: cold", f"{cold:9.1f}")
        _line("tiles/s cached (target >= 200 per core)", f"{cached:9.1f}")
        _line("same views as GeoJSON (bbox) per second: cold", f"{gj_cold:9.1f}")
        _line("same views as GeoJSON per second: cached", f"{gj_cached:9.1f}")
        _line("=> cached tiles / cached GeoJSON", f"{cached / gj_cached:9.2f} x")

        if args.browser:
            _browser_views(client.base, PASSWORD)
        lag = _write_until_seen(client, token, households)
        _line("1,000-row write until the live feed carries it", f"{lag:9.3f} s")
        for pid, mb in sorted(_peak_memory_mb(proc.pid).items()):
            _line(f"peak memory of worker {pid} (target <= 500 MB)", f"{mb:9.0f} MB")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def main() -> None:
    """Parse options, make the database, run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--buildings", type=int, default=50_000)
    parser.add_argument("--micro", default="80x60", help="micro-grid lattice, e.g. 250x200")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--tiles", type=int, default=48, help="tiles for the rate figures")
    parser.add_argument(
        "--browser", action="store_true", help="also a first view and a pan in Chromium"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        if args.backend == "postgresql":
            os.chmod(work, 0o755)  # the postgres user runs the cluster inside it
            postgres = Postgres(work)
            try:
                run(args, postgres.url, work)
            finally:
                postgres.stop()
        else:
            run(args, f"sqlite:///{work / 'city.sqlite'}", work)


if __name__ == "__main__":
    main()
