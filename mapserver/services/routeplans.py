"""The dispatcher's handling of saved route plans: list, name, archive, delete, and who
drives which route (only a user with the driver role may be given one)."""

from __future__ import annotations

from mapserver.errors import NotFoundError, ValidationError
from mapserver.store import Store

MAX_NAME = 60


class RoutePlans:
    """Saved delivery and patrol plans of one store, as a dispatcher keeps them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def list(self, kind: str | None = None) -> list[dict]:
        """Saved plans (of ``kind``, or all), newest first, without their data."""
        return self.store.list_route_plans(kind=kind)

    def rename(self, plan_id: str, name: object, *, user: str) -> str:
        """Give a plan a name of 1 to 60 characters (audited); the name as kept."""
        text = str(name or "").strip()
        if not 1 <= len(text) <= MAX_NAME:
            reason = f"a name of 1 to {MAX_NAME} characters"
            raise ValidationError.for_request("name", reason)
        self.store.rename_route_plan(plan_id, text, user=user)
        return text

    def archive(self, plan_id: str, archived: bool, *, user: str) -> None:
        """Put a plan away or take it back (audited; nothing is lost)."""
        self.store.archive_route_plan(plan_id, archived, user=user)

    def delete(self, plan_id: str, *, user: str) -> None:
        """Delete a plan with its stop marks and driver assignments (audited)."""
        self.store.delete_route_plan(plan_id, user=user)

    def drivers(self, plan_id: str) -> dict[str, str]:
        """Route id -> the username of the driver it is assigned to."""
        return self.store.route_drivers(plan_id)

    def driver_of(self, plan_id: str, route_id: str) -> str | None:
        """The username a route is assigned to, or None."""
        return self.store.route_drivers(plan_id).get(route_id)

    def routes_of(self, username: str) -> set[tuple[str, str]]:
        """The (plan id, route id) pairs assigned to a driver."""
        return set(self.store.routes_of_driver(username))

    def driver_names(self) -> list[str]:
        """The usernames that may be given a route (the driver role)."""
        return [u.username for u in self.store.list_users() if u.role == "driver"]

    def assign(self, plan_id: str, route_id: str, username: object) -> str | None:
        """Give a route to a driver (None takes it back); only a user with the driver
        role may drive. Returns the username as kept."""
        name = None if username is None else str(username)
        if name is not None:
            found = self.store.get_user(name)
            if found is None:
                raise NotFoundError(f"user '{name}' not found")
            if found.role != "driver":
                reason = f"user '{name}' has role '{found.role}', not driver"
                raise ValidationError.for_request("driver", reason)
        self.store.assign_driver(plan_id, route_id, name)
        return name
