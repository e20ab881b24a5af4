"""Sessions, tokens and login: the signing secret, logout, revocation, expiry, lockout, headers."""

from __future__ import annotations

import re
import shutil
import stat
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from mapserver.config import (
    Settings,
    SettingsError,
    load_settings,
    secret_file_for,
    secret_key_for,
)
from mapserver.store import audit
from mapserver.web import create_app

PASSWORD = "demo2020"


def _csrf(client) -> str:
    with client.session_transaction() as session:
        return session.get("csrf", "")


def _post_login(client, username: str, password: str = PASSWORD, *, csrf: bool = True):
    """Post the login form, with the page's CSRF token unless ``csrf`` is False."""
    client.get("/login")
    data = {"username": username, "password": password}
    if csrf:
        data["csrf"] = _csrf(client)
    return client.post("/login", data=data)


def _logged_in_as(client) -> str | None:
    """The username the command map's menu shows, or None."""
    found = re.search(r'<span class="who">([^<]*)</span>', client.get("/").get_data(as_text=True))
    return found.group(1) if found else None


def _forge(secret: str, payload: dict) -> str:
    """A session cookie value for ``payload`` signed as Flask signs it with ``secret``."""
    signer = Flask("forger")
    signer.secret_key = secret
    return SecureCookieSessionInterface().get_signing_serializer(signer).dumps(payload)


def _entry_status(client, household: str, csrf: str) -> int:
    """Status code of a session write (the CSRF-guarded status API)."""
    response = client.post(
        "/api/status",
        json={"entity_id": household, "status": "grey"},
        headers={"X-CSRF-Token": csrf},
    )
    return response.status_code


@pytest.fixture
def keyless_app(demo_db_url):
    """The app with no configured secret: it must make its own."""
    app = create_app({"database_url": demo_db_url})
    app.config["TESTING"] = True
    yield app
    app.extensions["store"].dispose()


# -- the signing secret ----------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["dev-secret-change-me", "test", "secret", "changeme"])
def test_cookie_forged_with_a_constant_key_is_refused(keyless_app, demo_layers, secret):
    client = keyless_app.test_client()
    household = demo_layers["households"]["household_id"].iloc[0]
    forged = {"user": "admin", "sid": "x" * 43, "csrf": "c", "_permanent": True}
    client.set_cookie("session", _forge(secret, forged))
    assert _entry_status(client, household, "c") == 401
    assert _logged_in_as(client) is None
    assert client.get("/upload").status_code == 302  # sent to the login page


def test_cookie_signed_with_the_real_key_still_needs_a_live_session(keyless_app, demo_layers):
    client = keyless_app.test_client()
    household = demo_layers["households"]["household_id"].iloc[0]
    real_key = keyless_app.config["SECRET_KEY"]
    client.set_cookie("session", _forge(real_key, {"user": "admin", "csrf": "c"}))
    assert _entry_status(client, household, "c") == 401
    client.set_cookie("session", _forge(real_key, {"sid": "made-up", "csrf": "c"}))
    assert _entry_status(client, household, "c") == 401


def test_secret_file_is_private_shared_and_reused(demo_db_url, keyless_app):
    path = secret_file_for(demo_db_url)
    assert path is not None and path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = keyless_app.config["SECRET_KEY"]
    assert len(key) >= 40 and key != "dev-secret-change-me"
    client = keyless_app.test_client()
    assert _post_login(client, "admin").status_code == 302
    cookie = client.get_cookie("session").value
    second = create_app({"database_url": demo_db_url})  # another process, or a restart
    try:
        assert second.config["SECRET_KEY"] == key
        other = second.test_client()
        other.set_cookie("session", cookie)
        assert _logged_in_as(other) == "admin"
    finally:
        second.extensions["store"].dispose()


