"""Planner edits: redrawing only the cells that changed (along roads) against the full
Voronoi redraw, on real OSM parents.

Run: ``python bench/planner_redraw.py [--osm ../shared/realdata/nanjing-xinjiekou.osm]``.
Builds a district with ``mapserver init --osm`` in a temporary store, then for every
parent grid with at least two cells moves one building (seeded) to a neighbouring cell
and prints, per method, the median and worst time of drawing the cells, how many cells
changed shape (symmetric difference over 1 m²), and the gap/overlap left (m²), summed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import shapely

from mapserver.cli import main as cli_main
from mapserver.crs import metric_crs
from mapserver.districting.boundaries import cell_polygons
from mapserver.districting.redraw import redraw_cells
from mapserver.services.planner import PlannerService
from mapserver.store import open_store

DEFAULT_OSM = Path(__file__).resolve().parents[2] / "shared/realdata/nanjing-xinjiekou.osm"


def _metric(frame: gpd.GeoDataFrame, crs) -> dict:
    return dict(zip(frame["cell_id"], frame.to_crs(crs).geometry, strict=True))


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--osm", default=str(DEFAULT_OSM))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    random.seed(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite"
        assert cli_main(["--database", url, "init", "--osm", args.osm]) == 0
        store = open_store(url)
        planner = PlannerService(store)
        grids = store.read_grids()
        figures: dict[str, dict[str, list]] = {
            m: {"s": [], "changed": [], "gap": []} for m in ("redraw", "voronoi")
        }
        parents = 0
        for parent in sorted(set(grids["parent_id"].dropna())):
            view = planner.parent(parent)
            if view.units != "buildings" or view.children["grid_id"].nunique() < 2:
                continue
            assignment = dict(
                zip(view.buildings["building_id"], view.buildings["grid_id"], strict=True)
            )
            cells = sorted(set(assignment.values()))
            if len(cells) < 2:
                continue
            parents += 1
            moved = random.choice(sorted(assignment))
            assignment[moved] = random.choice([c for c in cells if c != assignment[moved]])
            current = view.children[["grid_id", "geometry"]].rename(columns={"grid_id": "cell_id"})
            roads = planner._roads(view)
            crs = metric_crs(tuple(view.geometry.bounds))
            before = _metric(current, crs)
            area = gpd.GeoSeries([view.geometry], crs=4326).to_crs(crs).iloc[0]
            for method in ("redraw", "voronoi"):
                start = time.perf_counter()
                if method == "redraw":
                    drawn = redraw_cells(
                        view.buildings, assignment, view.geometry, current, roads=roads.geometry
                    )
                else:
                    drawn = cell_polygons(view.buildings, assignment, view.geometry)
                figures[method]["s"].append(time.perf_counter() - start)
                after = _metric(drawn, crs)
                changed = sum(
                    1
                    for c in after
                    if c not in before or shapely.symmetric_difference(before[c], after[c]).area > 1
                )
                union = shapely.union_all(list(after.values()))
                gap = shapely.difference(area, union).area
                overlap = sum(g.area for g in after.values()) - union.area
                figures[method]["changed"].append(changed)
                figures[method]["gap"].append(gap + overlap)
        store.dispose()
    print(f"{parents} parent grids of {Path(args.osm).name}, one building moved in each")
    print("method    median s   worst s   cells redrawn (sum)   gap+overlap m² (sum)")
    for method, f in figures.items():
        print(
            f"{method:8s} {statistics.median(f['s']):9.3f} {max(f['s']):9.3f}"
            f" {sum(f['changed']):21d} {sum(f['gap']):22.2f}"
        )


if __name__ == "__main__":
    main()
