"""Logins, sessions and tokens: who a request is, and the rules of logging in (a lock
after repeated failures, each attempt audited, a session per login)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mapserver.store import Store, User


@dataclass(frozen=True)
class LoginResult:
    """A login attempt: the user and their new session id, or why not (``locked_s``: the
    seconds left of a lock; both None: a wrong username or password)."""

    user: User | None = None
    session_id: str | None = None
    locked_s: float = 0.0


class Accounts:
    """Who a request is and how they log in, over one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def user_for_token(self, token: str, *, max_age_days: float, now: datetime) -> User | None:
        """The user of a valid, unexpired API token (None otherwise)."""
        return self.store.user_for_token(token, max_age_days=max_age_days, now=now)

    def user_for_session(self, session_id: str, *, now: datetime) -> User | None:
        """The user of an open session (None when it ended or expired)."""
        return self.store.user_for_session(session_id, now=now)

    def login(
        self,
        username: str,
        password: str,
        *,
        limits: dict[str, int],
        lock_s: float,
        session_hours: float,
        now: datetime,
    ) -> LoginResult:
        """Check a login: refused while any of ``limits`` (key -> failures allowed) is
        locked; a failure counts against every key for ``lock_s``; every attempt is
        audited; a success clears the username's failures and opens a session."""
        wait_s = self.store.login_lock(limits, now=now)
        if wait_s > 0:
            self.refused(username, reason="locked")
            return LoginResult(locked_s=wait_s)
        user = self.store.check_password(username, password)
        if user is None:
            self.store.record_login_failure(limits, window_s=lock_s, now=now)
            self.refused(username)
            return LoginResult()
        self.store.record_audit("login.ok", entity=f"user:{user.username}", actor=user.username)
        self.store.clear_login_failures([f"user:{username[:200]}"])
        session_id = self.store.open_session(user.username, hours=session_hours, now=now)
        return LoginResult(user=user, session_id=session_id)

    def refused(self, username: str, **why: str) -> None:
        """Record a refused login in the audit log (``why``: the reason, when not the
        password)."""
        name = username[:64]
        self.store.record_audit(
            "login.failed", entity=f"user:{name}", actor=name or "-", new=why or None
        )

    def logout(self, session_id: str) -> None:
        """End a session."""
        self.store.close_session(session_id)