def test_secret_file_made_once_per_database(tmp_path, demo_db_url):
    copy = tmp_path / "other" / "copy.sqlite"
    copy.parent.mkdir()
    shutil.copy(demo_db_url.removeprefix("sqlite:///"), copy)
    first = secret_key_for(Settings(database_url=demo_db_url))
    assert secret_key_for(Settings(database_url=demo_db_url)) == first
    assert secret_key_for(Settings(database_url=f"sqlite:///{copy}")) != first
    assert secret_key_for(Settings(database_url="sqlite://")) != secret_key_for(
        Settings(database_url="sqlite://")
    )


def test_postgresql_without_a_secret_refuses_to_start_and_says_how():
    settings = Settings(database_url="postgresql+psycopg://host/db")
    with pytest.raises(SettingsError, match="MAPSERVER_SECRET_KEY"):
        secret_key_for(settings)
    assert secret_key_for(Settings(database_url=settings.database_url, secret_key="k" * 32))


# -- logout and password changes ---------------------------------------------------------------


def test_cookie_works_before_logout_and_not_after(app, client, demo_layers):
    worker = app.extensions["store"].get_user("worker")
    buildings = demo_layers["buildings"]
    own = buildings.loc[buildings["grid_id"] == worker.grid_id, "building_id"].iloc[0]
    households = demo_layers["households"]
    household = households.loc[households["building_id"] == own, "household_id"].iloc[0]
    assert _post_login(client, "worker").status_code == 302
    csrf = _csrf(client)
    cookie = client.get_cookie("session").value
    assert _entry_status(client, household, csrf) == 200
    assert client.get("/logout").status_code == 405  # a link cannot log anyone out
    assert client.post("/logout").status_code == 403  # nor a form from another site
    assert _logged_in_as(client) == "worker"
    assert client.post("/logout", data={"csrf": csrf}).status_code == 302
    assert _logged_in_as(client) is None
    client.set_cookie("session", cookie)  # the old cookie, replayed
    assert _entry_status(client, household, csrf) == 401
    assert _logged_in_as(client) is None


def test_logout_ends_only_that_session(app):
    phone, desk = app.test_client(), app.test_client()
    _post_login(phone, "admin")
    _post_login(desk, "admin")
    phone.post("/logout", data={"csrf": _csrf(phone)})
    assert _logged_in_as(phone) is None
    assert _logged_in_as(desk) == "admin"


def test_password_change_ends_sessions_and_tokens(app, client, demo_layers):
    store = app.extensions["store"]
    token = store.create_token("admin")
    _post_login(client, "admin")
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/import/log", headers=bearer).status_code == 200
    assert _logged_in_as(client) == "admin"
    store.create_user("admin", "a new password", role="admin")
    assert client.get("/api/import/log", headers=bearer).status_code == 401
    assert _logged_in_as(client) is None
    assert _post_login(client, "admin", "a new password").status_code == 302


def test_expired_and_revoked_tokens_are_refused(app, client):
    store = app.extensions["store"]
    days = app.config["SETTINGS"].token_days
    assert days == 90
    token = store.create_token("admin")
    bearer = {"Authorization": f"Bearer {token}"}
    start = datetime.now(UTC)
    app.extensions["clock"] = lambda: start + timedelta(days=days - 1)
    assert client.get("/api/import/log", headers=bearer).status_code == 200
    app.extensions["clock"] = lambda: start + timedelta(days=days, minutes=1)
    assert client.get("/api/import/log", headers=bearer).status_code == 401
    app.extensions["clock"] = lambda: start
    kept = store.create_token("admin")
    assert client.get("/api/import/log", headers={"X-API-Token": kept}).status_code == 200
    assert store.revoke_tokens("admin") == 2
    assert client.get("/api/import/log", headers={"X-API-Token": kept}).status_code == 401


def test_session_expires_after_its_lifetime(app, client):
    start = datetime.now(UTC)
    app.extensions["clock"] = lambda: start
    _post_login(client, "admin")
    hours = app.config["SETTINGS"].session_hours
    app.extensions["clock"] = lambda: start + timedelta(hours=hours, seconds=-5)
    assert _logged_in_as(client) == "admin"
    app.extensions["clock"] = lambda: start + timedelta(hours=hours, seconds=5)
    assert _logged_in_as(client) is None


