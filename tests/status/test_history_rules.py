"""The rules of status as of a past sequence number, and of the count moves, on plain rows."""

from __future__ import annotations

import pandas as pd

from mapserver.status.history import count_moves, moved, status_as_of


def test_status_as_of_takes_the_latest_row_then_else_the_state_before_the_first_after():
    today = {
        ("household", "a"): ("red", 2),
        ("household", "b"): ("green", None),
        ("household", "c"): ("blue", 1),
        ("household", "d"): ("grey", 3),
    }
    log = [
        (1, "household", "a", None, "yellow", 4),
        (5, "household", "a", "yellow", "red", 2),
        (2, "household", "b", None, "black", 1),
        (4, "household", "b", "black", None, None),  # dropped by a replacing import
        (6, "household", "b", None, "green", None),
        (7, "household", "c", "grey", "blue", 1),  # only after: the state before the log
        (8, "household", "e", None, "red", 1),  # new after seq: no status then
    ]
    assert status_as_of(3, today, log) == {
        ("household", "a"): ("yellow", 4),
        ("household", "b"): ("black", 1),
        ("household", "c"): ("grey", None),
        ("household", "d"): ("grey", 3),  # untouched: as today
    }
    assert ("household", "b") not in status_as_of(4, today, log)
    assert status_as_of(8, today, log) == today


def test_count_moves_go_up_the_chain_and_to_the_district():
    now = {("B1", "red"): (2, 5), ("B2", "green"): (1, 1)}
    then = {("B1", "green"): (2, 5), ("B2", "green"): (1, 1)}
    moves = count_moves(now, then, {"B1": ["m1", "c1"], "B2": ["m2", "c1"]})
    got = {(r.level, r.entity_id, r.code): (r.households, r.persons) for r in moves.itertuples()}
    assert got == {
        ("grid", "m1", "red"): (-2, -5),
        ("grid", "m1", "green"): (2, 5),
        ("grid", "c1", "red"): (-2, -5),
        ("grid", "c1", "green"): (2, 5),
        ("total", "", "red"): (-2, -5),
        ("total", "", "green"): (2, 5),
    }
    counts = pd.DataFrame(
        [("grid", "m1", "red", 2, 5), ("grid", "m1", "blue", 1, 1)],
        columns=["level", "entity_id", "code", "households", "persons"],
    )
    after = moved(counts, moves[moves["entity_id"] == "m1"])
    assert set(zip(after["code"], after["households"], strict=True)) == {("blue", 1), ("green", 2)}
