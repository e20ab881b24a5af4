"""Group commit: status writes arriving together share a transaction, each on its own."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from mapserver.errors import ValidationError
from mapserver.store import StatusRow, Store, audit
from mapserver.store.groupcommit import GroupCommit, PendingWrite


def test_writes_queued_behind_a_batch_go_together_each_answered():
    batches: list[list[int]] = []

    def commit(batch: list[PendingWrite]) -> None:
        time.sleep(0.05)  # a slow transaction: the others queue meanwhile
        batches.append([w.rows[0] for w in batch])
        for write in batch:
            if write.rows[0] % 7 == 3:
                write.error = ValueError(f"bad {write.rows[0]}")
            else:
                write.result = write.rows[0] * 10

    group = GroupCommit(commit, max_batch=8)
    answers: dict[int, object] = {}

    def submit(n: int) -> None:
        try:
            answers[n] = group.submit([n], user="u", source="s")
        except ValueError as err:
            answers[n] = str(err)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(n for batch in batches for n in batch) == list(range(30))  # each once
    assert max(len(b) for b in batches) > 1  # writes did share transactions
    assert max(len(b) for b in batches) <= 8
    assert len(batches) < 30
    for n in range(30):
        assert answers[n] == (f"bad {n}" if n % 7 == 3 else n * 10)


def test_a_failed_transaction_fails_every_write_of_it_and_the_next_leads():
    calls = []

    def commit(batch: list[PendingWrite]) -> None:
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("database went away")
        for write in batch:
            write.result = 1

    group = GroupCommit(commit)
    with pytest.raises(RuntimeError, match="went away"):
        group.submit([1], user="u", source="s")
    assert group.submit([2], user="u", source="s") == 1  # the group is not stuck


def test_concurrent_store_writes_get_own_seqs_audit_rows_and_errors(loaded: Store):
    """Many threads writing at once through the real store: every good write's rows are
    in the change log once under its own consecutive seqs, with its own audit row and
    address; a write naming a missing household fails alone."""
    households = [f"H{i:02d}" for i in range(1, 11)]
    before = loaded.last_seq()
    results: dict[int, object] = {}

    def write(n: int) -> None:
        audit.bind(audit.AuditContext(address=f"10.0.0.{n}", actor=lambda: f"user{n}"))
        rows = [StatusRow("household", households[(n + k) % 10], f"s{n}") for k in range(3)]
        if n % 5 == 4:
            rows.append(StatusRow("household", "NOPE", "red"))
        try:
            results[n] = loaded.apply_status(rows, user=f"user{n}", source=f"api{n}")
        except ValidationError as err:
            results[n] = err
        finally:
            audit.clear()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    good = [n for n in range(20) if n % 5 != 4]
    for n in range(20):
        if n in good:
            assert isinstance(results[n], int)
        else:
            assert isinstance(results[n], ValidationError)
            assert results[n].issues[0].row == 4 and results[n].issues[0].file == f"api{n}"
    log = loaded.changes_since(before)
    assert len(log) == 3 * len(good)
    for n in good:
        last = results[n]
        mine = log[log["seq"].between(last - 2, last)]
        assert set(mine["changed_by"]) == {f"user{n}"}
        assert set(mine["new_status"]) == {f"s{n}"}
    table = loaded.tables["audit_log"]
    with loaded.engine.connect() as conn:
        rows = conn.execute(
            sa.select(table.c.actor, table.c.address).where(table.c.kind == "status.write")
        ).all()
    assert sorted(rows) == sorted((f"user{n}", f"10.0.0.{n}") for n in good)
    # the status table holds the last write of each household in change-log order
    latest = log.sort_values("seq").groupby("entity_id")["new_status"].last()
    status = loaded.read_status(entity_kind="household").set_index("entity_id")["status"]
    for household, code in latest.items():
        assert status[household] == code
