"""Jobs: a solve runs in the background; state, progress and result land in the store."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from mapserver.services.jobs import CRASHED, OVER_TIME, JobRunner, JobWork
from mapserver.store import open_store


def _wait(store, job_id: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = store.get_job(job_id)
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish")


def test_job_result_progress_and_failure(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    runner = JobRunner(store)
    seen: list[float] = []
    submitted = threading.Event()  # the worker may start before submit() returns the id

    def work(progress):
        submitted.wait(10)
        for i in range(1, 4):
            progress(i / 4)
            seen.append(store.get_job(job_id)["progress"])
        return {"answer": 42}

    job_id = runner.submit("test", {"n": 3}, work)
    submitted.set()
    job = _wait(store, job_id)
    assert job["state"] == "done" and job["result"] == {"answer": 42} and job["progress"] == 1.0
    assert seen == [0.25, 0.5, 0.75]

    def broken(progress):
        msg = "stop 'S-9' cannot be reached"
        raise ValueError(msg)

    failed = _wait(store, runner.submit("test", {}, broken))
    assert failed["state"] == "failed" and "S-9" in failed["error"]
    runner.shutdown()
    store.dispose()


def test_job_endpoint(viewer, app):
    client = viewer  # reading a job needs a login
    job_id = app.extensions["jobs"].submit("test", {}, lambda progress: {"ok": True})
    _wait(app.extensions["store"], job_id)
    assert client.get(f"/api/jobs/{job_id}").get_json()["result"] == {"ok": True}
    assert client.get("/api/jobs/nope").status_code == 404


# Work of the job processes below: module-level, as a job process finds its function by name.
def _answer(store, progress, *, value):
    progress(0.5)
    return {"answer": value, "pid": os.getpid(), "grids": len(store.read_grids())}


def _sleep(store, progress, *, seconds, pid_file):
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(seconds)
    return {"woke": True}


def _die(store, progress):
    os._exit(3)


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_job_runs_in_a_process_of_its_own_and_is_stopped_at_its_limit(store_url, tmp_path):
    store = open_store(store_url)
    runner = JobRunner(store)
    done = _wait(store, runner.submit("test", {}, JobWork(_answer, {"value": 42})), 60)
    assert done["state"] == "done" and done["result"]["answer"] == 42
    assert done["result"]["pid"] != os.getpid()  # not this process
    assert done["result"]["grids"] == 0  # it read the same (empty) store

    pid_file = tmp_path / "pid"
    work = JobWork(_sleep, {"seconds": 600, "pid_file": str(pid_file)}, limit_s=1.0)
    started = time.monotonic()
    stopped = _wait(store, runner.submit("test", {}, work), 60)
    assert time.monotonic() - started < 30  # not the 600 s it asked for
    assert stopped["state"] == "failed" and "time limit" in stopped["error"]
    assert stopped["result"] == {"error_key": OVER_TIME, "limit_s": 1.0}
    assert _gone(int(pid_file.read_text()))  # the solver's process is gone, not left running

    died = _wait(store, runner.submit("test", {}, JobWork(_die)), 60)
    assert died["state"] == "failed" and died["result"]["error_key"] == CRASHED
    runner.shutdown()
    store.dispose()


def test_an_over_time_job_is_reported_in_the_users_language(app, viewer, tmp_path):
    work = JobWork(_sleep, {"seconds": 600, "pid_file": str(tmp_path / "pid")}, limit_s=0.5)
    job_id = app.extensions["jobs"].submit("test", {}, work)
    _wait(app.extensions["store"], job_id, 60)
    assert "超过时限" in viewer.get(f"/api/jobs/{job_id}").get_json()["error"]
    assert "time limit" in viewer.get(f"/api/jobs/{job_id}?lang=en").get_json()["error"]
