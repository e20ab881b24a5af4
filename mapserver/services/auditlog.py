"""The audit log as an admin reads it: pages of rows by filter, and every row for export."""

from __future__ import annotations

from collections.abc import Iterator

from mapserver.store import Store
from mapserver.store.audit import AuditFilter


class AuditLog:
    """Reading the audit rows of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def page(self, where: AuditFilter, *, limit: int, before: int | None = None) -> list[dict]:
        """The newest rows matching ``where`` below sequence ``before``, at most ``limit``
        (ValueError naming a date or time that is not one)."""
        return self.store.read_audit(where, limit=limit, before=before)

    def check(self, where: AuditFilter) -> None:
        """Refuse a filter whose dates cannot be read, before any row is sent."""
        self.store.read_audit(where, limit=1)

    def rows(self, where: AuditFilter) -> Iterator[dict]:
        """Every row matching ``where``, oldest first, read in batches."""
        return self.store.iter_audit(where)
