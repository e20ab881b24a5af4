"""Benchmark: an event layer of N BD-09 points over the demo district (read, join, write, count).

Run: python bench/events_scale.py [--points 100000] [--scale 1]
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mapserver import crs
from mapserver.demo import generate_demo
from mapserver.io.events import read_events
from mapserver.services.events import event_summary
from mapserver.status.events import join_events
from mapserver.store import open_store


def main() -> None:
    """Build the demo district, write N random BD-09 points as CSV and time each stage."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    layers = generate_demo(seed=2020, scale=args.scale)
    grids, buildings = layers["grids"], layers["buildings"]
    rng = np.random.default_rng(1)
    minx, miny, maxx, maxy = grids.total_bounds
    lon = rng.uniform(minx, maxx, args.points)
    lat = rng.uniform(miny, maxy, args.points)
    blon, blat = crs.wgs84_to_bd09(lon, lat)
    days = pd.date_range("2022-04-01", periods=14).strftime("%Y-%m-%d").to_numpy()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cases.csv"
        pd.DataFrame(
            {
                "编号": [f"E{i}" for i in range(args.points)],
                "日期": rng.choice(days, args.points),
                "经度": blon,
                "纬度": blat,
            }
        ).to_csv(path, index=False)
        store = open_store(f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
        store.import_layers({"grids": grids, "buildings": buildings})
        print(
            f"district: {len(grids)} grids, {len(buildings)} buildings; "
            f"{args.points} points (BD-09)"
        )
        t = time.perf_counter()
        table = read_events(path, source_crs="bd09")
        t_read = time.perf_counter() - t
        t = time.perf_counter()
        joined = join_events(table.points, grids, buildings, max_distance_m=50)
        t_join = time.perf_counter() - t
        t = time.perf_counter()
        store.import_events(joined.events, user="bench", file=path.name)
        t_write = time.perf_counter() - t
        t = time.perf_counter()
        store.import_events(joined.events, user="bench", file=path.name)
        t_merge = time.perf_counter() - t
        t = time.perf_counter()
        summary = event_summary(store, level="micro", by_day=True)
        t_summary = time.perf_counter() - t
        counts = joined.counts()
        print(f"read + BD-09 -> WGS84: {t_read:.2f} s")
        print(
            f"join (grid + nearest building ≤ 50 m): {t_join:.2f} s; joined {counts['joined']}, "
            f"outside {counts['outside']}, with building {counts['with_building']}"
        )
        print(f"store write (new): {t_write:.2f} s; re-import merging every id: {t_merge:.2f} s")
        print(f"summary (micro level, by day): {t_summary:.2f} s, {len(summary['grids'])} grids")
        store.dispose()


if __name__ == "__main__":
    main()
