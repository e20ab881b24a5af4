"""Gap to best-known of PyVRP and OR-Tools on CVRP X instances, through mapserver's backends."""

# Usage: python bench/vrp_gap.py [--limits 10,60] [--instances N] [--dir PATH]
# Distances are Euclidean rounded to the nearest integer, as the X instances define.
# Each instance gets the best-known solution's route count + 2 identical vehicles.

from __future__ import annotations

import argparse
import re
import sys
import time
from itertools import pairwise
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mapserver.routing.plan import Vehicle
from mapserver.routing.stops import Drop, Stop
from mapserver.routing.vrp import _Problem, _solve_ortools, _solve_pyvrp

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "vrp" / "cvrp"
_BIG_S = 10**9


def customers(path: Path) -> int:
    """Customer count from an X instance name (``X-n101-k25``: 100 customers)."""
    return int(re.search(r"-n(\d+)-", path.name).group(1)) - 1


def problem(instance: dict, n_vehicles: int) -> _Problem:
    """The instance as the solver backends' problem: node ids ``c0`` (depot) .. ``cN``."""
    xy = np.asarray(instance["node_coord"], dtype=float)
    dist = np.rint(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))).astype(np.int64)
    depot = int(np.atleast_1d(instance["depot"])[0])
    ids = [f"c{i}" for i in range(len(xy))]
    demand = np.asarray(instance["demand"], dtype=int)
    stops = tuple(
        Stop(ids[i], ids[i], int(demand[i]), (Drop(None, int(demand[i]), "food", ids[i], ""),))
        for i in range(len(xy))
        if i != depot
    )
    cap = int(instance["capacity"])
    vehicles = tuple(
        Vehicle(f"v-{k}", "v", cap, 3.6, ids[depot], ids[depot], 0, _BIG_S, _BIG_S)
        for k in range(n_vehicles)
    )
    return _Problem(
        stops,
        vehicles,
        tuple(ids),
        {n: i for i, n in enumerate(ids)},
        dist.astype(float),
        dist,
        {3.6: np.zeros_like(dist)},
    )


def cost(p: _Problem, routes: list[tuple[int, list[int]]]) -> int:
    """Total integer distance of the routes."""
    total = 0
    for k, seq in routes:
        path = [
            p.vehicles[k].start_node,
            *(p.stops[i].node_id for i in seq),
            p.vehicles[k].end_node,
        ]
        total += sum(int(p.dist[p.loc[a], p.loc[b]]) for a, b in pairwise(path))
    return total


def main() -> None:
    """Print the gap table."""
    import vrplib

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--limits", default="10,60", help="time limits in seconds, comma-separated")
    ap.add_argument(
        "--instances", type=int, default=None, help="first N instances (≤300 customers)"
    )
    ap.add_argument("--max-customers", type=int, default=300)
    args = ap.parse_args()
    if not args.dir.is_dir() or not any(args.dir.glob("X-*.vrp")):
        print(
            f"no CVRP instances (X-*.vrp with .sol beside them) at {args.dir}.\n"
            "They are not in this repository: the X set of Uchoa et al. (2017) is published at\n"
            "  http://vrp.galgos.inf.puc-rio.br/index.php/en/ (CVRPLIB) and, with solutions,\n"
            "  in the PyVRP/VRPLIB repository under tests/data/cvrplib/.\n"
            "Put the .vrp and .sol files in one folder and pass it: --dir PATH "
            f"(default: {DEFAULT_DIR}, a folder beside the clone).",
            file=sys.stderr,
        )
        sys.exit(2)
    limits = [float(x) for x in args.limits.split(",") if x]
    paths = sorted(
        (p for p in args.dir.glob("X-*.vrp") if customers(p) <= args.max_customers),
        key=customers,
    )[: args.instances]
    head = ["instance", "n", "best"]
    head += [f"pyvrp {t:g}s %" for t in limits] + [f"ortools {t:g}s %" for t in limits]
    print(" | ".join(head))
    gaps: dict[tuple[str, float], list[float]] = {}
    started = time.perf_counter()
    for path in paths:
        inst = vrplib.read_instance(str(path))
        bks = vrplib.read_solution(str(path.with_suffix(".sol")))
        p = problem(inst, len(bks["routes"]) + 2)
        row = [path.stem, str(len(p.stops)), str(int(bks["cost"]))]
        for name, backend in (("pyvrp", _solve_pyvrp), ("ortools", _solve_ortools)):
            for t in limits:
                try:
                    got = cost(p, backend(p, t, 1))
                    gap = 100.0 * (got - bks["cost"]) / bks["cost"]
                    gaps.setdefault((name, t), []).append(gap)
                    row.append(f"{gap:.2f}")
                except ValueError:
                    row.append("fail")
        print(" | ".join(row), flush=True)
    print()
    for t in limits:
        py = np.mean(gaps.get(("pyvrp", t), [np.nan]))
        ort = np.mean(gaps.get(("ortools", t), [np.nan]))
        ratio = ort / py if py > 0 else float("inf")
        print(f"limit {t:g} s: mean gap pyvrp {py:.2f} %, ortools {ort:.2f} %, ratio {ratio:.1f}x")
    print(f"({len(paths)} instances, {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
