"""Login, logout and the write guard: a session login or an API token."""

from __future__ import annotations

import functools
import hmac
import math
import secrets
from collections.abc import Callable
from datetime import datetime
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
from mapserver.services.accounts import Accounts
from mapserver.store import User

bp = Blueprint("auth", __name__)


def _request_token() -> str | None:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    return token or request.headers.get("X-API-Token") or None


def _now() -> datetime:
    """The app's clock (``app.extensions["clock"]``, replaceable in tests): aware UTC."""
    return current_app.extensions["clock"]()


def current_user() -> User | None:
    """The user of this request: from a valid API token, else from the session.

    The session cookie carries only a session id; the session and its user are looked
    up in the store on every request, so logout, a password reset, a changed role or
    grid (or a removed user) take effect at once. Expired tokens are refused.
    """
    if "_user" in g:
        return g._user
    accounts = _accounts()
    settings = current_app.config["SETTINGS"]
    token = _request_token()
    user = (
        accounts.user_for_token(token, max_age_days=settings.token_days, now=_now())
        if token
        else None
    )
    g._by_token = user is not None
    if user is None and session.get("sid"):
        user = accounts.user_for_session(session["sid"], now=_now())
        if user is None:
            session.pop("sid", None)
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
            if not g.get("_by_token") and not _csrf_sent_ok():
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


def _csrf_sent_ok() -> bool:
    """Whether the form (or header) carries this session's CSRF token."""
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf") or ""
    expected = session.get("csrf") or ""
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


def _lock_limits(username: str) -> dict[str, int]:
    """Lockout keys of a login attempt -> failures that lock them (by name and by address)."""
    settings = current_app.config["SETTINGS"]
    return {
        f"user:{username[:200]}": settings.login_max_failures,
        f"addr:{request.remote_addr or 'unknown'}": settings.login_max_failures_per_address,
    }


def _accounts() -> Accounts:
    return current_app.extensions["accounts"]


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with a username and password, then go back where the user came from.

    The form must carry the CSRF token of the page it came from. Repeated failures
    lock the username and the client address for ``login_lock_minutes``.
    """
    error, minutes, status = None, 0, 200
    target = request.args.get("next") or url_for("pages.command_map")
    if not _local_path(target):
        target = url_for("pages.command_map")
    if request.method == "POST":
        settings = current_app.config["SETTINGS"]
        username = request.form.get("username", "")
        if not _csrf_sent_ok():
            error, status = "login_expired", 403
        else:
            result = _accounts().login(
                username,
                request.form.get("password", ""),
                limits=_lock_limits(username),
                lock_s=settings.login_lock_minutes * 60,
                session_hours=settings.session_hours,
                now=_now(),
            )
            if result.session_id is not None:
                session.clear()
                session.permanent = True
                session["sid"] = result.session_id
                csrf_token()
                return redirect(target)
            if result.locked_s > 0:
                error, status = "login_locked", 429
                minutes = math.ceil(result.locked_s / 60)
            else:
                error = "login_failed"
    page = render_template("login.html", error=error, minutes=minutes, next=target)
    return page, status


@bp.post("/logout")
def logout():
    """End this session in the store and forget it (a POST with the CSRF token)."""
    if not _csrf_sent_ok():
        abort(403, description="missing or wrong CSRF token")
    if session.get("sid"):
        _accounts().logout(session["sid"])
    session.clear()
    return redirect(url_for("pages.command_map"))
