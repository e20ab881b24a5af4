"""The ``mapserver`` command: one module per group of sub-commands, each adding its
parsers; this module assembles them and checks the settings once before any work."""

from __future__ import annotations

import argparse
import sys

from mapserver.cli import (
    cordon,
    database,
    demo,
    events,
    layers,
    planner,
    roads,
    routes,
    server,
    users,
    wallprint,
)
from mapserver.cli.users import legacy_argv
from mapserver.config import SettingsError, check_settings, load_settings

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="mapserver", description="网格化管理地图服务 / grid map server"
    )
    parser.add_argument(
        "--database", help="SQLAlchemy URL (default: DATABASE_URL or instance/mapserver.sqlite)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo.add_parser(sub)
    server.add_serve_parser(sub)
    layers.add_parser(sub)
    cordon.add_parser(sub)
    routes.add_parser(sub)
    roads.add_parser(sub)
    planner.add_parser(sub)
    users.add_parser(sub)
    events.add_parser(sub)
    wallprint.add_parser(sub)
    database.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mapserver`` command: settings are checked once, before any work."""
    argv = legacy_argv(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        serving = args.command in ("serve", "demo") and not getattr(args, "no_serve", False)
        problems = check_settings(load_settings(database_url=args.database), serving=serving)
    except SettingsError as err:
        problems = err.problems
    if problems:
        print("设置错误，未启动 / bad settings, nothing done:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    return int(args.func(args) or 0)
