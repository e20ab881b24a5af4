"""Micro-grid proposals at scale: our planner against spopt's max-p regionalisation.

Run: ``python bench/districting_scale.py``. On the demo's first neighbourhood
(海欣居民区) and a generated 10,000-building parent, prints per method the time,
the number of grids, min / max / standard deviation of households per grid and
the share of grids within the 20-30 household target. Max-p
(``spopt.region.MaxPHeuristic``) gets the same neighbour graph (libpysal W from
our adjacency), building coordinates as its attributes (compactness) and the
target minimum as its threshold; it has no upper bound. Its construction and
annealing iterations are cut (see MAXP_OPTIONS) to keep the run in minutes.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from mapserver.demo import generate_demo
from mapserver.demo.synthetic import synthetic_parent
from mapserver.districting._common import building_points, metric_crs_of
from mapserver.districting.adjacency import barrier_lines, building_adjacency
from mapserver.districting.partition import propose_partition
from mapserver.districting.target import MICRO

MAXP_OPTIONS = {"top_n": 2, "max_iterations_construction": 5, "max_iterations_sa": 2}


def _demo_case():
    layers = generate_demo()
    grids, buildings = layers["grids"], layers["buildings"]
    parent_of = dict(zip(grids["grid_id"], grids["parent_id"], strict=True))
    level = dict(zip(grids["grid_id"], grids["level"], strict=True))

    def community(gid):
        while gid and level.get(gid) != "community":
            gid = parent_of.get(gid)
        return gid

    mask = [community(g) == "SD01-C01" for g in buildings["grid_id"]]
    parent = grids.set_index("grid_id").geometry["SD01-C01"]
    return buildings[mask].reset_index(drop=True), parent, barrier_lines(layers["road_edges"])


def _row(name, method, n, seconds, sizes):
    sizes = np.asarray(sizes, dtype=float)
    inside = np.mean((sizes >= MICRO.minimum) & (sizes <= MICRO.maximum))
    print(
        f"{name:<22} {method:<8} {n:>9} {seconds:>8.2f} {len(sizes):>6} {sizes.min():>5.0f} "
        f"{sizes.max():>5.0f} {sizes.std():>6.2f} {100 * inside:>7.1f}%"
    )
    return inside


def _maxp(buildings, parent, barriers):
    from libpysal.weights import WSP
    from spopt.region import MaxPHeuristic

    households = buildings["households"].to_numpy()
    adj = building_adjacency(
        buildings, parent, barriers=barriers, weights=households, min_component=MICRO.minimum
    )
    xy = building_points(buildings, metric_crs_of(parent, buildings))
    frame = buildings.assign(x=xy[:, 0], y=xy[:, 1])
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weights = WSP(adj.astype(float)).to_W(silence_warnings=True)
        model = MaxPHeuristic(
            frame, weights, ["x", "y"], "households", MICRO.minimum, **MAXP_OPTIONS
        )
        model.solve()
    seconds = time.perf_counter() - start
    labels = np.asarray(model.labels_)
    sizes = np.bincount(labels, weights=households)[np.unique(labels)]
    return seconds, sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=10_000)
    parser.add_argument("--no-maxp", action="store_true", help="skip spopt max-p")
    args = parser.parse_args()
    cases = [("demo 海欣居民区", *_demo_case())]
    buildings, parent, roads = synthetic_parent(args.buildings)
    cases.append((f"generated {args.buildings:,}", buildings, parent, barrier_lines(roads)))
    print(f"target {MICRO}")
    head = f"{'data':<22} {'method':<8} {'buildings':>9} {'time s':>8} {'grids':>6}"
    print(f"{head} {'min':>5} {'max':>5} {'std':>6} {'within':>8}")
    for name, buildings, parent, barriers in cases:
        start = time.perf_counter()
        plan = propose_partition(buildings, parent, barriers=barriers)
        seconds = time.perf_counter() - start
        _row(name, "ours", len(buildings), seconds, [c.households for c in plan.cells])
        if not args.no_maxp:
            seconds, sizes = _maxp(buildings, parent, barriers)
            _row(name, "max-p", len(buildings), seconds, sizes)


if __name__ == "__main__":
    main()
