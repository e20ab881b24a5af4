"""Password hashing (PBKDF2-SHA256) and API tokens, with the standard library only."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

_ALGORITHM = "pbkdf2_sha256"
_ITERATIONS = 260_000


def hash_password(password: str, *, iterations: int = _ITERATIONS) -> str:
    """Return ``pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>`` for a password."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"{_ALGORITHM}${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Return whether a password matches a hash made by ``hash_password``."""
    try:
        algorithm, iterations, salt, expected = stored.split("$")
        rounds = int(iterations)
        salt_bytes = bytes.fromhex(salt)
    except ValueError:
        return False
    if algorithm != _ALGORITHM:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt_bytes, rounds)
    return hmac.compare_digest(digest.hex(), expected)


@functools.cache
def dummy_hash() -> str:
    """A hash of a random password, made once: checking against it costs what a real check does."""
    return hash_password(secrets.token_urlsafe(16))


def new_token() -> str:
    """Return a fresh URL-safe API token (256 bits of randomness)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Return the SHA-256 hex digest under which a token is stored (never the token itself)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