# -- the login form ------------------------------------------------------------------------


def test_login_without_csrf_token_is_refused(client):
    response = _post_login(client, "admin", csrf=False)
    assert response.status_code == 403
    assert "登录页面已过期" in response.get_data(as_text=True)
    assert _logged_in_as(client) is None
    response = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf": "x"})
    assert response.status_code == 403 and _logged_in_as(client) is None


def test_login_renews_the_session_and_its_csrf_token(client):
    client.get("/login")
    before = _csrf(client)
    _post_login(client, "admin")
    assert _csrf(client) and _csrf(client) != before


def test_lockout_after_failures_and_unlock_after_the_period(app, client):
    start = datetime.now(UTC)
    app.extensions["clock"] = lambda: start
    for _ in range(5):
        response = _post_login(client, "admin", "wrong")
        assert response.status_code == 200 and "用户名或密码错误" in response.get_data(as_text=True)
    locked = _post_login(client, "admin")  # the right password, but locked
    assert locked.status_code == 429
    assert "15 分钟后再试" in locked.get_data(as_text=True)
    assert _logged_in_as(client) is None
    app.extensions["clock"] = lambda: start + timedelta(minutes=14)
    assert _post_login(client, "admin").status_code == 429
    app.extensions["clock"] = lambda: start + timedelta(minutes=15, seconds=1)
    assert _post_login(client, "admin").status_code == 302
    assert _logged_in_as(client) == "admin"


def test_unknown_usernames_lock_the_same_way(app, client):
    for _ in range(5):
        assert _post_login(client, "nobody", "wrong").status_code == 200
    assert _post_login(client, "nobody", "wrong").status_code == 429
    assert _post_login(client, "worker").status_code == 302  # other names are not locked


def test_lockout_by_address_across_usernames(demo_db_url):
    app = create_app(
        {"database_url": demo_db_url, "login_max_failures_per_address": 3, "secret_key": "t" * 32}
    )
    try:
        client = app.test_client()
        for name in ("a", "b", "c"):
            assert _post_login(client, name, "wrong").status_code == 200
        assert _post_login(client, "admin").status_code == 429
        other = app.test_client()  # same address: the test client is always 127.0.0.1
        assert _post_login(other, "worker").status_code == 429
    finally:
        app.extensions["store"].dispose()


def test_behind_a_trusted_proxy_lockout_and_audit_use_the_client_address(demo_db_url):
    """With ``trusted_proxies=1`` each client is its own address (from the proxy's
    X-Forwarded-For): one client's failures lock it alone, and the audit log names it.
    Without the setting the header is ignored: a client cannot forge its address."""
    settings = {"database_url": demo_db_url, "login_max_failures_per_address": 3}
    app = create_app({**settings, "trusted_proxies": 1, "secret_key": "t" * 32})
    try:
        attacker = app.test_client()
        attacker.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.7"
        for name in ("a", "b", "c"):
            assert _post_login(attacker, name, "wrong").status_code == 200
        assert _post_login(attacker, "admin").status_code == 429
        colleague = app.test_client()  # behind the same proxy, from another address
        colleague.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.2"
        assert _post_login(colleague, "worker").status_code == 302
        store = app.extensions["store"]
        failed = store.read_audit(audit.AuditFilter(kind="login.failed"))
        assert {row["address"] for row in failed} == {"203.0.113.7"}
        (ok,) = store.read_audit(audit.AuditFilter(kind="login.ok"))
        assert ok["address"] == "198.51.100.2"
    finally:
        app.extensions["store"].dispose()
    plain = create_app({**settings, "secret_key": "t" * 32})
    try:
        forged = plain.test_client()
        forged.environ_base["HTTP_X_FORWARDED_FOR"] = "192.0.2.99"
        _post_login(forged, "nobody", "wrong")
        (row,) = plain.extensions["store"].read_audit(
            audit.AuditFilter(kind="login.failed", entity="nobody")
        )
        assert row["address"] == "127.0.0.1"
    finally:
        plain.extensions["store"].dispose()


