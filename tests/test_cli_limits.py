"""The command line refuses the same out-of-range delivery and patrol parameters as the
API, with the same field and reason (one parser in services/requests.py)."""

from __future__ import annotations

import re

import pytest

from mapserver.cli import main as cli_main

DELIVERY = [
    ("vans", {"vans": 100_000}, ["--vans", "100000"]),
    ("tricycles", {"tricycles": -1}, ["--tricycles", "-1"]),
    ("trips", {"trips": 0}, ["--trips", "0"]),
    ("trips", {"trips": 21}, ["--trips", "21"]),
    ("time_limit_s", {"time_limit_s": 0.1}, ["--time-limit", "0.1"]),
    ("time_limit_s", {"time_limit_s": 601}, ["--time-limit", "601"]),
]
PATROL = [
    ("teams", {"kind": "checkpoints", "teams": 0}, ["--checkpoints", "--teams", "0"]),
    ("teams", {"kind": "checkpoints", "teams": 51}, ["--checkpoints", "--teams", "51"]),
    ("shift_h", {"grids": ["SD01"], "shift_h": 0}, ["--grid", "SD01", "--shift", "0"]),
    ("shift_h", {"grids": ["SD01"], "shift_h": 25}, ["--grid", "SD01", "--shift", "25"]),
    ("grids", {"kind": "streets"}, []),
]


def _api_reason(app, path: str, body: dict, field: str) -> str:
    token = app.extensions["store"].create_token("admin")
    client = app.test_client()
    answer = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 400, answer.get_data(as_text=True)
    issue = next(i for i in answer.get_json()["issues"] if i["field"] == field)
    return issue["reason"]


def _rule(text: str) -> str:
    """A refusal without the value it quotes (the CLI reads 601 as 601.0)."""
    return re.sub(r": '[^']*' is ", ": … is ", text)


@pytest.mark.parametrize(("field", "body", "argv"), DELIVERY)
def test_delivery_limits_are_the_apis(app, demo_db_url, capsys, field, body, argv):
    reason = _api_reason(app, "/api/delivery/plans", body, field)
    assert cli_main(["--database", demo_db_url, "deliver", *argv]) == 2
    err = capsys.readouterr().err
    assert _rule(f"field '{field}': {reason}") in _rule(err) and "nothing planned" in err


@pytest.mark.parametrize(("field", "body", "argv"), PATROL)
def test_patrol_limits_are_the_apis(app, demo_db_url, capsys, field, body, argv):
    reason = _api_reason(app, "/api/patrol/plans", body, field)
    assert cli_main(["--database", demo_db_url, "patrol", *argv]) == 2
    err = capsys.readouterr().err
    assert _rule(f"field '{field}': {reason}") in _rule(err) and "nothing planned" in err
