"""Users of the store: accounts, API tokens, login sessions and the login lock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from mapserver.errors import NotFoundError
from mapserver.model import ROLES
from mapserver.store import (
    auth,
    sessions,
)
from mapserver.store.writes import (
    utc_now,
)


@dataclass(frozen=True)
class User:
    """A person with a login: ``role`` is one of ROLES (see services/access.py);
    ``grid_id`` is the root of their area in the grid tree (None: none or all)."""

    username: str
    role: str
    grid_id: str | None = None


class UserStore:
    """The users part of :class:`~mapserver.store.sql.Store` (a mixin: it uses the
    store's engines, tables and audit helper)."""

    def create_user(
        self, username: str, password: str, *, role: str = "worker", grid_id: str | None = None
    ) -> User:
        """Create or replace a user (password stored as a PBKDF2-SHA256 hash).

        Replacing a user is a password reset: their sessions and tokens end with it.
        """
        if role not in ROLES:
            msg = f"role {role!r} is not one of {', '.join(ROLES)}"
            raise ValueError(msg)
        if not username or not password:
            msg = "username and password must not be empty"
            raise ValueError(msg)
        table = self.tables["users"]
        values = {
            "username": username,
            "password_hash": auth.hash_password(password),
            "role": role,
            "grid_id": grid_id,
        }
        with self._write() as conn:
            found = self._user(conn, username)
            conn.execute(sa.delete(table).where(table.c.username == username))
            conn.execute(sa.insert(table), values)
            self._end_logins(conn, username)
            old = None if found is None else {"role": found[0].role, "grid_id": found[0].grid_id}
            self._audit(
                conn,
                kind="user.create",
                entity=f"user:{username}",
                old=old,
                new={"role": role, "grid_id": grid_id, "password": "set"},
            )
        return User(username=username, role=role, grid_id=grid_id)

    def _end_logins(self, conn: sa.Connection, username: str) -> int:
        """Delete every session and token of a user; return how many tokens went."""
        sessions_table = self.tables["sessions"]
        conn.execute(sa.delete(sessions_table).where(sessions_table.c.username == username))
        tokens = self.tables["tokens"]
        return conn.execute(sa.delete(tokens).where(tokens.c.username == username)).rowcount

    def _user(self, conn: sa.Connection, username: str) -> tuple[User, str] | None:
        """Return a user and their password hash."""
        table = self.tables["users"]
        row = conn.execute(sa.select(table).where(table.c.username == username)).first()
        if row is None:
            return None
        return User(username=row.username, role=row.role, grid_id=row.grid_id), row.password_hash

    def get_user(self, username: str) -> User | None:
        """The user with this name as the store has it now, or None."""
        with self._reader.connect() as conn:
            found = self._user(conn, username)
        return None if found is None else found[0]

    def check_password(self, username: str, password: str) -> User | None:
        """Return the user when the password matches, else None.

        An unknown username costs the same hash as a known one, so the answer time
        does not tell which usernames exist.
        """
        with self._reader.connect() as conn:
            found = self._user(conn, username)
        stored = auth.dummy_hash() if found is None else found[1]
        if not auth.verify_password(password, stored) or found is None:
            return None
        return found[0]

    def create_token(self, username: str) -> str:
        """Issue an API token for an existing user (only its SHA-256 digest is stored)."""
        token = auth.new_token()
        with self._write() as conn:
            if self._user(conn, username) is None:
                msg = f"user {username!r} does not exist"
                raise NotFoundError(msg)
            values = {
                "token": auth.token_digest(token),
                "username": username,
                "created_at": utc_now(),
            }
            conn.execute(sa.insert(self.tables["tokens"]), values)
            self._audit(conn, kind="token.create", entity=f"user:{username}")
        return token

    def user_for_token(
        self, token: str, *, max_age_days: float = 90.0, now: datetime | None = None
    ) -> User | None:
        """Return the user owning a token, or None (unknown, revoked or expired).

        A token expires ``max_age_days`` after its creation.
        """
        tokens, users = self.tables["tokens"], self.tables["users"]
        query = (
            sa.select(tokens.c.created_at, users.c.username, users.c.role, users.c.grid_id)
            .join(users, users.c.username == tokens.c.username)
            .where(tokens.c.token == auth.token_digest(token))
        )
        with self._reader.connect() as conn:
            row = conn.execute(query).first()
        if row is None or sessions.token_expired(
            row.created_at, max_age_days=max_age_days, now=now or datetime.now(UTC)
        ):
            return None
        return User(username=row.username, role=row.role, grid_id=row.grid_id)

    def revoke_tokens(self, username: str) -> int:
        """Revoke every API token of a user; return how many there were."""
        tokens = self.tables["tokens"]
        with self._write() as conn:
            count = conn.execute(sa.delete(tokens).where(tokens.c.username == username)).rowcount
            self._audit(conn, kind="token.revoke", entity=f"user:{username}", new={"tokens": count})
            return count

    def end_logins(self, username: str) -> int:
        """End every session and revoke every token of a user; return the tokens revoked."""
        with self._write() as conn:
            return self._end_logins(conn, username)

    def open_session(
        self, username: str, *, hours: float = 12.0, now: datetime | None = None
    ) -> str:
        """Start a login session of ``hours`` for a user; return the session id (secret)."""
        with self._write() as conn:
            found = self._user(conn, username)
            if found is None:
                msg = f"user {username!r} does not exist"
                raise NotFoundError(msg)
            return sessions.open_session(
                conn,
                self.tables["sessions"],
                username,
                found[1],
                hours=hours,
                now=now or datetime.now(UTC),
            )

    def user_for_session(self, session_id: str, *, now: datetime | None = None) -> User | None:
        """Return the user of a live session, or None (unknown, ended or expired)."""
        with self._reader.connect() as conn:
            username = sessions.session_username(
                conn, self.tables, session_id, now=now or datetime.now(UTC)
            )
            found = None if username is None else self._user(conn, username)
        return None if found is None else found[0]

    def list_users(self) -> list[User]:
        """Every user, by name."""
        table = self.tables["users"]
        with self._reader.connect() as conn:
            rows = conn.execute(sa.select(table).order_by(table.c.username)).all()
        return [User(username=r.username, role=r.role, grid_id=r.grid_id) for r in rows]

    def update_user(
        self,
        username: str,
        *,
        role: str | None = None,
        grid_id: str | None = None,
        clear_grid: bool = False,
        password: str | None = None,
    ) -> User:
        """Change a user's role, grid (``clear_grid`` removes it) or password.

        Raises NotFoundError for an unknown user, ValueError for a bad role or an
        empty password.
        """
        if role is not None and role not in ROLES:
            msg = f"role {role!r} is not one of {', '.join(ROLES)}"
            raise ValueError(msg)
        if password is not None and not password:
            msg = "password must not be empty"
            raise ValueError(msg)
        table = self.tables["users"]
        values: dict = {}
        if role is not None:
            values["role"] = role
        if grid_id is not None or clear_grid:
            values["grid_id"] = None if clear_grid else grid_id
        if password is not None:
            values["password_hash"] = auth.hash_password(password)
        with self._write() as conn:
            found = self._user(conn, username)
            if found is None:
                msg = f"user {username!r} does not exist"
                raise NotFoundError(msg)
            if values:
                conn.execute(sa.update(table).where(table.c.username == username).values(values))
            if password is not None:  # a new password ends every session and token
                self._end_logins(conn, username)
            after = self._user(conn, username)[0]  # type: ignore[index]
            if values:
                self._audit(
                    conn,
                    kind="user.update",
                    entity=f"user:{username}",
                    old={"role": found[0].role, "grid_id": found[0].grid_id},
                    new={
                        "role": after.role,
                        "grid_id": after.grid_id,
                        **({"password": "changed"} if password is not None else {}),
                    },
                )
            return after

    def delete_user(self, username: str) -> None:
        """Remove a user, their sessions and API tokens; NotFoundError when there is none."""
        with self._write() as conn:
            found = self._user(conn, username)
            if found is None:
                msg = f"user {username!r} does not exist"
                raise NotFoundError(msg)
            for name in ("tokens", "sessions", "users"):
                table = self.tables[name]
                conn.execute(sa.delete(table).where(table.c.username == username))
            self._audit(
                conn,
                kind="user.remove",
                entity=f"user:{username}",
                old={"role": found[0].role, "grid_id": found[0].grid_id},
            )

    def close_session(self, session_id: str) -> None:
        """End one session (logout)."""
        table = self.tables["sessions"]
        with self._write() as conn:
            conn.execute(sa.delete(table).where(table.c.session == auth.token_digest(session_id)))

    def login_lock(self, keys: Iterable[str], *, now: datetime | None = None) -> float:
        """Return the seconds left on the longest login lock of ``keys`` (0: not locked)."""
        with self._reader.connect() as conn:
            return sessions.lock_seconds(
                conn, self.tables["login_failures"], keys, now=now or datetime.now(UTC)
            )

    def record_login_failure(
        self, limits: Mapping[str, int], *, window_s: float, now: datetime | None = None
    ) -> None:
        """Count a failed login against each key (-> failures that lock it for ``window_s``)."""
        with self._write() as conn:
            sessions.record_failure(
                conn,
                self.tables["login_failures"],
                limits,
                window_s=window_s,
                now=now or datetime.now(UTC),
            )

    def clear_login_failures(self, keys: Iterable[str]) -> None:
        """Forget the failed logins and locks of ``keys`` (after a successful login)."""
        with self._write() as conn:
            sessions.clear_failures(conn, self.tables["login_failures"], keys)
