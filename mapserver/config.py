"""Settings, read once from the environment with defaults; nothing else reads os.environ."""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import stat
from collections.abc import Mapping
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
    database_read_url
        A read-only replica of that database (``DATABASE_READ_URL``, PostgreSQL): the
        map's reads (layers, counts, the change log, tiles) go there; logins, sessions,
        jobs and every write stay on ``database_url``. None: everything on one.
    secret_key
        Secret that signs session cookies (``MAPSERVER_SECRET_KEY``). None: read or
        create the secret file beside the SQLite database (see :func:`secret_key_for`).
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
    cookie_secure
        Send the session cookie only over HTTPS (set it when served behind HTTPS).
    session_hours
        Lifetime of a login session in hours; logout ends it at once.
    token_days
        Lifetime of an API token in days, counted from its creation.
    login_max_failures
        Failed logins for one username within ``login_lock_minutes`` that lock it.
    login_max_failures_per_address
        Failed logins from one client address within ``login_lock_minutes`` that lock it.
    login_lock_minutes
        How long a lock lasts, and the window in which failures are counted.
    db_pool
        PostgreSQL connections each server process keeps open (``MAPSERVER_DB_POOL``;
        5 more may open for a burst). None: ``mapserver serve`` shares 75 among its
        workers (at most 20 each); other commands keep 10. Every host's workers
        × (pool + 5) must stay below the server's ``max_connections`` (100 by default).
    trusted_proxies
        Reverse proxies (nginx, a load balancer) in front of the app,
        ``MAPSERVER_TRUSTED_PROXIES=1``: the client address (lockout, audit) and
        HTTPS are then taken from that many ``X-Forwarded-For``/``-Proto`` entries.
        0 (default): the headers are ignored, since any client could forge them.
    """

    database_url: str = "sqlite:///instance/mapserver.sqlite"
    database_read_url: str | None = None
    secret_key: str | None = None
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
    cookie_secure: bool = False
    session_hours: float = 12.0
    token_days: float = 90.0
    login_max_failures: int = 5
    login_max_failures_per_address: int = 20
    login_lock_minutes: float = 15.0
    trusted_proxies: int = 0
    db_pool: int | None = None
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
    "db_pool": int,
}


def leaflet_dir() -> Path:
    """The folder of Leaflet's built files in the installed xstatic-leaflet package (served
    to the live map, inlined into exported pages)."""
    import xstatic.pkg.leaflet as leaflet

    return Path(leaflet.BASE_DIR)


def load_settings(**overrides: object) -> Settings:
    """Build settings from ``MAPSERVER_*`` and ``DATABASE_URL`` variables, then overrides."""
    env = os.environ
    values: dict[str, object] = {}
    if env.get("DATABASE_URL"):
        values["database_url"] = env["DATABASE_URL"]
    if env.get("DATABASE_READ_URL"):
        values["database_read_url"] = env["DATABASE_READ_URL"]
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
    values.update(_positive_numbers(env, _LIMIT_SETTINGS))
    values.update(_session_settings(env))
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)  # type: ignore[arg-type]


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_SESSION_NUMBERS: dict[str, type] = {
    "session_hours": float,
    "token_days": float,
    "login_max_failures": int,
    "login_max_failures_per_address": int,
    "login_lock_minutes": float,
}


def _session_settings(env: Mapping[str, str]) -> dict[str, object]:
    """Read the cookie, session, token and lockout settings from ``MAPSERVER_*`` variables."""
    values: dict[str, object] = {}
    raw = env.get("MAPSERVER_COOKIE_SECURE", "").strip().lower()
    if raw:
        if raw not in (*_TRUE, *_FALSE):
            msg = f"MAPSERVER_COOKIE_SECURE={raw!r}: use one of {', '.join(_TRUE + _FALSE)}"
            raise SettingsError([msg])
        values["cookie_secure"] = raw in _TRUE
    raw = env.get("MAPSERVER_TRUSTED_PROXIES", "").strip()
    if raw:
        if not raw.isdigit() or int(raw) > 5:
            msg = f"MAPSERVER_TRUSTED_PROXIES={raw!r}: the number of proxies in front, 0 to 5"
            raise SettingsError([msg])
        values["trusted_proxies"] = int(raw)
    values.update(_positive_numbers(env, _SESSION_NUMBERS))
    return values


def _positive_numbers(env: Mapping[str, str], names: Mapping[str, type]) -> dict[str, object]:
    """Read ``MAPSERVER_<NAME>`` positive numbers of the given types; SettingsError names
    the variable and the value when one is not a positive (whole) number."""
    values: dict[str, object] = {}
    for name, kind in names.items():
        key = f"MAPSERVER_{name.upper()}"
        if not env.get(key):
            continue
        try:
            number = kind(env[key])
        except ValueError:
            number = 0
        if not (math.isfinite(number) and number > 0):
            msg = f"{key}={env[key]!r}: must be a positive {'whole ' if kind is int else ''}number"
            raise SettingsError([msg])
        values[name] = number
    return values


def secret_file_for(database_url: str) -> Path | None:
    """Return the secret file beside a SQLite database file, or None for other databases.

    ``sqlite:///instance/mapserver.sqlite`` -> ``instance/mapserver.sqlite.secret``; an
    in-memory SQLite database or PostgreSQL has no file.
    """
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        return None
    database = database_url[len(prefix) :].split("?", 1)[0]
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser().with_name(Path(database).name + ".secret")


def secret_key_for(settings: Settings) -> str:
    """Return the key that signs session cookies; never a built-in constant.

    A configured ``secret_key`` wins. Else, for a SQLite database file, the key is read
    from ``<database>.secret`` (mode 0600), created with 256 random bits on first use,
    so every process on that database shares it and sessions survive restarts. An
    in-memory database gets a random key for this process. PostgreSQL needs a
    configured key (the same on every app host): :class:`SettingsError` otherwise.
    """
    if settings.secret_key:
        return settings.secret_key
    if settings.database_url.startswith(("sqlite://", "sqlite+pysqlite://")):
        path = secret_file_for(settings.database_url)
        return secrets.token_urlsafe(32) if path is None else _read_or_create_secret(path)
    msg = (
        "no session secret for this database: set MAPSERVER_SECRET_KEY to the same long "
        "random value on every app host, e.g. the output of "
        "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    )
    raise SettingsError([msg])


def _read_or_create_secret(path: Path) -> str:
    """Read the secret file, creating it (mode 0600, atomically) when missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")
            with contextlib.suppress(FileExistsError):  # another process was first: use theirs
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 16:
        msg = f"{path}: the session secret is empty or too short; delete the file to make a new one"
        raise SettingsError([msg])
    return key


