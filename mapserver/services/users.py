"""User administration for the web and the command line: one set of rules (a known role,
a grid that exists, a free name, no admin removing or demoting themselves)."""

from __future__ import annotations

from mapserver.errors import ConflictError, ValidationError, ValidationIssue
from mapserver.services import access
from mapserver.store import Store, User

_UNSET = object()


class UserAdmin:
    """The users of one store, as an admin keeps them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def list(self) -> list[User]:
        """Every user (name, role, grid; never password hashes)."""
        return self.store.list_users()

    def role(self, value: object) -> str:
        """A known role, or a refusal naming the roles."""
        try:
            return access.check_role(str(value))
        except ValueError as err:
            raise ValidationError.for_request("role", str(err)) from err

    def grid(self, value: object) -> str | None:
        """A grid id that exists in the store, or None for no grid."""
        if value in (None, ""):
            return None
        grid_id = str(value)
        if not len(self.store.read_grids(ids=[grid_id])):
            raise ValidationError.for_request("grid_id", f"grid '{grid_id}' does not exist")
        return grid_id

    def add(self, username: object, password: object, role: object, grid_id: object) -> User:
        """Add a user (ConflictError when the name is taken)."""
        name = str(username or "").strip()
        secret = str(password or "")
        issues = []
        if not name:
            issues.append(ValidationIssue("request", None, "username", "required"))
        if not secret:
            issues.append(ValidationIssue("request", None, "password", "required"))
        if issues:
            raise ValidationError(issues)
        checked_role, grid = self.role(role), self.grid(grid_id)
        if self.store.get_user(name) is not None:
            raise ConflictError(f"user '{name}' exists")
        return self.store.create_user(name, secret, role=checked_role, grid_id=grid)

    def change(
        self,
        username: str,
        *,
        by: str,
        role: object = _UNSET,
        grid_id: object = _UNSET,
        password: object = _UNSET,
    ) -> User:
        """Change a user's role, grid (None: none) or password (a reset); ``by`` (the
        admin doing it) cannot take the admin role from themselves."""
        kwargs: dict = {"role": None if role is _UNSET else self.role(role)}
        if grid_id is not _UNSET:
            grid = self.grid(grid_id)
            kwargs.update(grid_id=grid, clear_grid=grid is None)
        if password is not _UNSET:
            if not password:
                raise ValidationError.for_request("password", "empty")
            kwargs["password"] = str(password)
        if username == by and kwargs["role"] not in (None, "admin"):
            raise ValidationError.for_request(
                "role", "you cannot take the admin role from yourself"
            )
        return self.store.update_user(username, **kwargs)

    def remove(self, username: str, *, by: str) -> None:
        """Remove a user and their API tokens (not ``by`` themselves)."""
        if username == by:
            raise ValidationError.for_request("username", "you cannot remove yourself")
        self.store.delete_user(username)
