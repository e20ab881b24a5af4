"""Benchmark: time of a login POST for a known user (wrong password) and an unknown user.

Run: python bench/login_timing.py [--tries 10]
Prints the median and spread of each; asserts nothing. Before issue 12 an unknown
username answered in ~4 ms against 118-214 ms for a known one, which told usernames apart.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mapserver.web import create_app


def _time_login(client, username: str) -> float:
    """Seconds one login POST (with the page's CSRF token) takes, the page not counted."""
    client.get("/login")
    with client.session_transaction() as session:
        csrf = session["csrf"]
    start = time.perf_counter()
    response = client.post("/login", data={"username": username, "password": "wrong", "csrf": csrf})
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.status_code
    return elapsed


def main() -> None:
    """Print login times for a known and an unknown username."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tries", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "database_url": f"sqlite:///{folder}/login.sqlite",
                # no lock while measuring: more failures than tries
                "login_max_failures": 10 * args.tries,
                "login_max_failures_per_address": 10 * args.tries,
            }
        )
        app.extensions["store"].create_user("known", "right password", role="admin")
        _time_login(app.test_client(), "warm-up")
        for name in ("known", "unknown"):
            times = [_time_login(app.test_client(), name) for _ in range(args.tries)]
            print(
                f"{name:8s} user: median {statistics.median(times) * 1000:6.1f} ms  "
                f"min {min(times) * 1000:6.1f}  max {max(times) * 1000:6.1f}  ({args.tries} tries)"
            )
        app.extensions["store"].dispose()


if __name__ == "__main__":
    main()
