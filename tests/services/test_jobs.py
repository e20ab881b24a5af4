"""Jobs: a solve runs in the background; state, progress and result land in the store."""

from __future__ import annotations

import threading
import time

from mapserver.services.jobs import JobRunner
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
