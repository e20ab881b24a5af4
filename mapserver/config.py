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
    extra: dict = field(default_factory=dict)


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
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)  # type: ignore[arg-type]


def test_database_url() -> str | None:
    """Return the PostgreSQL URL the store tests run against, if one is configured."""
    return os.environ.get("MAPSERVER_TEST_PG_URL")


def env_database_url() -> str | None:
    """Return ``DATABASE_URL`` when the environment sets one."""
    return os.environ.get("DATABASE_URL") or None
