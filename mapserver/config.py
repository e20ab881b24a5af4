"""Settings, read once from the environment with defaults; nothing else reads os.environ."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


# A source checkout has pyproject.toml beside the package; an installed wheel has not (and
# its site-packages may hold stray folders, so a folder's presence alone proves nothing).
SOURCE_CHECKOUT = (PACKAGE_DIR.parent / "pyproject.toml").is_file()


def _share_dir(name: str) -> Path:
    """Return a top-level project folder (templates, static, geodata/...), editable or installed."""
    if SOURCE_CHECKOUT and (PACKAGE_DIR.parent / name).is_dir():
        return PACKAGE_DIR.parent / name
    return PACKAGE_DIR / "_share" / name


TEMPLATES_DIR = _share_dir("templates")
STATIC_DIR = _share_dir("static")
GEODATA_DIR = _share_dir("geodata")
SCHEMES_DIR = _share_dir("geodata/schemes")
# The shipped demo district (read only: generated data goes to INSTANCE_DIR, never here).
DEFAULT_DEMO_DIR = _share_dir("geodata/demo")
# Where the command line keeps what it makes: the default store, generated demo districts.
INSTANCE_DIR = Path("instance")
COLOUR_RULES: tuple[str, ...] = ("worst", "share")
BASEMAPS: tuple[str, ...] = ("none", "osm", "gaode")
LANGUAGES: tuple[str, ...] = ("zh", "en")


class SettingsError(ValueError):
    """One or more settings are invalid; ``problems`` names each variable and why."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


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
        text = env["MAPSERVER_SHARE_THRESHOLD"]
        try:
            values["share_threshold"] = float(text)
        except ValueError:
            msg = f"MAPSERVER_SHARE_THRESHOLD={text!r}: not a number (e.g. 0.1)"
            raise SettingsError([msg]) from None
    if env.get("MAPSERVER_ANONYMOUS_READ"):
        flag = env["MAPSERVER_ANONYMOUS_READ"].strip().lower()
        values["anonymous_read"] = flag in ("1", "true", "yes", "on")
    for name, kind in _LIMIT_SETTINGS.items():
        key = f"MAPSERVER_{name.upper()}"
        if env.get(key):
            values[name] = kind(env[key])
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)  # type: ignore[arg-type]


def check_settings(settings: Settings) -> list[str]:
    """Return every problem of the settings, one line each naming the variable; [] if fine.

    Checked once at start by the command line (exit code 2 with the list), so a bad
    value never becomes a traceback or a 400 on every request.
    """
    import math

    import sqlalchemy as sa

    from mapserver.status.scheme import load_scheme

    problems: list[str] = []
    try:
        backend = sa.make_url(settings.database_url).get_backend_name()
        if backend not in ("sqlite", "postgresql", "postgres"):
            problems.append(
                f"DATABASE_URL={settings.database_url!r}: backend {backend!r} is not sqlite "
                "or postgresql"
            )
    except sa.exc.ArgumentError:
        problems.append(
            f"DATABASE_URL={settings.database_url!r}: not a database URL "
            "(sqlite:///instance/mapserver.sqlite or postgresql+psycopg://user@host/db)"
        )
    try:
        load_scheme(settings.scheme)
    except ValueError as err:
        problems.append(f"MAPSERVER_SCHEME={settings.scheme!r}: {err}")
    choices = {
        "MAPSERVER_COLOUR_RULE": (settings.colour_rule, COLOUR_RULES),
        "MAPSERVER_BASEMAP": (settings.basemap, BASEMAPS),
        "MAPSERVER_LANGUAGE": (settings.language, LANGUAGES),
    }
    for variable, (value, allowed) in choices.items():
        if value not in allowed:
            problems.append(f"{variable}={value!r}: must be one of {', '.join(allowed)}")
    threshold = settings.share_threshold
    if not (isinstance(threshold, int | float) and math.isfinite(threshold)) or not (
        0 < threshold <= 1
    ):
        problems.append(f"MAPSERVER_SHARE_THRESHOLD={threshold!r}: must be a share in (0, 1]")
    return problems


def test_database_url() -> str | None:
    """Return the PostgreSQL URL the store tests run against, if one is configured."""
    return os.environ.get("MAPSERVER_TEST_PG_URL")


def env_database_url() -> str | None:
    """Return ``DATABASE_URL`` when the environment sets one."""
    return os.environ.get("DATABASE_URL") or None
