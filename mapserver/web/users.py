"""The admin's user page and its API: list, add, change role or grid, reset password, remove."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, jsonify, render_template, request

from mapserver.errors import ConflictError, ValidationError, ValidationIssue
from mapserver.services import access
from mapserver.store import User
from mapserver.web.access import require
from mapserver.web.auth import write_access

bp = Blueprint("users", __name__)


def _store():
    return current_app.extensions["store"]


def _json(user: User) -> dict:
    return {"username": user.username, "role": user.role, "grid_id": user.grid_id}


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError([ValidationIssue("request", None, None, "body must be an object")])
    return body


def _role(value: object) -> str:
    try:
        return access.check_role(str(value))
    except ValueError as err:
        raise ValidationError([ValidationIssue("request", None, "role", str(err))]) from err


def _grid(value: object) -> str | None:
    """A grid id that exists in the store, or None for no grid."""
    if value in (None, ""):
        return None
    grid_id = str(value)
    if not len(_store().read_grids(ids=[grid_id])):
        reason = f"grid '{grid_id}' does not exist"
        raise ValidationError([ValidationIssue("request", None, "grid_id", reason)])
    return grid_id


@bp.get("/users")
@require("users.manage")
def users_page():
    """The admin's user list with forms to add, change and remove users."""
    return render_template(
        "users.html", users=_store().list_users(), roles=access.ROLES, me=g.get("_user")
    )


@bp.get("/api/users")
@require("users.manage")
def list_users():
    """Every user: name, role and grid (never password hashes)."""
    return jsonify(users=[_json(u) for u in _store().list_users()])


@bp.post("/api/users")
@write_access(capability="users.manage")
def add_user():
    """Add a user: ``username``, ``password``, ``role``, optional ``grid_id`` (must exist);
    409 when the name is taken."""
    body = _body()
    username = str(body.get("username") or "").strip()
    password = str(body.get("password") or "")
    issues = []
    if not username:
        issues.append(ValidationIssue("request", None, "username", "required"))
    if not password:
        issues.append(ValidationIssue("request", None, "password", "required"))
    if issues:
        raise ValidationError(issues)
    role = _role(body.get("role", "worker"))
    grid_id = _grid(body.get("grid_id"))
    if _store().get_user(username) is not None:
        raise ConflictError(f"user '{username}' exists")
    user = _store().create_user(username, password, role=role, grid_id=grid_id)
    return jsonify(_json(user)), 201


@bp.patch("/api/users/<username>")
@write_access(capability="users.manage")
def change_user(username: str):
    """Change a user's ``role``, ``grid_id`` (null: none) or ``password`` (a reset)."""
    body = _body()
    role = _role(body["role"]) if "role" in body else None
    kwargs: dict = {"role": role}
    if "grid_id" in body:
        grid_id = _grid(body["grid_id"])
        kwargs.update(grid_id=grid_id, clear_grid=grid_id is None)
    if "password" in body:
        if not body["password"]:
            raise ValidationError([ValidationIssue("request", None, "password", "empty")])
        kwargs["password"] = str(body["password"])
    if username == g.user.username and role not in (None, "admin"):
        abort(400, description="you cannot take the admin role from yourself")
    return jsonify(_json(_store().update_user(username, **kwargs)))


@bp.delete("/api/users/<username>")
@write_access(capability="users.manage")
def remove_user(username: str):
    """Remove a user and their API tokens (not yourself)."""
    if username == g.user.username:
        abort(400, description="you cannot remove yourself")
    _store().delete_user(username)
    return jsonify(removed=username)
