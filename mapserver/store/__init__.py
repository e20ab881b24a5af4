"""Persistence behind one small interface: SQLite file (default) or PostgreSQL/PostGIS."""

from mapserver.model import StatusRow
from mapserver.store.sql import Store, open_store
from mapserver.store.sql_users import User

__all__ = ["StatusRow", "Store", "User", "open_store"]
