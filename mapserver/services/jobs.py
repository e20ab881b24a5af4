"""Long work as jobs: the request gets a job id at once; the solve runs in a process of its
own, stopped when its time is up, and stores progress and the result in the store, so any
server process can report on it.

A job's process is forked from a small server process that has imported the solvers once
(multiprocessing's "forkserver": never a fork of a threaded web worker), and opens its
own connections to the store. The web worker's thread only waits for it: a job that
overruns its wall-clock limit is terminated (then killed) and marked failed, and a
solver that crashes takes only its own process down. An in-memory store cannot be
reached from another process: its jobs run in the thread, without the hard limit.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import sqlalchemy as sa

from mapserver.errors import NotFoundError, ValidationError
from mapserver.store import Store, audit

Progress = Callable[[float], None]
JobFunction = Callable[[Progress], dict]
STOP_GRACE_S = 3.0  # after SIGTERM, seconds before SIGKILL
SETUP_S = 60.0  # a job's allowance beyond its solve time: loading its area, saving the plan
OVER_TIME = "job_over_time"  # result["error_key"] of a job stopped at its limit
CRASHED = "job_crashed"  # result["error_key"] of a job whose process died


@dataclass(frozen=True)
class JobWork:
    """A job's work, run in a process of its own and stopped after ``limit_s`` seconds.

    ``func(store, progress, **kwargs)`` must be a module-level function (the process
    finds it by name, see :mod:`mapserver.services.jobwork`) and ``kwargs`` must pickle;
    it returns the job's JSON-ready result.
    """

    func: Callable[..., dict]
    kwargs: Mapping[str, object] = field(default_factory=dict)
    limit_s: float = 120.0


def _forkserver() -> multiprocessing.context.BaseContext:
    """The process context of jobs: a fork server that imported the solvers once."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["mapserver.services.jobwork"])
    return context


def _in_memory(url: str) -> bool:
    parsed = sa.make_url(url)
    database = parsed.database or ""
    return parsed.get_backend_name() == "sqlite" and (
        database in ("", ":memory:") or "mode=memory" in database
    )


@dataclass(frozen=True)
class _Outcome:
    """How a job ended: state "done" with its result, or "failed" with the reason."""

    state: str
    result: dict | None = None
    error: str | None = None


def _outcome(func: Callable[[], dict]) -> _Outcome:
    """Run a job's work and say how it ended (an exception becomes a failed outcome)."""
    try:
        return _Outcome("done", result=func())
    except (ValidationError, ValueError) as err:
        return _Outcome("failed", error=str(err))
    except Exception as err:  # a solver crash must still end the job visibly
        return _Outcome("failed", error=traceback.format_exception_only(type(err), err)[-1].strip())


def _progress(store: Store, job_id: str) -> Progress:
    """The ``progress(fraction)`` callback of a job: the fraction, clamped, into the store."""

    def progress(fraction: float) -> None:
        store.update_job(job_id, progress=max(0.0, min(1.0, float(fraction))))

    return progress


def _job_process(
    url: str, job_id: str, work: JobWork, address: str | None, actor: str | None, answer
) -> None:
    """Entry point of a job's process: its own store and the request's audit context; the
    outcome goes back through ``answer`` (the web worker records it)."""
    store = Store(url, pool_size=2)
    try:
        with audit.bound(audit.AuditContext(address=address, actor=lambda: actor)):
            progress = _progress(store, job_id)
            answer.send(_outcome(lambda: work.func(store, progress, **work.kwargs)))
    finally:
        answer.close()
        store.dispose()


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

    def submit(
        self, kind: str, params: dict, work: JobWork | JobFunction, *, user: str | None = None
    ) -> str:
        """Record a job and start it; returns the job id at once.

        ``work`` is a :class:`JobWork` (run in a process of its own, stopped at its
        limit), or ``func(progress)`` run in a thread of this process (no hard limit).
        Either returns a JSON-ready dict (the result) and may call ``progress(fraction)``
        as it goes. A ValidationError or ValueError marks the job failed with its
        message; other exceptions too, with the traceback's last line. A ``user`` with a
        job still waiting or running, or a full queue, raises JobQueueFull and records
        nothing; their slot is free again before the job is seen done or failed.
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
            self._pool.submit(audit.carry(self._run), job_id, work, user)
        except BaseException:
            self._release(user)
            raise
        return job_id

    def _release(self, user: str | None) -> None:
        with self._lock:
            self._pending -= 1
            self._users.discard(user)  # type: ignore[arg-type]

    def _run(self, job_id: str, work: JobWork | JobFunction, user: str | None) -> None:
        """Run a job, free its user's slot, then record how it ended."""
        try:
            self.store.update_job(job_id, state="running", progress=0.0)
            progress = _progress(self.store, job_id)
            if not isinstance(work, JobWork):
                ended = _outcome(lambda: work(progress))
            elif _in_memory(self.store.url):
                ended = _outcome(lambda: work.func(self.store, progress, **work.kwargs))
            else:
                ended = self._run_process(job_id, work)
        finally:
            self._release(user)
        done = ended.state == "done"
        self.store.update_job(
            job_id,
            state=ended.state,
            progress=1.0 if done else None,
            result=ended.result,
            error=ended.error,
        )

    def _run_process(self, job_id: str, work: JobWork) -> _Outcome:
        """Run ``work`` in a job process; stop it at its limit; say how it ended."""
        context = _forkserver()
        answer, sender = context.Pipe(duplex=False)
        who = audit.current()
        process = context.Process(
            target=_job_process,
            args=(self.store.url, job_id, work, who.address, who.actor_name(), sender),
            name=f"mapserver-job-{job_id}",
            daemon=True,
        )
        process.start()
        sender.close()  # this end belongs to the job process now
        try:
            if answer.poll(work.limit_s):
                with contextlib.suppress(EOFError):  # died before answering: crashed
                    return answer.recv()
            else:
                process.terminate()
                process.join(STOP_GRACE_S)
                if process.is_alive():
                    process.kill()
                return _Outcome(
                    "failed",
                    result={"error_key": OVER_TIME, "limit_s": work.limit_s},
                    error=f"stopped after its time limit of {work.limit_s:g} s",
                )
        finally:
            answer.close()
            process.join()
        return _Outcome(
            "failed",
            result={"error_key": CRASHED, "exit_code": process.exitcode},
            error=f"the solver stopped unexpectedly (exit code {process.exitcode})",
        )

    def get(self, job_id: str) -> dict:
        """A job's state, progress (0..1) and result (NotFoundError when unknown)."""
        found = self.store.get_job(job_id)
        if found is None:
            raise NotFoundError(f"job '{job_id}' not found")
        return found

    def shutdown(self) -> None:
        """Stop taking jobs and wait for running ones."""
        self._pool.shutdown(wait=True)
