"""Benchmark: map viewers and status writers against a real multi-worker server.

Run: python bench/load.py --duration 60 --viewers 200 --writes 50 --backend sqlite|postgresql

Builds a fresh demo store (SQLite file, or a new database on a throwaway PostgreSQL
cluster started with .ci/start_postgres.sh), starts the server on loopback
(``mapserver serve`` as deployed by default; ``--server gunicorn`` runs the same app
under gunicorn with an access log), then runs for ``--duration`` seconds:

* ``--viewers`` map viewers doing what static/js/map.js does: /api/config, the
  top level and the chosen level of grids, roads, checkpoints, deliveries, the
  summary, then one server-sent event stream (/api/stream). A ``change`` event
  that carries the delta is applied as it is; one without it makes the viewer
  pull /api/changes?since=SEQ (the older protocol). Every 5-15 s a viewer
  drills into a grid (grids and buildings of that grid, its summary) or changes
  level. Repeated URLs are sent with If-None-Match, as a browser's cache does.
  With ``--tiled`` the viewers behave as the map of a large district does: the
  view's vector tiles of the chosen level and its status rows (/api/status/grids
  with the view's bbox), then every 5-15 s a pan by half a screen (new tiles, the
  new view's rows) or a drill into a micro-grid (its buildings as GeoJSON).
* ``--writes`` status writes per second (POST /api/status with an admin API
  token; ``--batch`` rows each, 1 as the entry page sends), open loop.

Prints requests served, errors, p50/p95/p99 per endpoint (over the whole run, and
again for the requests asked after the viewers' opening storm: all 200 maps open
within ``--ramp`` seconds), how long a write takes to reach the viewers, rows
acknowledged against rows in the change log, and (``--server gunicorn``) the
server's own time per endpoint from gunicorn's access log.
Loopback only; everything it starts is stopped at the end. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import numpy as np
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mapserver.cli.server import DEFAULT_THREADS, db_pool_for, default_workers
from mapserver.config import DEFAULT_DEMO_DIR
from mapserver.demo import read_demo
from mapserver.mvt import Tile, tile_of
from mapserver.store import open_store

MAP_ENDPOINTS = (
    "grids",
    "buildings",
    "summary",
    "changes",
    "config",
    "stream",
    "tiles",
    "level table",
)
VIEW_TILES = (5, 4)  # a 1280×800 screen in 256-pixel tiles, rounded up
BROWSER_CONNECTIONS = 6  # a browser's connections to one host (HTTP/1.1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the store and the server ---------------------------------------------------------


def _load_demo(url: str, households: int = 0) -> tuple[str, list[str], list[str]]:
    """Load the demo district (or, with ``households``, the synthetic lattice of
    bench/synthetic.py with that many households, one per 20 in a building) into an empty
    store; return an admin token, household ids and status codes."""
    if households:
        sys.path.insert(0, str(ROOT / "bench"))
        from synthetic import synthetic_district

        layers = synthetic_district(buildings=max(1, households // 20), households=households)
    else:
        layers = read_demo(DEFAULT_DEMO_DIR)
    store = open_store(url)
    store.import_layers(layers, user="bench")
    store.create_user("admin", "bench-load-2026", role="admin")
    token = store.create_token("admin")
    store.dispose()
    households = layers["households"]["household_id"].astype(str).tolist()
    codes = sorted(set(layers["status"]["status"].dropna().astype(str)))
    return token, households, codes


class Postgres:
    """A throwaway PostgreSQL/PostGIS cluster with one fresh database for the run."""

    def __init__(self, work: Path) -> None:
        self.data_dir = work / "pg"
        self.port = _free_port()
        out = subprocess.run(
            ["bash", str(ROOT / ".ci" / "start_postgres.sh"), str(self.data_dir), str(self.port)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        line = next(x for x in out.splitlines() if x.startswith("export MAPSERVER_TEST_PG_URL="))
        base = line.split("=", 1)[1].strip().strip("'\"")
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE mapserver_load")
        admin.dispose()
        self.url = base.rsplit("/", 1)[0] + "/mapserver_load"
        engine = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        engine.dispose()

    def stop(self) -> None:
        """Stop the cluster and remove its folder."""
        pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
        command = [str(pg_ctl), "-D", str(self.data_dir), "-m", "fast", "stop"]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, capture_output=True, check=False)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _start_server(args: argparse.Namespace, url: str, port: int, work: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(args.code)}
    env.setdefault("MAPSERVER_SECRET_KEY", "bench-load-secret")
    env.setdefault("MAPSERVER_DB_POOL", str(db_pool_for(args.workers)))  # `serve` does the same
    if args.server == "gunicorn":
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(args.threads),
            "--timeout",
            "120",
            "--keep-alive",
            "75",
            "--log-level",
            "warning",
            "--access-logfile",
            str(work / "access.log"),
            "--access-logformat",
            "%(m)s %(U)s %(s)s %(D)s",
            "mapserver.web:create_served_app()",
        ]
    else:
        command = [sys.executable, "-m", "mapserver.cli", "--database", url, "serve"]
        command += ["--host", "127.0.0.1", "--port", str(port)]
        command += ["--workers", str(args.workers), "--threads", str(args.threads)]
    log = open(work / "server.log", "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


async def _wait_ready(base: str, proc: subprocess.Popen, token: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                msg = f"server exited with {proc.returncode} before answering"
                raise RuntimeError(msg)
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with session.get(f"{base}/api/config", timeout=5) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.3)
    msg = f"server did not answer within {timeout:.0f} s"
    raise RuntimeError(msg)


def _stop_server(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# -- the load ---------------------------------------------------------------------


@dataclass
class Figures:
    """What the run measured."""

    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    started: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    not_modified: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: list[str] = field(default_factory=list)
    bytes_in: int = 0
    events: int = 0
    live_lag: list[float] = field(default_factory=list)
    rows_acked: int = 0
    write_ack: dict[int, float] = field(default_factory=dict)  # last seq of a write -> time
    stream_drops: int = 0
    t0: float = 0.0  # when the run started (monotonic)

    def took(self, name: str, started: float, seconds: float) -> None:
        """Record one answer of an endpoint: when it was asked (monotonic) and how long."""
        self.latency[name].append(seconds)
        self.started[name].append(started)

    def error(self, name: str, what: str) -> None:
        """Count an error of one endpoint and keep a few samples."""
        self.errors[name] += 1
        if len(self.error_samples) < 8:
            self.error_samples.append(f"{name}: {what}")


class Load:
    """The viewers and the writers of one run."""

    def __init__(self, base: str, token: str, households: list[str], codes: list[str], args):
        self.base = base
        self.token = token
        self.households = households
        self.codes = codes
        self.args = args
        self.figures = Figures()
        self.stop_at = 0.0
        self.running = True
        self.session: aiohttp.ClientSession | None = None
        self.timeout = aiohttp.ClientTimeout(total=args.request_timeout)

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "Authorization": f"Bearer {self.token}"}

    async def get(
        self, name: str, path: str, etags: dict[str, str] | None = None, *, parse: bool = True
    ):
        """GET a JSON answer and record its latency under ``name``; None on error or 304.

        ``parse=False`` returns the raw body: a browser parses on its own machine, while
        this generator shares the server's cores, so it parses only what it uses."""
        headers = self._headers()
        if etags is not None and path in etags:
            headers["If-None-Match"] = etags[path]
        started = time.monotonic()
        try:
            async with self.session.get(
                self.base + path, headers=headers, timeout=self.timeout
            ) as resp:
                body = await resp.read()
                elapsed = time.monotonic() - started
                if resp.status == 304:
                    self.figures.took(name, started, elapsed)
                    self.figures.not_modified[name] += 1
                    return None
                if resp.status != 200:
                    self.figures.error(name, f"HTTP {resp.status} {body[:120]!r}")
                    return None
                self.figures.took(name, started, elapsed)
                self.figures.bytes_in += len(body)
                if etags is not None and resp.headers.get("ETag"):
                    etags[path] = resp.headers["ETag"]
                return json.loads(body) if parse else body
        except (TimeoutError, RuntimeError, aiohttp.ClientError) as err:
            self.figures.error(name, repr(err))
            return None

    # -- one viewer -------------------------------------------------------------------
    async def _open(self, number: int) -> tuple[random.Random, dict[str, str], dict | None]:
        """A viewer's random source, its cache of entity tags, and /api/config, asked at a
        random moment of the ramp."""
        rng = random.Random(number)
        await asyncio.sleep(rng.uniform(0, self.args.ramp))
        etags: dict[str, str] = {}
        return rng, etags, await self.get("config", "/api/config")

    async def viewer(self, number: int) -> None:
        """One open command map (see the module docstring)."""
        if self.args.tiled:
            await self.tiled_viewer(number)
            return
        rng, etags, config = await self._open(number)
        if config is None:
            return
        levels = config["levels"]
        level = levels[min(1, len(levels) - 1)]
        view = {"seq": int(config["seq"]), "fetching": False, "level": level, "pulls": set()}
        top = await self.get("grids", f"/api/grids?level={levels[0]}", etags)
        bbox = _bbox_of(top) if top else "121,31,122,32"
        await self.get("grids", f"/api/grids?level={view['level']}&bbox={bbox}", etags, parse=False)
        await self.get("roads", f"/api/roads?bbox={bbox}", etags, parse=False)
        await asyncio.gather(
            self.get("summary", "/api/summary", etags, parse=False),
            self.get("checkpoints", "/api/checkpoints", etags, parse=False),
            self.get("delivery", "/api/delivery/progress", etags, parse=False),
        )
        stream = asyncio.create_task(self.stream(view))
        grid_ids: dict[str, list[str]] = {}
        while self.running:
            await asyncio.sleep(rng.uniform(5, 15))
            if not self.running:
                break
            if rng.random() < 0.6:  # drill into a grid of the chosen level
                level = view["level"]
                if level not in grid_ids:
                    data = await self.get("grids", f"/api/grids?level={level}&bbox={bbox}", etags)
                    grid_ids[level] = [f["id"] for f in (data or {}).get("features", [])]
                if not grid_ids[level]:
                    continue
                gid = rng.choice(grid_ids[level])
                await self.get("grids", f"/api/grids?parent={gid}", etags, parse=False)
                await self.get("buildings", f"/api/buildings?grid={gid}", etags, parse=False)
                await self.get("summary", f"/api/summary?grid={gid}", etags, parse=False)
            else:  # choose another level
                view["level"] = rng.choice(levels)
                path = f"/api/grids?level={view['level']}&bbox={bbox}"
                await self.get("grids", path, etags, parse=False)
                await self.get("summary", "/api/summary", etags, parse=False)
        stream.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stream

    async def tiled_viewer(self, number: int) -> None:
        """One open map of a large district, drawn from vector tiles (module docstring)."""
        rng, etags, config = await self._open(number)
        if config is None:
            return
        levels = config["levels"]
        view = {"seq": int(config["seq"]), "fetching": False, "pulls": set()}
        top = await self.get("grids", f"/api/grids?level={levels[0]}", etags)
        minx, miny, maxx, maxy = (float(v) for v in _bbox_of(top or {}).split(","))
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        zoom = 15
        level = levels[-1]
        seen: set[Tile] = set()
        connections = asyncio.Semaphore(BROWSER_CONNECTIONS)

        async def show(lon: float, lat: float) -> None:
            centre = tile_of(lon, lat, zoom)
            cols, rows = VIEW_TILES
            tiles = [
                Tile(zoom, centre.x + dx, centre.y + dy)
                for dx in range(-(cols // 2), cols - cols // 2)
                for dy in range(-(rows // 2), rows - rows // 2)
            ]
            west, south, _, _ = tiles[0].lonlat_bounds()
            _, _, east, north = tiles[-1].lonlat_bounds()
            bbox = f"{west:.6f},{min(south, north):.6f},{east:.6f},{max(south, north):.6f}"
            fresh = [t for t in tiles if t not in seen]
            seen.update(fresh)
            paths = [f"/api/status/grids?level={level}&bbox={bbox}"]
            paths += [f"/api/tiles/grids/{t.z}/{t.x}/{t.y}.pbf?level={level}" for t in fresh]

            async def one(path: str) -> None:
                async with connections:  # a browser opens 6 connections per host
                    name = "tiles" if "/tiles/" in path else "level table"
                    await self.get(name, path, etags, parse=False)

            await asyncio.gather(*(one(path) for path in paths))

        await show(lon, lat)
        await self.get("summary", "/api/summary", etags, parse=False)
        stream = asyncio.create_task(self.stream(view))
        step = Tile(zoom, 0, 0).lonlat_bounds()
        half = (step[2] - step[0]) * VIEW_TILES[0] / 2
        while self.running:
            await asyncio.sleep(rng.uniform(5, 15))
            if not self.running:
                break
            if rng.random() < 0.6:  # pan by half a screen
                lon += rng.choice((-half, half))
                lat += rng.choice((-half, half)) * 0.6
                await show(lon, lat)
            else:  # open a micro-grid: its buildings as GeoJSON, its summary
                near = f"{lon - 0.002:.6f},{lat - 0.002:.6f},{lon + 0.002:.6f},{lat + 0.002:.6f}"
                table = await self.get(
                    "level table", f"/api/status/grids?level={level}&bbox={near}", etags
                )
                ids = sorted((table or {}).get("rows", {}))
                if not ids:
                    continue
                gid = rng.choice(ids)
                await self.get("buildings", f"/api/buildings?grid={gid}", etags, parse=False)
                await self.get("summary", f"/api/summary?grid={gid}", etags, parse=False)
        stream.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stream

    async def stream(self, view: dict) -> None:
        """Follow /api/stream as EventSource does (reconnects with Last-Event-ID)."""
        while self.running:
            headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {self.token}"}
            headers["Last-Event-ID"] = str(view["seq"])
            started = time.monotonic()
            try:
                async with self.session.get(
                    f"{self.base}/api/stream?since={view['seq']}",
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=None, sock_read=30),
                ) as resp:
                    if resp.status != 200:
                        self.figures.error("stream", f"HTTP {resp.status}")
                        await asyncio.sleep(1)
                        continue
                    first = True
                    event, data = None, []
                    async for raw in resp.content:
                        line = raw.decode().rstrip("\r\n")
                        if first:
                            self.figures.took("stream", started, time.monotonic() - started)
                            first = False
                        if line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("data:"):
                            data.append(line[5:].strip())
                        elif not line:
                            if event == "change" and data:
                                await self.on_change(view, _event_head("\n".join(data)))
                            event, data = None, []
            except (TimeoutError, RuntimeError, aiohttp.ClientError) as err:
                if self.running:
                    self.figures.error("stream", repr(err))
            if self.running:
                self.figures.stream_drops += 1
                await asyncio.sleep(1)

    async def on_change(self, view: dict, data: dict) -> None:
        """Apply a change event: its own delta, or pull /api/changes as the old map did."""
        self.figures.events += 1
        if data["delta"] and data["since"] <= view["seq"]:  # as map.js: the delta fits
            self._applied(view, data["seq"])
            return
        if int(data["seq"]) <= view["seq"] or view["fetching"]:
            return
        view["fetching"] = True
        task = asyncio.create_task(self._pull(view))
        view["pulls"].add(task)
        task.add_done_callback(view["pulls"].discard)

    async def _pull(self, view: dict) -> None:
        try:
            changes = await self.get("changes", f"/api/changes?since={view['seq']}")
            if changes is not None and int(changes["seq"]) > view["seq"]:
                self._applied(view, int(changes["seq"]))
        finally:
            view["fetching"] = False

    def _applied(self, view: dict, seq: int) -> None:
        if seq <= view["seq"]:
            return
        view["seq"] = seq
        acked = self.figures.write_ack.get(seq)
        self.figures.live_lag.append(max(0.0, time.monotonic() - acked) if acked else 0.0)

    # -- the writers ----------------------------------------------------------------------
    async def writers(self) -> None:
        """POST /api/status ``--writes`` times a second (open loop) until the end."""
        rng = random.Random(2026)
        interval = 1.0 / self.args.writes
        pending: set[asyncio.Task] = set()
        next_at = time.monotonic() + self.args.ramp
        while True:
            now = time.monotonic()
            if now >= self.stop_at:
                break
            if now < next_at:
                await asyncio.sleep(next_at - now)
                continue
            next_at += interval
            rows = [
                {
                    "entity_kind": "household",
                    "entity_id": rng.choice(self.households),
                    "status": rng.choice(self.codes),
                }
                for _ in range(self.args.batch)
            ]
            task = asyncio.create_task(self.write(rows))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.wait(pending, timeout=self.args.request_timeout + 5)

    async def write(self, rows: list[dict]) -> None:
        """One status write; count its rows when the server acknowledges them."""
        body = rows[0] if len(rows) == 1 else {"rows": rows}
        started = time.monotonic()
        try:
            async with self.session.post(
                f"{self.base}/api/status", json=body, headers=self._headers(), timeout=self.timeout
            ) as resp:
                answer = await resp.read()
                if resp.status != 200:
                    self.figures.error("status POST", f"HTTP {resp.status} {answer[:120]!r}")
                    return
                data = json.loads(answer)
                self.figures.took("status POST", started, time.monotonic() - started)
                self.figures.rows_acked += int(data["applied"])
                self.figures.write_ack[int(data["seq"])] = time.monotonic()
        except (TimeoutError, RuntimeError, aiohttp.ClientError) as err:
            self.figures.error("status POST", repr(err))

    async def run(self) -> Figures:
        """Run viewers and writers for ``--duration`` seconds."""
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        async with aiohttp.ClientSession(connector=connector) as session:
            self.session = session
            self.figures.t0 = time.monotonic()
            self.stop_at = self.figures.t0 + self.args.ramp + self.args.duration
            viewers = [asyncio.create_task(self.viewer(i)) for i in range(self.args.viewers)]
            await self.writers()
            self.running = False
            await asyncio.sleep(0)
            for task in viewers:
                task.cancel()
            await asyncio.gather(*viewers, return_exceptions=True)
        return self.figures


_SINCE = re.compile(r'"since":\s*(\d+)')
_SEQ = re.compile(r'"seq":\s*(\d+)')


def _event_head(text: str) -> dict:
    """``seq``, ``since`` and whether a change event carries the delta, without parsing the
    delta itself (a browser parses it on its own machine; this generator shares the
    server's cores). ``since`` and ``seq`` lead the event's JSON."""
    head = text[:200]
    since, seq = _SINCE.search(head), _SEQ.search(head)
    return {
        "seq": int(seq.group(1)) if seq else 0,
        "since": int(since.group(1)) if since else 0,
        "delta": '"grids":' in text and '"buildings":' in text,
    }


def _bbox_of(collection: dict) -> str:
    xs, ys = [], []

    def walk(coords) -> None:
        if isinstance(coords[0], (int, float)):
            xs.append(coords[0])
            ys.append(coords[1])
        else:
            for part in coords:
                walk(part)

    for feature in collection.get("features", []):
        walk(feature["geometry"]["coordinates"])
    if not xs:
        return "121,31,122,32"
    return f"{min(xs):.6f},{min(ys):.6f},{max(xs):.6f},{max(ys):.6f}"


# -- the report -------------------------------------------------------------------------


def _steady(figures: Figures, after: float) -> None:
    """p50/p95/p99 of the requests asked after the viewers' opening storm."""
    print(f"after the opening storm (requests asked {after:g} s or more after the start):")
    worst = 0.0
    for name in sorted(figures.latency):
        started = np.asarray(figures.started[name])
        values = np.asarray(figures.latency[name])[started >= figures.t0 + after] * 1000
        if not len(values):
            continue
        p50, p95, p99 = np.percentile(values, [50, 95, 99])
        if name in MAP_ENDPOINTS and name != "stream":
            worst = max(worst, p95)
        print(f"  {name:<14}{len(values):>8}{p50:>9.0f}{p95:>9.0f}{p99:>9.0f}")
    print(f"  worst p95 of the map API calls after the storm: {worst:.0f} ms")


def _report(figures: Figures, args, changelog_rows: int, seconds: float) -> None:
    print(
        f"\n{args.backend}, {args.server} ({args.workers} workers × {args.threads} threads), "
        f"{args.viewers} viewers, {args.writes} writes/s × {args.batch} row(s), "
        f"{args.duration:g} s (+{args.ramp:g} s ramp)"
    )
    header = f"{'endpoint':<14}{'served':>8}{'304':>7}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}"
    print(header + f"{'p99 ms':>9}{'max ms':>9}")
    names = sorted(set(figures.latency) | set(figures.errors))
    total = errors = 0
    worst_map_p95 = 0.0
    for name in names:
        values = np.asarray(figures.latency.get(name, []), dtype=float) * 1000
        served = len(values)
        total += served
        errors += figures.errors.get(name, 0)
        p50, p95, p99, top = np.percentile(values, [50, 95, 99, 100]) if served else (np.nan,) * 4
        if name in MAP_ENDPOINTS and name != "stream" and served:
            worst_map_p95 = max(worst_map_p95, p95)
        print(
            f"{name:<14}{served:>8}{figures.not_modified.get(name, 0):>7}"
            f"{figures.errors.get(name, 0):>8}{p50:>9.0f}{p95:>9.0f}{p99:>9.0f}{top:>9.0f}"
        )
    print(f"requests served: {total} ({total / seconds:.0f}/s), errors: {errors}")
    print(
        f"worst p95 of the map API calls ({', '.join(n for n in MAP_ENDPOINTS if n != 'stream')}): "
        f"{worst_map_p95:.0f} ms"
    )
    lag = np.asarray(figures.live_lag) * 1000
    if len(lag):
        p50, p95 = np.percentile(lag, [50, 95])
        print(
            f"write acknowledged → viewer has it: p50 {p50:.0f} ms, p95 {p95:.0f} ms "
            f"({figures.events} change events, {figures.stream_drops} stream reconnects)"
        )
    print(f"received {figures.bytes_in / 1e6:.1f} MB of JSON (after gzip, if any)")
    lost = figures.rows_acked - changelog_rows
    print(
        f"rows acknowledged: {figures.rows_acked}, rows in the change log: {changelog_rows}, "
        f"lost: {max(lost, 0)}" + (f" (applied but not acknowledged: {-lost})" if lost < 0 else "")
    )
    for sample in figures.error_samples:
        print("  e.g.", sample)


def _server_side(path: Path) -> None:
    """Time the server itself took per endpoint (gunicorn's access log), without the
    client's own queueing: on a shared machine the load generator competes for the CPU."""
    if not path.is_file():
        return
    times: dict[str, list[float]] = defaultdict(list)
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) != 4 or not parts[3].isdigit():
            continue
        name = parts[1].removeprefix("/api/").split("/")[0]
        if parts[0] == "POST":
            name += " POST"
        times[name].append(int(parts[3]) / 1000)
    print("server side (gunicorn access log), ms:")
    for name in sorted(times):
        if name == "stream":
            continue  # a stream's time is its whole life
        p50, p95, p99 = np.percentile(times[name], [50, 95, 99])
        print(f"  {name:<14}{len(times[name]):>8}{p50:>9.0f}{p95:>9.0f}{p99:>9.0f}")


def main() -> int:
    """Parse options, build the store, start the server, run the load, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--writes", type=float, default=50, help="status writes per second")
    parser.add_argument("--batch", type=int, default=1, help="rows per status write")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--server",
        choices=("serve", "gunicorn"),
        default="serve",
        help="serve: `mapserver serve` as deployed; gunicorn: the same app with an access "
        "log, for the server's own time per endpoint (the log's lock costs some latency)",
    )
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS, help="per worker; one per open stream"
    )
    parser.add_argument("--ramp", type=float, default=5, help="seconds over which viewers open")
    parser.add_argument(
        "--households",
        type=int,
        default=0,
        help="instead of the demo, a synthetic lattice with this many households "
        "(e.g. 1000000; one building per 20 households)",
    )
    parser.add_argument(
        "--tiled",
        action="store_true",
        help="viewers draw the level from vector tiles and status tables, as the map of a "
        "large district does",
    )
    parser.add_argument("--request-timeout", type=float, default=60)
    parser.add_argument(
        "--code", type=Path, default=ROOT, help="source tree the server runs (another worktree)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mapserver-load-") as tmp:
        work = Path(tmp)
        if args.backend == "postgresql":
            os.chmod(work, 0o755)  # the postgres user runs the cluster inside it
        pg = Postgres(work) if args.backend == "postgresql" else None
        url = pg.url if pg else f"sqlite:///{work / 'load.sqlite'}"
        proc = None
        try:
            started = time.monotonic()
            token, households, codes = _load_demo(url, args.households)
            what = f"{args.households:,}-household lattice" if args.households else "demo"
            print(f"{what} store ({args.backend}) loaded in {time.monotonic() - started:.1f} s")
            store = open_store(url)
            seq0 = store.last_seq()
            port = _free_port()
            proc = _start_server(args, url, port, work)
            base = f"http://127.0.0.1:{port}"
            asyncio.run(_wait_ready(base, proc, token))
            load = Load(base, token, households, codes, args)
            started = time.monotonic()
            figures = asyncio.run(load.run())
            seconds = time.monotonic() - started
            changelog_rows = len(store.changes_since(seq0, limit=10_000_000))
            store.dispose()
            _report(figures, args, changelog_rows, seconds)
            _steady(figures, args.ramp + 10)
            _server_side(work / "access.log")
        finally:
            if proc is not None:
                _stop_server(proc)
                log = (work / "server.log").read_text(errors="replace").strip()
                if log:
                    print("server log (last lines):\n  " + "\n  ".join(log.splitlines()[-6:]))
            if pg is not None:
                pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
