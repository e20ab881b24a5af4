"""The ``mapserver user`` sub-commands: add, list, remove, role, password, assign, token."""

from __future__ import annotations

import argparse
import sys

from mapserver.cli.common import open_store_of, print_problems, store_of
from mapserver.config import load_settings
from mapserver.errors import NotFoundError, ValidationError
from mapserver.services.access import ROLES
from mapserver.services.routeplans import RoutePlans

ACTIONS: tuple[str, ...] = ("add", "list", "remove", "role", "password", "assign", "token")


def legacy_argv(argv: list[str]) -> list[str]:
    """Rewrite the old ``mapserver user NAME PASSWORD ...`` form to ``user add NAME ...``."""
    argv = list(argv)
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] == "--database" else 1  # the only global option with a value
    if i < len(argv) - 1 and argv[i] == "user":
        nxt = argv[i + 1]
        if nxt not in ACTIONS and not nxt.startswith("-"):
            argv.insert(i + 1, "add")
    return argv


def _missing_grid(store, grid_id: str | None, *, action: str) -> bool:
    """Print why and return True when ``grid_id`` is given but not in the store."""
    if grid_id is None or len(store.read_grids(ids=[grid_id])):
        return False
    known = store.read_grids()["grid_id"].astype(str).tolist()
    example = f"e.g. {', '.join(known[:3])}" if known else "the store holds no grids"
    print(
        f"网格不存在，未{action}用户 / grid '{grid_id}' does not exist, "
        f"no user {'created' if action == '创建' else 'changed'} ({len(known)} grids, {example})",
        file=sys.stderr,
    )
    return True


def cmd_add(args: argparse.Namespace) -> int:
    """Create (or replace) a user; a grid not in the store is refused."""
    with store_of(args) as store:
        if _missing_grid(store, args.grid, action="创建"):
            return 2
        store.create_user(args.username, args.password, role=args.role, grid_id=args.grid)
        print(f"user {args.username} ({args.role}{', grid ' + args.grid if args.grid else ''})")
        if args.token:
            print(f"token: {store.create_token(args.username)}")
        return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Print every user: name, role, grid."""
    with store_of(args) as store:
        for user in store.list_users():
            print(f"{user.username}\t{user.role}\t{user.grid_id or '-'}")
        return 0


def _change(args: argparse.Namespace, **kwargs: object) -> int:
    with store_of(args) as store:
        try:
            user = store.update_user(args.username, **kwargs)  # type: ignore[arg-type]
        except (NotFoundError, ValueError) as err:
            print(f"  {err}", file=sys.stderr)
            return 2
    print(f"user {user.username} ({user.role}{', grid ' + user.grid_id if user.grid_id else ''})")
    return 0


def cmd_role(args: argparse.Namespace) -> int:
    """Change a user's role and, with ``--grid`` or ``--no-grid``, their grid."""
    if args.grid is not None:
        store = open_store_of(args)
        missing = _missing_grid(store, args.grid, action="修改")
        store.dispose()
        if missing:
            return 2
    return _change(args, role=args.role, grid_id=args.grid, clear_grid=args.no_grid)


def cmd_password(args: argparse.Namespace) -> int:
    """Set a new password for a user."""
    return _change(args, password=args.password)


def cmd_token(args: argparse.Namespace) -> int:
    """Print a new API token of a user, or with ``--revoke`` revoke every token they have."""
    settings = load_settings(database_url=args.database)
    with store_of(args) as store:
        if args.revoke:
            count = store.revoke_tokens(args.username)
            print(f"已吊销 {count} 个令牌 / revoked {count} token(s) of {args.username}")
            return 0
        try:
            token = store.create_token(args.username)
        except NotFoundError as err:
            print(f"  {err}", file=sys.stderr)
            return 2
        print(f"token: {token}")
        print(f"  有效 {settings.token_days:g} 天 / valid for {settings.token_days:g} days")
        return 0


def cmd_remove(args: argparse.Namespace) -> int:
    """Remove a user and their API tokens."""
    with store_of(args) as store:
        try:
            store.delete_user(args.username)
        except NotFoundError as err:
            print(f"  {err}", file=sys.stderr)
            return 2
    print(f"removed {args.username}")
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    """Assign a delivery route to a driver (``-`` unassigns)."""
    with store_of(args) as store:
        try:
            saved = store.get_route_plan(args.plan)
            routes = {r["route_id"] for r in saved["data"]["plan"]["routes"]}
            if args.route not in routes:
                print(f"  route '{args.route}' not in plan '{args.plan}'", file=sys.stderr)
                return 2
            # the same rule as the routes page: only a user with the driver role may drive
            driver = RoutePlans(store).assign(
                args.plan, args.route, None if args.driver == "-" else args.driver
            )
        except ValidationError as err:
            return print_problems(err)
        except NotFoundError as err:
            print(f"  {err}", file=sys.stderr)
            return 2
    print(f"route {args.plan}/{args.route}: {driver or '-'}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``user add|list|remove|role|password|assign`` to the command line."""
    user = sub.add_parser(
        "user",
        help="users: add, list, remove, role, password, assign (a route to a driver), token",
    )
    actions = user.add_subparsers(dest="user_action", required=True)
    add = actions.add_parser("add", help="create a user (the old `user NAME PASSWORD` form)")
    add.add_argument("username")
    add.add_argument("password")
    add.add_argument("--role", choices=ROLES, default="worker")
    add.add_argument("--grid", help="root of the user's area in the grid tree")
    add.add_argument("--token", action="store_true", help="also print an API token")
    add.set_defaults(func=cmd_add)
    listing = actions.add_parser("list", help="list users")
    listing.set_defaults(func=cmd_list)
    remove = actions.add_parser("remove", help="remove a user and their tokens")
    remove.add_argument("username")
    remove.set_defaults(func=cmd_remove)
    token = actions.add_parser("token", help="issue an API token, or --revoke all of a user's")
    token.add_argument("username")
    token.add_argument("--revoke", action="store_true", help="revoke every token of the user")
    token.set_defaults(func=cmd_token)
    role = actions.add_parser("role", help="change a user's role (and grid)")
    role.add_argument("username")
    role.add_argument("role", choices=ROLES)
    grid = role.add_mutually_exclusive_group()
    grid.add_argument("--grid", help="new root of the user's area")
    grid.add_argument("--no-grid", action="store_true", help="remove the user's grid")
    role.set_defaults(func=cmd_role)
    password = actions.add_parser("password", help="set a new password")
    password.add_argument("username")
    password.add_argument("password")
    password.set_defaults(func=cmd_password)
    assign = actions.add_parser("assign", help="assign a delivery route to a driver")
    assign.add_argument("plan")
    assign.add_argument("route")
    assign.add_argument("driver", help="a user with role driver, or - to unassign")
    assign.set_defaults(func=cmd_assign)
