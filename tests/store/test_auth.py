"""Tests of password hashing and API tokens."""

from __future__ import annotations

from mapserver.store.auth import hash_password, new_token, token_digest, verify_password


def test_hash_is_salted_and_verifies():
    first = hash_password("口令123", iterations=1000)
    second = hash_password("口令123", iterations=1000)
    assert first != second
    assert first.startswith("pbkdf2_sha256$1000$")
    assert verify_password("口令123", first)
    assert not verify_password("口令124", first)
    assert not verify_password("口令123", "garbage")


def test_tokens_are_random_and_digested():
    token = new_token()
    assert len(token) >= 40
    assert token != new_token()
    assert token_digest(token) == token_digest(token)
    assert token not in token_digest(token)