def check_settings(settings: Settings, *, serving: bool = False) -> list[str]:
    """Return every problem of the settings, one line each naming the variable; [] if fine.

    Checked once at start by the command line (exit code 2 with the list), so a bad
    value never becomes a traceback or a 400 on every request. ``serving``: the
    command serves pages, so a session secret must be available too.
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
    if settings.database_read_url:
        try:
            primary = sa.make_url(settings.database_url).get_backend_name()
            replica = sa.make_url(settings.database_read_url).get_backend_name()
            if primary != "postgresql" or replica != "postgresql":
                problems.append(
                    f"DATABASE_READ_URL={settings.database_read_url!r}: a read replica needs "
                    "PostgreSQL for both DATABASE_URL and DATABASE_READ_URL"
                )
        except sa.exc.ArgumentError:
            problems.append(
                f"DATABASE_READ_URL={settings.database_read_url!r}: not a database URL "
                "(postgresql+psycopg://user@replica-host/db)"
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
    if settings.db_pool is not None and not 1 <= settings.db_pool <= 500:
        problems.append(f"MAPSERVER_DB_POOL={settings.db_pool!r}: connections, 1 to 500")
    if serving and not problems:
        try:
            secret_key_for(settings)
        except SettingsError as err:
            problems.extend(f"MAPSERVER_SECRET_KEY: {p}" for p in err.problems)
    return problems


def test_database_url() -> str | None:
    """Return the PostgreSQL URL the store tests run against, if one is configured."""
    return os.environ.get("MAPSERVER_TEST_PG_URL")


def env_database_url() -> str | None:
    """Return ``DATABASE_URL`` when the environment sets one."""
    return os.environ.get("DATABASE_URL") or None
