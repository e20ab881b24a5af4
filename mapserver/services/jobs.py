"""Long work as jobs: the request gets a job id at once; a worker thread runs the solve and
stores progress and the result in the store, so any server process can report on it."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from mapserver.errors import ValidationError
from mapserver.store import Store

Progress = Callable[[float], None]
JobFunction = Callable[[Progress], dict]


class JobRunner:
    """Run job functions on a small thread pool, recording state in the store.

    Parameters
    ----------
    store
        Where jobs are recorded (``jobs`` table).
    workers
        Threads; solves are CPU-bound, so keep this near the number of cores.
    """

    def __init__(self, store: Store, *, workers: int = 2) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mapserver-job")
        self._lock = threading.Lock()

    def submit(self, kind: str, params: dict, func: JobFunction) -> str:
        """Record a job and start it; returns the job id at once.

        ``func(progress)`` returns a JSON-ready dict (the result) and may call
        ``progress(fraction)`` as it goes. A ValidationError or ValueError marks the
        job failed with its message; other exceptions too, with the traceback's last line.
        """
        job_id = self.store.create_job(kind, params)
        self._pool.submit(self._run, job_id, func)
        return job_id

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
