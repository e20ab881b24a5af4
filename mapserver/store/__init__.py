"""Persistence behind one small interface: SQLite file (default) or PostgreSQL/PostGIS."""

from mapserver.store.sql import StatusRow, Store, User, open_store

__all__ = ["StatusRow", "Store", "User", "open_store"]
