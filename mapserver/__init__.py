"""mapserver: a map server for community grid management (网格化管理)."""

__version__ = "0.1.0"
