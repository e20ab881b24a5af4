"""Long work as jobs: the request gets a job id at once; a worker thread runs the solve and
stores progress and the result in the store, so any server process can report on it."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from mapserver.errors import ValidationError
from mapserver.store import Store, audit

Progress = Callable[[float], None]
JobFunction = Callable[[Progress], dict]


class JobQueueFull(RuntimeError):
    """A job refused now: its user already has one running, or the queue is full.

    ``key`` names the message in the translation table, ``values`` fills it in.
    """

    code = "too_many_jobs"

    def __init__(self, key: str, **values: object) -> None:
        self.key = key
        self.values = values
        super().__init__(f"{key}: {values}")


class JobRunner:
    """Run job functions on a small thread pool, recording state in the store.

    Parameters
    ----------
    store
        Where jobs are recorded (``jobs`` table).
    workers
        Threads; solves are CPU-bound, so keep this near the number of cores.
    max_queue
        Jobs waiting or running at once in this process; more raise JobQueueFull.
    """

    def __init__(self, store: Store, *, workers: int = 2, max_queue: int = 8) -> None:
        self.store = store
        self.max_queue = max_queue
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mapserver-job")
        self._lock = threading.Lock()
        self._pending = 0
        self._users: set[str] = set()

    def submit(self, kind: str, params: dict, func: JobFunction, *, user: str | None = None) -> str:
        """Record a job and start it; returns the job id at once.

        ``func(progress)`` returns a JSON-ready dict (the result) and may call
        ``progress(fraction)`` as it goes. A ValidationError or ValueError marks the
        job failed with its message; other exceptions too, with the traceback's last line.
        A ``user`` with a job still waiting or running, or a full queue, raises
        JobQueueFull and records nothing.
        """
        with self._lock:
            if user is not None and user in self._users:
                raise JobQueueFull("job_running", user=user)
            if self._pending >= self.max_queue:
                raise JobQueueFull("job_queue_full", count=self._pending)
            self._pending += 1
            if user is not None:
                self._users.add(user)
        try:
            job_id = self.store.create_job(kind, params)
            future = self._pool.submit(audit.carry(self._run), job_id, func)
        except BaseException:
            self._release(user)
            raise
        future.add_done_callback(lambda _: self._release(user))
        return job_id

    def _release(self, user: str | None) -> None:
        with self._lock:
            self._pending -= 1
            self._users.discard(user)  # type: ignore[arg-type]

    def _run(self, job_id: str, func: JobFunction) -> None:
        self.store.update_job(job_id, state="running", progress=0.0)

        def progress(fraction: float) -> None:
            self.store.update_job(job_id, progress=max(0.0, min(1.0, float(fraction))))

        try:
            result = func(progress)
        except (ValidationError, ValueError) as err:
            self.store.update_job(job_id, state="failed", error=str(err))
        except Exception as err:  # a solver crash must still end the job visibly
            last = traceback.format_exception_only(type(err), err)[-1].strip()
            self.store.update_job(job_id, state="failed", error=last)
        else:
            self.store.update_job(job_id, state="done", progress=1.0, result=result)

    def shutdown(self) -> None:
        """Stop taking jobs and wait for running ones."""
        self._pool.shutdown(wait=True)
