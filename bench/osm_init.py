"""``mapserver init --osm`` on the real extracts of ../shared/realdata.

Run: ``python bench/osm_init.py [--split-units] [--realdata DIR]``. For the
Nanjing (新街口) and Beijing (望京) OpenStreetMap extracts prints the time of
``init_from_osm``, grids per level, the share of micro-grids within the 20-30
household target, the number of building footprints cut by a micro-grid
boundary and the worst share cut, the households created, the big buildings
flagged (over the micro-grid maximum) and the big-grid cordons checked sealed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mapserver.coverage.cordon import plan_cordon
from mapserver.districting.osm_init import init_from_osm
from mapserver.districting.validate import cut_footprints

EXTRACTS = ("nanjing-xinjiekou", "beijing-wangjing")
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Print the figures for each extract."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdata", default=str(ROOT.parent / "shared" / "realdata"))
    parser.add_argument("--split-units", action="store_true")
    args = parser.parse_args()
    for name in EXTRACTS:
        path = Path(args.realdata) / f"{name}.osm"
        start = time.perf_counter()
        result = init_from_osm(path, split_units=args.split_units)
        seconds = time.perf_counter() - start
        grids, buildings = result["grids"], result["buildings"]
        leaves = grids[grids["level"] == "micro"]["grid_id"]
        sums = buildings.groupby("grid_id")["households"].sum().reindex(leaves).fillna(0)
        in_range = float(((sums >= 20) & (sums <= 30)).mean())
        cut = cut_footprints(buildings, grids)
        worst = float(cut["cut_share"].max()) if len(cut) else 0.0
        bigs = grids[grids["level"] == "big"]
        start = time.perf_counter()
        sealing = sum(
            plan_cordon(g, result["road_nodes"], result["road_edges"]).is_sealing(
                result["road_nodes"], result["road_edges"]
            )
            for g in bigs.geometry
        )
        cordon_s = time.perf_counter() - start
        levels = ", ".join(f"{k} {v}" for k, v in grids["level"].value_counts().items())
        print(f"{name}: init {seconds:.1f} s; grids {levels}")
        print(f"  micro-grids within 20-30 households: {in_range:.1%} of {len(leaves)}")
        over = int((cut["cut_share"] > 1e-4).sum())
        print(
            f"  footprints cut: {len(cut)} of {len(buildings)} touched by a boundary, "
            f"{over} by more than 0.01%, worst {worst:.4%} of the area"
        )
        print(
            f"  households created: {len(result['households'])} "
            f"(buildings say {result['total_households']}), compounds {len(result['compounds'])}, "
            f"gates {sum(len(v) for v in result['gates'].values())}"
        )
        print(
            f"  big buildings flagged: {len(result['big_buildings'])} "
            f"(largest {max((h for _, h in result['big_buildings']), default=0)} households), "
            f"split: {len(result['split'])}"
        )
        print(f"  big-grid cordons sealing: {sealing} of {len(bigs)} ({cordon_s:.1f} s)")


if __name__ == "__main__":
    main()
