"""``mapserver user token``: a new token works for its user; ``--revoke`` ends every one of them."""

from __future__ import annotations

from mapserver.cli import main as cli_main
from mapserver.store import open_store


def test_issue_then_revoke_tokens(demo_db_url, capsys):
    assert cli_main(["--database", demo_db_url, "user", "token", "worker"]) == 0
    first = capsys.readouterr().out.split("token: ", 1)[1].split()[0]
    assert cli_main(["--database", demo_db_url, "user", "token", "worker"]) == 0
    second = capsys.readouterr().out.split("token: ", 1)[1].split()[0]
    store = open_store(demo_db_url)
    try:
        assert store.user_for_token(first).username == "worker"
        assert store.user_for_token(second).username == "worker"
        assert cli_main(["--database", demo_db_url, "user", "token", "worker", "--revoke"]) == 0
        assert "revoked 2 token(s) of worker" in capsys.readouterr().out
        assert store.user_for_token(first) is None and store.user_for_token(second) is None
    finally:
        store.dispose()


def test_token_for_an_unknown_user_is_refused(demo_db_url, capsys):
    assert cli_main(["--database", demo_db_url, "user", "token", "nobody"]) == 2
    assert "nobody" in capsys.readouterr().err
