"""Login, logout and the write guard: a session login or an API token."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from mapserver.services import access
from mapserver.store import User

bp = Blueprint("auth", __name__)


def _request_token() -> str | None:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    return token or request.headers.get("X-API-Token") or None


def current_user() -> User | None:
    """The user of this request: from a valid API token, else from the session.

    A session user is re-read from the store on every request, so a changed role or
    grid (or a removed user) takes effect at once.
    """
    if "_user" in g:
        return g._user
    store = current_app.extensions["store"]
    token = _request_token()
    user = store.user_for_token(token) if token else None
    g._by_token = user is not None
    if user is None and session.get("user"):
        user = store.get_user(session["user"])
    g._user = user
    return user


def csrf_token() -> str:
    """The per-session token that page forms and fetches send back on writes."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def write_access(*, role: str | None = None, capability: str | None = None) -> Callable:
    """Decorate a view that writes: needs a token, or a session plus the CSRF token, and
    the ``capability`` of services/access.py (or the ``role``; admins pass both)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is None:
                abort(401, description="login or API token required")
            if not g.get("_by_token"):
                sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf")
                if not sent or sent != session.get("csrf"):
                    abort(403, description="missing or wrong CSRF token")
            if role is not None and user.role != role and user.role != "admin":
                abort(403, description=f"role '{role}' required")
            if capability is not None and not access.can(user, capability):
                abort(403, description=f"role '{user.role}' may not do this ({capability})")
            g.user = user
            return view(*args, **kwargs)

        return wrapped

    return decorate


def _local_path(target: str) -> bool:
    """True for a path on this site (no scheme, no host, not protocol-relative)."""
    parts = urlsplit(target)
    return (
        target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and not parts.scheme
        and not parts.netloc
    )


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with a username and password, then go back where the user came from."""
    error = None
    target = request.args.get("next") or url_for("pages.command_map")
    if not _local_path(target):
        target = url_for("pages.command_map")
    if request.method == "POST":
        store = current_app.extensions["store"]
        name = request.form.get("username", "")
        user = store.check_password(name, request.form.get("password", ""))
        if user is None:
            store.record_audit("login.failed", entity=f"user:{name[:64]}", actor=name[:64] or "-")
        else:
            store.record_audit("login.ok", entity=f"user:{user.username}", actor=user.username)
        if user is not None:
            session.clear()
            session["user"] = user.username
            csrf_token()
            return redirect(target)
        error = "login_failed"
    return render_template("login.html", error=error, next=target)


@bp.get("/logout")
def logout():
    """Forget the session's user."""
    session.clear()
    return redirect(url_for("pages.command_map"))
