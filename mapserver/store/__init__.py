"""Persistence behind one small interface: SQLite file (default) or PostgreSQL/PostGIS."""

from mapserver.model import StatusRow
from mapserver.store.sql import Store, User, open_store

__all__ = ["StatusRow", "Store", "User", "open_store"]
