"""Benchmark: balanced delivery routes against the plan that minimises metres only, on the
demo district (and a larger one): the longest route's time against the mean route time,
and the kilometres each plan drives. Prints figures; asserts nothing.

Run: python bench/delivery_balance.py [--scales 1 3] [--seconds 6]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mapserver.demo import generate_demo
from mapserver.services.delivery import DeliveryRequest, DeliveryService
from mapserver.store import open_store


def _figures(service: DeliveryService, plan_id: str) -> dict:
    routes = [r for r in service.get(plan_id)["plan"]["routes"] if r["stops"]]
    durations = [r["duration_s"] for r in routes]
    mean = sum(durations) / len(durations)
    return {
        "routes": len(routes),
        "stops": [len(r["stops"]) for r in routes],
        "longest_min": max(durations) / 60,
        "mean_min": mean / 60,
        "ratio": max(durations) / mean,
        "km": sum(r["distance_m"] for r in routes) / 1000,
    }


def main() -> int:
    """Plan the red households' run both ways on each district and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="+", type=float, default=[1.0, 3.0])
    parser.add_argument("--seconds", type=float, default=6.0, help="solve time of each plan")
    args = parser.parse_args()
    for scale in args.scales:
        work = Path(tempfile.mkdtemp(prefix="bench-balance-"))
        store = open_store(f"sqlite:///{work / 'store.sqlite'}")
        store.import_layers(generate_demo(seed=2020, scale=scale), user="bench")
        service = DeliveryService(store)
        print(f"district x{scale:g}: red households, 4 vans and 3 tricycles, {args.seconds:g} s")
        found = {}
        for balanced in (False, True):
            request = DeliveryRequest(
                statuses=("red",), time_limit_s=args.seconds, balanced=balanced, trips=3
            )
            started = time.perf_counter()
            plan_id = service.plan(request, user="bench")
            took = time.perf_counter() - started
            f = found[balanced] = _figures(service, plan_id)
            label = "balanced" if balanced else "metres only"
            print(
                f"  {label:<12} {took:5.1f} s  routes {f['routes']}  stops {f['stops']}  "
                f"longest {f['longest_min']:5.1f} min  mean {f['mean_min']:5.1f} min  "
                f"longest/mean {f['ratio']:4.2f}  {f['km']:6.1f} km"
            )
        shorter = found[True]["longest_min"] / found[False]["longest_min"]
        longer = found[True]["km"] / found[False]["km"]
        print(f"  balanced vs metres only: longest route x{shorter:.2f}, distance x{longer:.2f}")
        store.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
