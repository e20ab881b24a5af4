"""Login, logout and the write guard: a session login or an API token."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable

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

from mapserver.store import User

bp = Blueprint("auth", __name__)


def current_user() -> User | None:
    """The user of this request: from the API token header, else from the session."""
    store = current_app.extensions["store"]
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    token = token or request.headers.get("X-API-Token")
    if token:
        return store.user_for_token(token)
    name = session.get("user")
    if name:
        return User(username=name, role=session.get("role", "worker"), grid_id=session.get("grid"))
    return None


def csrf_token() -> str:
    """The per-session token that page forms and fetches send back on writes."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def write_access(*, role: str | None = None) -> Callable:
    """Decorate a view that writes: needs a token, or a session plus the CSRF token."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is None:
                abort(401, description="login or API token required")
            uses_token = "Authorization" in request.headers or "X-API-Token" in request.headers
            if not uses_token:
                sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf")
                if not sent or sent != session.get("csrf"):
                    abort(403, description="missing or wrong CSRF token")
            if role is not None and user.role != role and user.role != "admin":
                abort(403, description=f"role '{role}' required")
            g.user = user
            return view(*args, **kwargs)

        return wrapped

    return decorate


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with a username and password, then go back where the user came from."""
    error = None
    target = request.args.get("next") or url_for("pages.command_map")
    if not target.startswith("/"):
        target = url_for("pages.command_map")
    if request.method == "POST":
        store = current_app.extensions["store"]
        user = store.check_password(
            request.form.get("username", ""), request.form.get("password", "")
        )
        if user is not None:
            session.clear()
            session["user"] = user.username
            session["role"] = user.role
            session["grid"] = user.grid_id
            csrf_token()
            return redirect(target)
        error = "login_failed"
    return render_template("login.html", error=error, next=target)


@bp.get("/logout")
def logout():
    """Forget the session's user."""
    session.clear()
    return redirect(url_for("pages.command_map"))