def test_failures_far_apart_do_not_lock(app, client):
    start = datetime.now(UTC)
    for i in range(6):
        app.extensions["clock"] = lambda i=i: start + timedelta(minutes=16 * i)
        assert _post_login(client, "admin", "wrong").status_code == 200
    assert _post_login(client, "admin").status_code == 302


# -- cookies and headers ---------------------------------------------------------------------


def test_session_cookie_attributes(app, client, demo_db_url):
    cookie = _post_login(client, "admin").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "Expires=" in cookie
    assert "Set-Cookie" not in client.get("/").headers  # not re-sent on every answer
    secure = create_app({"database_url": demo_db_url, "cookie_secure": True})
    try:
        other = secure.test_client()
        other.get("/login")
        response = other.post(
            "/login", data={"username": "admin", "password": PASSWORD, "csrf": _csrf(other)}
        )
        assert "Secure" in response.headers["Set-Cookie"]
    finally:
        secure.extensions["store"].dispose()


@pytest.mark.parametrize("path", ["/", "/login", "/api/grids?level=district", "/static/js/map.js"])
def test_security_headers_on_every_response(client, path):
    headers = client.get(path).headers
    policy = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy and "object-src 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";")[0]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


def test_inline_scripts_carry_the_response_nonce(client, login):
    login(client, "admin")
    response = client.get("/upload")
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    page = response.get_data(as_text=True)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page)
    assert inline and all(f'nonce="{nonce}"' in attrs for attrs in inline)
    again = client.get("/upload").headers["Content-Security-Policy"]
    assert f"'nonce-{nonce}'" not in again  # a new nonce every response


@pytest.mark.browser
def test_pages_run_under_the_policy_and_logout_button_works(live_server, offline_page):
    """In Chromium: inline scripts with the nonce run, nothing is refused, logout is a POST."""
    page = offline_page
    refused: list[str] = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(f"{live_server.url}/login?next=/upload")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.card button[type=submit]")
    page.wait_for_url(f"{live_server.url}/upload")
    assert page.evaluate("() => typeof window.MS_STRINGS") == "object"  # the inline script ran
    for path in ("/entry", "/routes", "/planner"):
        page.goto(live_server.url + path)
        page.wait_for_load_state("load")
    page.goto(live_server.url + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)
    assert page.locator(".nav .who").inner_text() == "admin"
    page.click("form.logout button")
    page.wait_for_selector(".nav a[href^='/login']")
    assert page.locator(".nav .who").count() == 0
    assert refused == []


def test_session_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("MAPSERVER_COOKIE_SECURE", "yes")
    monkeypatch.setenv("MAPSERVER_TOKEN_DAYS", "7")
    monkeypatch.setenv("MAPSERVER_LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("MAPSERVER_TRUSTED_PROXIES", "1")
    monkeypatch.setenv("MAPSERVER_DB_POOL", "7")
    settings = load_settings()
    assert settings.db_pool == 7
    assert settings.cookie_secure and settings.token_days == 7 and settings.login_max_failures == 3
    assert settings.trusted_proxies == 1
    for name, bad in [
        ("MAPSERVER_TRUSTED_PROXIES", "yes"),
        ("MAPSERVER_COOKIE_SECURE", "maybe"),
        ("MAPSERVER_SESSION_HOURS", "-1"),
        ("MAPSERVER_TOKEN_DAYS", "inf"),
        ("MAPSERVER_LOGIN_MAX_FAILURES", "2.5"),
        ("MAPSERVER_MAX_STOPS", "many"),
        ("MAPSERVER_DB_POOL", "0"),
    ]:
        monkeypatch.setenv(name, bad)
        with pytest.raises(SettingsError, match=name):
            load_settings()
        monkeypatch.delenv(name)
