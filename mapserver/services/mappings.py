"""Saved column mappings (how another office's columns read as ours) and the import log."""

from __future__ import annotations

from mapserver.io.mapping import ColumnMapping
from mapserver.store import Store


class ImportRecords:
    """The saved column mappings and the import log of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def mapping(self, name: str) -> ColumnMapping:
        """A saved mapping by name (NotFoundError when there is none)."""
        return ColumnMapping.from_dict(self.store.get_mapping(name)["mapping"])

    def save_mapping(self, name: str, layer: str, mapping: ColumnMapping, *, user: str) -> None:
        """Keep a mapping under a name for the next file of the same office."""
        self.store.save_mapping(name, layer, mapping.to_dict(), user=user)

    def mappings(self) -> list[dict]:
        """Every saved mapping: name, layer, who saved it and when."""
        return self.store.list_mappings()

    def recent(self) -> list[dict]:
        """The latest imports: who, when, which files, merge or replace, rows per layer."""
        return self.store.recent_imports()
