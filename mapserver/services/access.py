"""Who may read and write what: roles, a user's area in the grid tree, anonymous policy.

Pure rules over plain data (a user, a grid tree as child lists, feature dicts):
no Flask, no database. The web layer asks these questions and answers 401/403.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from mapserver.model import ROLES

# What each role may do. Reads of personal data (addresses, per-building status,
# households, names and phones) are further limited to the user's area.
CAPABILITIES: dict[str, frozenset[str]] = {
    # per-address status, households, search of buildings: in the user's area
    "personal.read": frozenset({"admin", "commander", "planner", "dispatcher", "worker"}),
    # status writes (the worker only inside their grid subtree)
    "status.write": frozenset({"admin", "worker"}),
    # the micro-grid planner: reading drafts and households of a parent grid in the area
    # (a worker: their own grid's)
    "planner.read": frozenset({"admin", "commander", "planner", "worker"}),
    # proposing, saving, publishing and rolling back grid plans
    "grids.edit": frozenset({"admin", "planner"}),
    # delivery and patrol plans: every route, manifests, progress
    "routes.read": frozenset({"admin", "commander", "dispatcher"}),
    # planning deliveries and patrols, re-planning, assigning drivers, closing roads
    "routes.plan": frozenset({"admin", "dispatcher"}),
    # a patrol checking in at a checkpoint of its tour (who passed when)
    "patrol.checkin": frozenset({"admin", "commander", "dispatcher", "worker"}),
    # marking stops (a driver only on routes assigned to them)
    "stops.mark": frozenset({"admin", "dispatcher", "driver"}),
    # entrances, cordons and their trade-off curves
    "cordon.read": frozenset({"admin", "commander", "planner", "dispatcher"}),
    # event (case) points; counts per grid
    "events.read": frozenset({"admin", "commander", "planner", "dispatcher", "worker"}),
    # imports of layers and event lists, import log and mappings
    "import": frozenset({"admin"}),
    # the user list: add, change role or grid, remove, reset passwords
    "users.manage": frozenset({"admin"}),
    # the audit log: who changed what, when, from where (page and CSV export)
    "audit.read": frozenset({"admin"}),
}

# Roles whose area is the whole district when they have no grid.
_WHOLE_WITHOUT_GRID = frozenset({"admin", "commander", "planner", "dispatcher"})

# Below this many households a count shown to the public is suppressed (null, "<5").
SUPPRESS_BELOW = 5

# Grid properties that name a person: never shown outside the reader's area.
_CONTACT_FIELDS = ("person", "phone")


class UserLike(Protocol):
    """What the rules need of a user: a role and an optional grid."""

    username: str
    role: str
    grid_id: str | None


def check_role(role: str) -> str:
    """Return ``role`` when it is known, else raise ValueError naming the known roles."""
    if role not in ROLES:
        msg = f"role {role!r} is not one of {', '.join(ROLES)}"
        raise ValueError(msg)
    return role


def can(user: UserLike | None, capability: str) -> bool:
    """True when ``user`` (None: anonymous) holds ``capability`` by role."""
    if user is None:
        return False
    try:
        return user.role in CAPABILITIES[capability]
    except KeyError as err:
        msg = f"unknown capability {capability!r}"
        raise ValueError(msg) from err


def subtree(grid_id: str, children: Mapping[str, Iterable[str]]) -> set[str]:
    """``grid_id`` and every grid below it, from a parent → children mapping."""
    out = {grid_id}
    stack = list(children.get(grid_id, []))
    while stack:
        gid = stack.pop()
        if gid not in out:
            out.add(gid)
            stack.extend(children.get(gid, []))
    return out


def area(user: UserLike | None, children: Mapping[str, Iterable[str]]) -> set[str] | None:
    """Grid ids whose personal data ``user`` may read: None means every grid.

    Admins see everything; commanders, planners and dispatchers see their grid's
    subtree, or everything when they have no grid; workers see their grid's
    subtree (nothing without a grid); drivers and anonymous clients see no grid's
    personal data (drivers read only the routes assigned to them).
    """
    if user is None or user.role == "driver":
        return set()
    if user.role == "admin":
        return None
    if user.grid_id:
        return subtree(user.grid_id, children)
    return None if user.role in _WHOLE_WITHOUT_GRID else set()


def in_area(grid_id: str | None, scope: set[str] | None) -> bool:
    """True when a grid lies in an area (None: the whole district)."""
    return scope is None or (grid_id is not None and grid_id in scope)


def suppress(count: int | None) -> int | None:
    """A count as shown to the public: None below :data:`SUPPRESS_BELOW`."""
    if count is None or count < SUPPRESS_BELOW:
        return None
    return int(count)


def public_status(status: Mapping) -> dict:
    """Status counts of a grid or area as the public may see them.

    Every count below 5 becomes None (shown "<5"); when the whole area holds
    fewer than 5 households its status and colour are withheld as well.
    """
    out = dict(status)
    total = status.get("households")
    for key in ("counts", "person_counts"):
        if key in out and out[key] is not None:
            out[key] = {code: suppress(n) for code, n in out[key].items()}
    out["households"] = suppress(total)
    out["persons"] = suppress(status.get("persons")) if out["households"] is not None else None
    if out["households"] is None:
        out["counts"] = {}
        out["person_counts"] = {}
        out["status"] = None
        out["colour"] = None
    out["suppressed"] = True
    return out


def public_grid(props: Mapping) -> dict:
    """A grid feature's properties for a reader outside its area: suppressed counts,
    no responsible person or phone."""
    out = public_status(props)
    for name in _CONTACT_FIELDS:
        if name in out:
            out[name] = None
    return out


def scope_grid_features(collection: dict, scope: set[str] | None) -> dict:
    """A grid FeatureCollection with every grid outside ``scope`` made public."""
    if scope is None:
        return collection
    features = []
    for feature in collection["features"]:
        if feature["id"] not in scope:
            feature = {**feature, "properties": public_grid(feature["properties"])}
        features.append(feature)
    return {**collection, "features": features}


def scope_building_features(collection: dict, scope: set[str] | None) -> dict:
    """A building FeatureCollection keeping only buildings whose grid is in ``scope``."""
    if scope is None:
        return collection
    features = [f for f in collection["features"] if f["properties"].get("grid_id") in scope]
    return {**collection, "features": features}


def scope_changes(
    changes: dict, building_grid: Mapping[str, str | None], scope: set[str] | None
) -> dict:
    """A change batch (see MapView.changes) cut to an area.

    Buildings are kept when their grid (``building_grid``) is in the area, grids
    outside it are made public, and the district summary is made public unless the
    area is the whole district. Anonymous clients and drivers (empty area) get no
    buildings at all.
    """
    if scope is None:
        return changes
    grids = {
        gid: (status if gid in scope else public_status(status))
        for gid, status in changes["grids"].items()
    }
    buildings = {
        bid: status
        for bid, status in changes["buildings"].items()
        if building_grid.get(bid) in scope
    }
    summary = public_status(changes["summary"])
    return {**changes, "grids": grids, "buildings": buildings, "summary": summary}


def may_mark_route(user: UserLike | None, driver: str | None) -> bool:
    """True when ``user`` may mark stops of a route assigned to ``driver`` (None: nobody)."""
    if not can(user, "stops.mark"):
        return False
    if user.role == "driver":  # type: ignore[union-attr]
        return driver is not None and driver == user.username  # type: ignore[union-attr]
    return True


def may_read_route(user: UserLike | None, driver: str | None) -> bool:
    """True when ``user`` may read a route (its stops, manifest, GPX)."""
    if can(user, "routes.read"):
        return True
    return user is not None and user.role == "driver" and driver == user.username


def menu(user: UserLike | None) -> list[str]:
    """The page names the user's menu shows, in order (see templates/base.html)."""
    if user is None:
        return []
    items = []
    if can(user, "status.write"):
        items.append("entry")
    if can(user, "import"):
        items.append("upload")
    if can(user, "routes.read") or user.role == "driver":
        items.append("routes")
    if user.role in ("admin", "commander", "planner"):
        items.append("planner")
    if can(user, "users.manage"):
        items.append("users")
    if can(user, "audit.read"):
        items.append("audit")
    return items
