"""``mapserver token NAME``: issue an API token for a user, or revoke all of theirs."""

from __future__ import annotations

import argparse
import sys

from mapserver.config import load_settings
from mapserver.errors import NotFoundError


def cmd_token(args: argparse.Namespace) -> int:
    """Print a new API token of a user, or with ``--revoke`` revoke every token they have."""
    from mapserver.store import open_store

    settings = load_settings(database_url=args.database)
    store = open_store(settings.database_url)
    try:
        if args.revoke:
            count = store.revoke_tokens(args.username)
            print(f"已吊销 {count} 个令牌 / revoked {count} token(s) of {args.username}")
            return 0
        try:
            token = store.create_token(args.username)
        except NotFoundError as err:
            print(f"用户不存在 / {err}", file=sys.stderr)
            return 2
        print(f"token: {token}")
        print(f"  有效 {settings.token_days:g} 天 / valid for {settings.token_days:g} days")
        return 0
    finally:
        store.dispose()


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``token NAME [--revoke]`` to the command line."""
    token = sub.add_parser("token", help="issue an API token for a user, or revoke theirs")
    token.add_argument("username")
    token.add_argument(
        "--revoke", action="store_true", help="revoke every API token of the user instead"
    )
    token.set_defaults(func=cmd_token)
