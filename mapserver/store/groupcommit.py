"""Group commit: status writes that arrive together share one transaction.

Under many writes a second every transaction pays the same fixed costs (the
write lock, the change-log sequence, the commit), and on SQLite the writers of
all server processes queue for one lock. Here the first writer of a process to
arrive leads: it takes every write queued behind it (at most ``max_batch``) and
commits them together; each caller still gets its own sequence numbers, its own
audit row and its own answer (or its own validation error). The next queued
writer leads the next batch. Alone, a write is its own batch of one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mapserver.store import audit


@dataclass
class PendingWrite:
    """One caller's status rows waiting for a batch."""

    rows: Sequence
    user: str
    source: str
    context: audit.AuditContext  # who and from where, for this write's audit row
    result: int | None = None
    error: BaseException | None = None
    lead: bool = False
    _woken: threading.Event = field(default_factory=threading.Event, repr=False)


class GroupCommit:
    """Batches concurrent writes of one process.

    Parameters
    ----------
    commit
        Writes a batch in one transaction and sets each write's ``result`` or
        ``error`` (an exception it raises fails every write of the batch).
    max_batch
        Most writes committed together.
    """

    def __init__(
        self, commit: Callable[[list[PendingWrite]], None], *, max_batch: int = 200
    ) -> None:
        self._commit = commit
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[PendingWrite] = []
        self._busy = False

    def submit(self, rows: Sequence, *, user: str, source: str) -> int:
        """Write ``rows`` in the next batch; return their last sequence number (or raise
        the write's own error)."""
        write = PendingWrite(rows=rows, user=user, source=source, context=audit.snapshot())
        with self._lock:
            self._queue.append(write)
            if not self._busy:
                self._busy = True
                write.lead = True
        if not write.lead:
            write._woken.wait()  # done by a leader, or made the next leader
        if write.lead and write.result is None and write.error is None:
            self._lead()
        if write.error is not None:
            raise write.error
        assert write.result is not None
        return write.result

    def _lead(self) -> None:
        with self._lock:
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
        try:
            self._commit(batch)
        except BaseException as err:  # the transaction failed: every write of it did
            for write in batch:
                if write.result is None and write.error is None:
                    write.error = err
        finally:
            with self._lock:
                if self._queue:  # hand the lead to the first write queued meanwhile
                    self._queue[0].lead = True
                    self._queue[0]._woken.set()
                else:
                    self._busy = False
            for write in batch:
                if write.result is None and write.error is None:
                    write.error = RuntimeError("status write was not committed")
                write._woken.set()
