"""The admin's user page and its API: list, add, change role or grid, reset password, remove."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, render_template

from mapserver.services import access
from mapserver.services.users import UserAdmin
from mapserver.store import User
from mapserver.web.access import require
from mapserver.web.auth import write_access
from mapserver.web.body import json_object

bp = Blueprint("users", __name__)


def _users() -> UserAdmin:
    return current_app.extensions["users"]


def _json(user: User) -> dict:
    return {"username": user.username, "role": user.role, "grid_id": user.grid_id}


def _body() -> dict:
    return json_object(required=True)


@bp.get("/users")
@require("users.manage")
def users_page():
    """The admin's user list with forms to add, change and remove users."""
    return render_template(
        "users.html", users=_users().list(), roles=access.ROLES, me=g.get("_user")
    )


@bp.get("/api/users")
@require("users.manage")
def list_users():
    """Every user: name, role and grid (never password hashes)."""
    return jsonify(users=[_json(u) for u in _users().list()])


@bp.post("/api/users")
@write_access(capability="users.manage")
def add_user():
    """Add a user: ``username``, ``password``, ``role``, optional ``grid_id`` (must exist);
    409 when the name is taken."""
    body = _body()
    user = _users().add(
        body.get("username"), body.get("password"), body.get("role", "worker"), body.get("grid_id")
    )
    return jsonify(_json(user)), 201


@bp.patch("/api/users/<username>")
@write_access(capability="users.manage")
def change_user(username: str):
    """Change a user's ``role``, ``grid_id`` (null: none) or ``password`` (a reset)."""
    body = _body()
    changes = {k: body[k] for k in ("role", "grid_id", "password") if k in body}
    return jsonify(_json(_users().change(username, by=g.user.username, **changes)))


@bp.delete("/api/users/<username>")
@write_access(capability="users.manage")
def remove_user(username: str):
    """Remove a user and their API tokens (not yourself)."""
    _users().remove(username, by=g.user.username)
    return jsonify(removed=username)
