"""One change-log follower per server process, shared by every open map's event stream.

Each open map used to poll the database four times a second and pull
``/api/changes`` on every event: 200 maps under 50 writes/s made 800 pulls and
1,600 queries a second. Here one thread per process follows the change log and
publishes a :class:`Tick` at most every ``gap_s`` seconds carrying the coalesced
delta since the previous tick (ids and their new status), computed once for all
streams; each stream waits on it and sends it. No Flask here.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError

from mapserver.services.mapview import MapView

log = logging.getLogger(__name__)

MAX_DELTA_ROWS = 20_000  # behind by more: the event says so and the map pulls /api/changes


@dataclass(frozen=True)
class Tick:
    """What the change log and the delivery log stood at, as published once.

    ``data`` is the JSON text of the change event that brings a map from
    ``since`` to ``seq`` (:meth:`MapView.changes`), or None when the tick moved
    only the delivery marks or the layers, or the map is too far behind for a delta.
    """

    number: int
    seq: int
    stop_seq: int
    since: int = 0
    data: str | None = None
    version: int = 0  # the store's data version: grids or buildings redrawn (a published plan)


class LiveFeed:
    """Follows the store's change log for every stream of one process.

    Parameters
    ----------
    view
        The process's map view (its store is followed).
    poll_s
        Seconds between two looks at the change log (two small queries).
    gap_s
        Least seconds between two published status ticks: writes within the gap
        reach the maps together in one event. Delivery marks are published at once.
    idle_s
        The follower thread ends after this many seconds without a listener.
    """

    def __init__(
        self, view: MapView, *, poll_s: float = 0.25, gap_s: float = 1.0, idle_s: float = 30.0
    ) -> None:
        self.view = view
        self.store = view.store
        self.poll_s = poll_s
        self.gap_s = gap_s
        self.idle_s = idle_s
        self._cond = threading.Condition()
        self._tick: Tick | None = None
        self._thread: threading.Thread | None = None
        self._last_use = time.monotonic()

    def current(self) -> Tick:
        """The latest tick (starting the follower thread when it is not running)."""
        with self._cond:
            self._last_use = time.monotonic()
            if self._tick is None:
                seq = self.store.last_seq()
                version = self.store.data_version()
                self._tick = Tick(0, seq, self.store.last_stop_event(), since=seq, version=version)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._follow, name="mapserver-livefeed", daemon=True
                )
                self._thread.start()
            return self._tick

    def _follow(self) -> None:
        published_at = 0.0
        while True:
            time.sleep(self.poll_s)
            with self._cond:
                if time.monotonic() - self._last_use > self.idle_s:
                    self._thread = None
                    return
                tick = self._tick
            try:
                seq, stop_seq = self.store.last_seq(), self.store.last_stop_event()
                version = self.store.data_version()
                moved = seq != tick.seq and time.monotonic() - published_at >= self.gap_s
                if not moved and stop_seq == tick.stop_seq and version == tick.version:
                    continue
                if moved:
                    new = self._status_tick(tick, stop_seq, version)
                    published_at = time.monotonic()
                else:  # a delivery mark or new layers: the status stays where it was
                    new = Tick(tick.number + 1, tick.seq, stop_seq, since=tick.seq, version=version)
            except OperationalError as err:  # database away for a moment: look again later
                log.warning("live feed: %s", err)
                continue
            with self._cond:
                self._tick = new
                self._cond.notify_all()

    def _status_tick(self, tick: Tick, stop_seq: int, version: int) -> Tick:
        """The next tick with the delta after the last one, computed once for every stream."""
        since = tick.seq
        if self.store.last_seq() - since > MAX_DELTA_ROWS:
            seq = self.store.last_seq()
            return Tick(tick.number + 1, seq, stop_seq, since=since, version=version)
        data = self.view.changes(since)
        text = json.dumps(data, ensure_ascii=False, allow_nan=False)
        return Tick(
            tick.number + 1, int(data["seq"]), stop_seq, since=since, data=text, version=version
        )

    def wait(self, after: Tick, timeout: float) -> Tick:
        """Block until a tick newer than ``after`` is published, or ``timeout`` seconds;
        return the latest tick (``after`` itself on time-out)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._tick is not None and self._tick.number == after.number:
                self._last_use = time.monotonic()
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 5.0))
            self._last_use = time.monotonic()
            return self._tick or after

    @staticmethod
    def event_data(tick: Tick, last_seq: int) -> str:
        """The data of the change event for a stream whose map is at ``last_seq``: the
        tick's delta when it covers everything after ``last_seq``, else only ``seq``
        and ``since`` (the map then pulls ``/api/changes`` itself)."""
        if tick.data is not None and tick.since <= last_seq:
            return tick.data
        return json.dumps({"seq": tick.seq, "since": last_seq})
