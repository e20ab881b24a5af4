"""A bounded, thread-safe cache of the most recently used entries: the one kind of cache a
worker keeps of anything that grows with the district (features, statuses), so its memory
does not grow with the buildings its maps have shown."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Iterator

TEXTS_KEPT = 200_000  # default bound: entries kept, most recently used first


class Recent:
    """A dict-like cache keeping its ``limit`` most recently used entries."""

    def __init__(self, limit: int = TEXTS_KEPT) -> None:
        self.limit = limit
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator:
        with self._lock:
            return iter(list(self._items))

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def get(self, key: Hashable, default=None):
        """The value of ``key`` (now the most recent), or ``default``."""
        with self._lock:
            try:
                self._items.move_to_end(key)
            except KeyError:
                return default
            return self._items[key]

    def __setitem__(self, key: Hashable, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def copy_without(self, dropped: Iterable[Hashable]) -> Recent:
        """A new cache with the same bound and entries, less those keyed ``dropped``."""
        fresh = Recent(self.limit)
        with self._lock:
            fresh._items = OrderedDict(self._items)
        for key in dropped:
            fresh._items.pop(key, None)
        return fresh
