"""Access checks for views: the login gate, role decorators and the reader's area."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Flask, abort, current_app, redirect, request, url_for

from mapserver.services import access
from mapserver.store import User
from mapserver.web.auth import current_user

# Paths anyone may fetch, whatever the settings.
_ALWAYS_OPEN = ("/login", "/static/", "/vendor/", "/health", "/favicon.ico")
# Paths an anonymous client may read when anonymous reading is on (grid counts only).
_PUBLIC_EXACT = frozenset(
    {
        "/",
        "/api/config",
        "/api/grids",
        "/api/summary",
        "/api/measure",  # counts below 5 withheld, as in the summary
        "/api/history",  # the change log's first and last moment
        "/api/totals",  # counts and changes below 5 withheld
        "/api/recent",  # which grids changed lately: ids only
        "/api/table",  # the level's grids: counts below 5 withheld outside the reader's area
        "/api/status/grids",
        "/api/changes",
        "/api/stream",
        "/api/search",
        "/api/roads",
        "/api/checkpoints",
        "/api/openapi.json",
    }
)
_PUBLIC_PREFIX = (
    "/api/geometry/grid/",
    "/api/tiles/grids/",  # tiles carry shapes, names and levels, never counts or contacts
    "/api/tiles/roads/",
    "/api/tiles/checkpoints/",
)


def anonymous_read() -> bool:
    """True when this server lets anonymous clients read grid counts."""
    return bool(getattr(current_app.config["SETTINGS"], "anonymous_read", False))


def public_path(path: str) -> bool:
    """True for a path an anonymous client may read when anonymous reading is on."""
    return path in _PUBLIC_EXACT or path.startswith(_PUBLIC_PREFIX)


def _refuse_anonymous():
    """401 for the API, a redirect to the login page for pages."""
    if request.path.startswith("/api/"):
        abort(401, description="login or API token required")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def install(app: Flask) -> None:
    """Put the login gate in front of every view of ``app``.

    Login, static files and health are always open; with anonymous reading on,
    so are the paths of :func:`public_path` (answering grid counts only); every
    other path needs a login or an API token.
    """

    @app.before_request
    def _gate():
        path = request.path
        if path.startswith(_ALWAYS_OPEN) or current_user() is not None:
            return None
        if anonymous_read() and request.method in ("GET", "HEAD") and public_path(path):
            return None
        return _refuse_anonymous()


def require(capability: str) -> Callable:
    """Decorate a view that needs ``capability`` (see services/access.py): 401 without a
    login (a redirect for pages), 403 for a role without it."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is None:
                return _refuse_anonymous()
            if not access.can(user, capability):
                abort(403, description=f"role '{user.role}' may not do this ({capability})")
            return view(*args, **kwargs)

        return wrapped

    return decorate


def check(capability: str) -> User:
    """The request's user when they hold ``capability``; else 401 or 403."""
    user = current_user()
    if user is None:
        abort(401, description="login or API token required")
    if not access.can(user, capability):
        abort(403, description=f"role '{user.role}' may not do this ({capability})")
    return user


def reader_area() -> set[str] | None:
    """Grid ids whose personal data this request's user may read (None: all)."""
    user = current_user()
    # only a user bound to a grid needs the tree (read fresh: it decides what they see)
    needs_tree = user is not None and bool(user.grid_id)
    children = current_app.extensions["mapview"].layers().children if needs_tree else {}
    return access.area(user, children)


def check_grid(grid_id: str | None, *, what: str = "grid") -> None:
    """403 unless ``grid_id`` lies in the reader's area."""
    scope = reader_area()
    if not access.in_area(grid_id, scope):
        abort(403, description=f"{what} '{grid_id}' is outside your area")


def route_driver(plan_id: str, route_id: str) -> str | None:
    """The username a route is assigned to, or None."""
    return current_app.extensions["routeplans"].driver_of(plan_id, route_id)


def check_route(plan_id: str, route_id: str, *, mark: bool = False) -> User:
    """The user when they may read (or ``mark``) this route; else 401 or 403."""
    user = current_user()
    if user is None:
        abort(401, description="login or API token required")
    driver = route_driver(plan_id, route_id)
    allowed = access.may_mark_route(user, driver) if mark else access.may_read_route(user, driver)
    if not allowed:
        abort(403, description=f"route '{route_id}' is not assigned to you")
    return user
