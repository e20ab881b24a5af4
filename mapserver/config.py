"""Settings, read once from the environment with defaults; nothing else reads os.environ."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _share_dir(name: str) -> Path:
    """Return a top-level project folder (templates, static, geodata), editable or installed."""
    source = PACKAGE_DIR.parent / name
    if source.is_dir():
        return source
    return PACKAGE_DIR / "_share" / name


TEMPLATES_DIR = _share_dir("templates")
STATIC_DIR = _share_dir("static")
GEODATA_DIR = _share_dir("geodata")
SCHEMES_DIR = GEODATA_DIR / "schemes"
DEFAULT_DEMO_DIR = PACKAGE_DIR.parent / "geodata" / "demo"


@dataclass(frozen=True)
class Settings:
    """All runtime settings of the server and the command line.

    Attributes
    ----------
    database_url
        SQLAlchemy URL: ``sqlite:///path`` (embedded default) or
        ``postgresql+psycopg://...`` (PostGIS).
    secret_key
        Flask session secret.
    scheme
        Name of the status scheme in ``geodata/schemes`` used for colours.
    colour_rule
        ``worst`` (worst status present) or ``share`` (share thresholds).
    basemap
        ``none`` (our own roads and buildings), ``osm`` or ``gaode`` (GCJ-02 shift).
    language
        Default UI language, ``zh`` or ``en``.
    anonymous_read
        Let clients without a login read grid counts (small counts suppressed);
        ``MAPSERVER_ANONYMOUS_READ=1``. Off by default; the demo turns it on.
    max_request_mb
        Largest request body (uploads included), megabytes; larger ones get 413.
    max_upload_rows
        Data rows (table rows or features) per uploaded file.
    max_expanded_mb
        Largest uncompressed size of an uploaded zip or XLSX, megabytes.
    max_job_time_s
        Longest solve a job may ask for, seconds (longer requests are clamped).
    max_vehicles
        Vehicles of each kind a delivery request may ask for.
    max_stops
        Orders a delivery request may carry.
    job_queue
        Jobs waiting or running at once (beyond: 429); one running job per user.
    """

    database_url: str = "sqlite:///instance/mapserver.sqlite"
    secret_key: str = "dev-secret-change-me"
    scheme: str = "hongkou6"
    colour_rule: str = "worst"
    share_threshold: float = 0.1
    basemap: str = "none"
    language: str = "zh"
    poll_interval_s: float = 0.25
    anonymous_read: bool = False
    max_request_mb: float = 100.0
    max_upload_rows: int = 2_000_000
    max_expanded_mb: float = 1024.0
    max_job_time_s: float = 120.0
    max_vehicles: int = 200
    max_stops: int = 5_000
    job_queue: int = 8
    extra: dict = field(default_factory=dict)


# Limit settings read from MAPSERVER_<NAME> (e.g. MAPSERVER_MAX_REQUEST_MB=50), with their types.
_LIMIT_SETTINGS: dict[str, type] = {
    "max_request_mb": float,
    "max_upload_rows": int,
    "max_expanded_mb": float,
    "max_job_time_s": float,
    "max_vehicles": int,
    "max_stops": int,
    "job_queue": int,
}


def load_settings(**overrides: object) -> Settings:
    """Build settings from ``MAPSERVER_*`` and ``DATABASE_URL`` variables, then overrides."""
    env = os.environ
    values: dict[str, object] = {}
    if env.get("DATABASE_URL"):
        values["database_url"] = env["DATABASE_URL"]
    for name in ("secret_key", "scheme", "colour_rule", "basemap", "language"):
        key = f"MAPSERVER_{name.upper()}"
        if env.get(key):
            values[name] = env[key]
    if env.get("MAPSERVER_SHARE_THRESHOLD"):
        values["share_threshold"] = float(env["MAPSERVER_SHARE_THRESHOLD"])
    if env.get("MAPSERVER_ANONYMOUS_READ"):
        flag = env["MAPSERVER_ANONYMOUS_READ"].strip().lower()
        values["anonymous_read"] = flag in ("1", "true", "yes", "on")
    for name, kind in _LIMIT_SETTINGS.items():
        key = f"MAPSERVER_{name.upper()}"
        if env.get(key):
            values[name] = kind(env[key])
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)  # type: ignore[arg-type]


def test_database_url() -> str | None:
    """Return the PostgreSQL URL the store tests run against, if one is configured."""
    return os.environ.get("MAPSERVER_TEST_PG_URL")


def env_database_url() -> str | None:
    """Return ``DATABASE_URL`` when the environment sets one."""
    return os.environ.get("DATABASE_URL") or None
