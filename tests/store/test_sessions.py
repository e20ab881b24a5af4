"""Server-side sessions, token lifetimes and login lockout in the store, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mapserver.errors import NotFoundError
from mapserver.store import audit
from mapserver.store.auth import hash_password

START = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def users(store):
    """The store with two users (cheap hashes are not needed: PBKDF2 runs for real)."""
    store.create_user("ann", "pw-ann", role="admin")
    store.create_user("bo", "pw-bo", role="worker", grid_id="G1")
    return store


def test_session_opens_resolves_and_closes(users):
    first = users.open_session("ann", hours=12, now=START)
    second = users.open_session("ann", hours=12, now=START)
    assert first != second and len(first) >= 40
    assert users.user_for_session(first, now=START).username == "ann"
    users.close_session(first)
    assert users.user_for_session(first, now=START) is None
    assert users.user_for_session(second, now=START).username == "ann"
    assert users.user_for_session("not-a-session", now=START) is None


def test_session_expires_and_old_rows_are_dropped(users):
    old = users.open_session("bo", hours=1, now=START)
    assert users.user_for_session(old, now=START + timedelta(minutes=59)).username == "bo"
    assert users.user_for_session(old, now=START + timedelta(hours=1)) is None
    assert len(users.table_rows("sessions")) == 1
    users.open_session("bo", hours=1, now=START + timedelta(hours=2))
    assert len(users.table_rows("sessions")) == 1  # the expired one went


def test_session_ids_are_stored_only_as_digests(users):
    session_id = users.open_session("ann", now=START)
    with users.engine.connect() as conn:
        stored = conn.execute(users.tables["sessions"].select()).first()
    assert session_id not in stored.session and len(stored.session) == 64


def test_replacing_a_user_ends_their_sessions_and_tokens_only(users):
    session = users.open_session("ann", now=START)
    token = users.create_token("ann")
    other = users.create_token("bo")
    users.create_user("ann", "new password", role="admin")
    assert users.user_for_session(session, now=START) is None
    assert users.user_for_token(token) is None
    assert users.user_for_token(other).username == "bo"
    assert users.check_password("ann", "new password").username == "ann"


def test_token_lifetime_and_revocation(users):
    token = users.create_token("bo")
    created = datetime.now(UTC)
    assert users.user_for_token(token, now=created + timedelta(days=89)).grid_id == "G1"
    assert users.user_for_token(token, now=created + timedelta(days=90, seconds=1)) is None
    assert users.user_for_token(token, max_age_days=7, now=created + timedelta(days=8)) is None
    assert users.revoke_tokens("bo") == 1
    assert users.user_for_token(token, now=created) is None
    assert users.revoke_tokens("bo") == 0
    revoked = users.read_audit(audit.AuditFilter(kind="token.revoke"))
    assert [(r["entity"], r["new"]["tokens"]) for r in revoked] == [
        ("user:bo", 0),
        ("user:bo", 1),
    ]
    with pytest.raises(NotFoundError, match="nobody"):
        users.create_token("nobody")


def test_a_password_changed_any_way_ends_the_sessions(users):
    session = users.open_session("bo", now=START)
    table = users.tables["users"]
    with users.engine.begin() as conn:  # not through create_user
        conn.execute(
            table.update().where(table.c.username == "bo").values(password_hash=hash_password("x"))
        )
    assert users.user_for_session(session, now=START) is None
    with pytest.raises(NotFoundError, match="nobody"):
        users.open_session("nobody", now=START)


def test_end_logins_ends_everything_of_one_user(users):
    session = users.open_session("bo", now=START)
    users.create_token("bo")
    users.create_token("bo")
    assert users.end_logins("bo") == 2
    assert users.user_for_session(session, now=START) is None


def test_lockout_per_key_window_and_clear(users):
    limits = {"user:ann": 3, "addr:10.0.0.1": 5}
    for minute in range(2):
        users.record_login_failure(limits, window_s=900, now=START + timedelta(minutes=minute))
    assert users.login_lock(limits, now=START + timedelta(minutes=2)) == 0
    users.record_login_failure(limits, window_s=900, now=START + timedelta(minutes=2))
    left = users.login_lock(limits, now=START + timedelta(minutes=2))
    assert left == pytest.approx(900)
    assert users.login_lock(["addr:10.0.0.1"], now=START + timedelta(minutes=2)) == 0
    assert users.login_lock(limits, now=START + timedelta(minutes=16)) > 0
    assert users.login_lock(limits, now=START + timedelta(minutes=17)) == 0
    users.record_login_failure(limits, window_s=900, now=START + timedelta(minutes=17))
    assert users.login_lock(limits, now=START + timedelta(minutes=17)) == 0  # counting anew
    for minute in (18, 19, 19):
        users.record_login_failure(
            {"addr:10.0.0.1": 5}, window_s=900, now=START + timedelta(minutes=minute)
        )
    assert users.login_lock(["addr:10.0.0.1"], now=START + timedelta(minutes=19)) == 0
    users.record_login_failure(limits, window_s=900, now=START + timedelta(minutes=20))
    assert users.login_lock(["addr:10.0.0.1"], now=START + timedelta(minutes=20)) > 0
    users.clear_login_failures(["addr:10.0.0.1", "user:ann"])
    assert users.login_lock(limits, now=START + timedelta(minutes=20)) == 0


def test_new_password_or_removal_ends_sessions_and_tokens(users):
    session = users.open_session("bo", now=START)
    token = users.create_token("bo")
    users.update_user("bo", role="planner")  # no new password: logins stay
    assert users.user_for_session(session, now=START).role == "planner"
    assert users.user_for_token(token).role == "planner"
    users.update_user("bo", password="new")
    assert users.user_for_session(session, now=START) is None
    assert users.user_for_token(token) is None
    session = users.open_session("ann", now=START)
    users.delete_user("ann")
    assert users.user_for_session(session, now=START) is None
    assert not [row for row in users.table_rows("sessions") if "ann" in row]


def test_request_ids_are_claimed_once_and_old_ones_forgotten(users):
    """A phone's request id is written once per user; ids older than the kept window go."""
    import sqlalchemy as sa

    from mapserver.store.sql import REQUEST_IDS_KEPT_DAYS

    table = users.tables["client_requests"]
    old = datetime.now(UTC) - timedelta(days=REQUEST_IDS_KEPT_DAYS + 1)
    with users.engine.begin() as conn:
        conn.execute(
            table.insert().values(
                username="w", request_id="stale", created_at=old.isoformat(timespec="milliseconds")
            )
        )
    assert users.claim_request("w", "r-1") is True
    assert users.claim_request("w", "r-1") is False  # sent twice: applied once
    assert users.claim_request("v", "r-1") is True  # another user's id of the same text
    with users.engine.connect() as conn:
        kept = {tuple(r) for r in conn.execute(sa.select(table.c.username, table.c.request_id))}
    assert kept == {("w", "r-1"), ("v", "r-1")}  # the stale id is gone
    users.release_request("w", "r-1")
    assert users.claim_request("w", "r-1") is True  # released: may be sent again
