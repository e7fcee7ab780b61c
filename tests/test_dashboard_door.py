"""The dashboard's door: users, password hashes, throttling, CSRF, sessions, tokens, origins.

Database-level checks of `dashboard.users` and `dashboard.throttle`, and HTTP-level ones
against a served dashboard (no browser: what a script can send, the browser tests do not).
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import hypothesis.strategies as st
import pytest
import requests
import sqlalchemy as sa
from bokeh.util.token import get_token_payload
from dashboard_data import add_device, add_user, password_of, served_dashboard

from dashboard import login, throttle, users
from dashboard import strings as S
from devkit.local.net import free_port
from devkit.waiting import poll_until

REPO = Path(__file__).resolve().parent.parent


# -- users, hashes, throttling (the database alone)


def test_passwords_are_stored_as_argon2id_and_names_ignore_case(migrated_db: sa.Engine) -> None:
    with migrated_db.begin() as conn:
        add_user(conn, "Anna", "manager")
        stored = conn.execute(sa.text("SELECT password_hash FROM dashboard_users")).scalar_one()
        assert stored.startswith("$argon2id$") and password_of("Anna") not in stored
        assert users.verify(conn, "anna", password_of("Anna")).name == "Anna"
        assert users.verify(conn, "Anna", "wrong-" + password_of("Anna")) is None
        assert users.verify(conn, "nobody", password_of("Anna")) is None
        with pytest.raises(users.Conflict):
            add_user(conn, "ANNA", "viewer")
        with pytest.raises(users.BadInput):
            users.add(conn, "Boris", users.Role.VIEWER, "short", [])
        users.set_enabled(conn, "Anna", False)
        assert users.verify(conn, "Anna", password_of("Anna")) is None


def test_an_unknown_name_takes_as_long_to_refuse_as_a_wrong_password(
    migrated_db: sa.Engine,
) -> None:
    """No timing oracle for which names exist: both run one argon2 verification (CPU time
    of the hashing threads, interleaved, so the shared machine's load hits both alike)."""
    with migrated_db.begin() as conn:
        add_user(conn, "anna", "owner")
    known, unknown = [], []
    with migrated_db.connect() as conn:
        for _ in range(3):
            for name, times in (("anna", known), ("nobody-at-all", unknown)):
                start = time.process_time()
                assert users.verify(conn, name, "a-wrong-password") is None
                times.append(time.process_time() - start)
    assert 0.5 < sum(unknown) / sum(known) < 2.0, (known, unknown)
    assert min(unknown) > 0.02  # a real argon2 run, not a shortcut


def test_parallel_guesses_are_counted_one_by_one(migrated_db: sa.Engine) -> None:
    """12 attempts at once on one name with a limit of 5: exactly 5 get through."""
    passed, barrier = [], threading.Barrier(12)

    def guess() -> None:
        barrier.wait()
        with migrated_db.begin() as conn:
            if not throttle.attempt(conn, [throttle.Limit("user:anna", 5)], 900):
                passed.append(1)

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(passed) == 5


def test_a_lock_lasts_its_window_and_unlock_lifts_it(migrated_db: sa.Engine) -> None:
    limit = [throttle.Limit(throttle.user_key("Anna"), 2)]

    def attempt(window: int) -> bool:
        with migrated_db.begin() as conn:
            wait = throttle.attempt(conn, limit, window)
        assert 0 <= wait <= window
        return wait == 0

    assert [attempt(900) for _ in range(3)] == [True, True, False]
    with migrated_db.begin() as conn:
        add_user(conn, "Anna", "viewer")
        assert throttle.unlock(conn, "anna")
    assert [attempt(2) for _ in range(3)] == [True, True, False]
    # The lock of a 2 s window runs out by itself.
    poll_until(lambda: attempt(2), 10, message="the 2 s lock to run out")


def test_users_command_adds_lists_and_disables(migrated_db: sa.Engine, fresh_db: str) -> None:
    with migrated_db.begin() as conn:
        point = add_device(conn, "Магазин №1", "Касса 1").point_id
    env = {**os.environ, "DATABASE_URL": fresh_db}

    def users_cmd(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "dashboard", "users", *args],
            cwd=REPO,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    added = users_cmd(
        "add", "olga", "--role", "manager", "--point", str(point), "--password-stdin",
        stdin="olga-long-password\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    unknown = users_cmd(
        "add", "ivan", "--role", "viewer", "--point", str(uuid.uuid4()), "--password-stdin",
        stdin="ivan-long-password\n",
    )  # fmt: skip
    assert unknown.returncode == 2 and "no such point" in unknown.stderr
    listed = users_cmd("list")
    assert "olga\tmanager\tenabled" in listed.stdout and "Магазин №1" in listed.stdout
    assert users_cmd("disable", "olga").returncode == 0
    with migrated_db.connect() as conn:
        assert users.verify(conn, "olga", "olga-long-password") is None


# -- over HTTP, against a served dashboard


@pytest.fixture
def door(migrated_db: sa.Engine, fresh_db: str, stack_env: dict, tmp_path: Path) -> Iterator[str]:
    """A dashboard with an owner and a viewer, small login limits, one proxy in front."""
    with migrated_db.begin() as conn:
        point = add_device(conn, "Магазин", "Касса 1").point_id
        add_user(conn, "owner", "owner")
        add_user(conn, "viewer", "viewer", [point])
    limits = {
        "DASHBOARD_LOGIN_ATTEMPTS_PER_USER": "3",
        "DASHBOARD_LOGIN_ATTEMPTS_PER_ADDRESS": "6",
        "DASHBOARD_PROXY_HOPS": "1",
    }
    with served_dashboard(fresh_db, {**stack_env, **limits}, tmp_path / "dashboard.log") as base:
        yield base


_OPEN: list[requests.Session] = []


@pytest.fixture(autouse=True)
def close_sessions() -> Iterator[None]:
    """Close the HTTP sessions a test opened (their pooled sockets would warn at GC)."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def _session() -> requests.Session:
    _OPEN.append(requests.Session())
    return _OPEN[-1]


def _form(http: requests.Session, base: str) -> str:
    """Open the login form; the _xsrf token it set."""
    http.get(base + "/login", timeout=10).raise_for_status()
    return http.cookies["_xsrf"]


def _login(
    base: str, name: str, password: str | None = None, address: str = "198.51.100.7", **extra
) -> tuple[requests.Session, requests.Response]:
    http = _session()
    http.headers["X-Forwarded-For"] = f"203.0.113.99, {address}"  # the proxy appends the peer
    data = {"_xsrf": _form(http, base), "username": name, "next": "/"}
    data["password"] = password_of(name) if password is None else password
    response = http.post(base + "/login", data={**data, **extra}, timeout=30, allow_redirects=False)
    return http, response


def test_the_login_form_needs_its_xsrf_token_and_sends_security_headers(door: str) -> None:
    page = requests.get(door + "/login", timeout=10)
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    form = {"username": "owner", "password": password_of("owner")}
    forged = requests.post(door + "/login", data=form, timeout=10, allow_redirects=False)
    assert forged.status_code == 403 and login.COOKIE not in forged.cookies
    other = _session()
    _form(other, door)
    mismatched = other.post(
        door + "/login", data={**form, "_xsrf": "2|00|" + "0" * 32 + "|0"}, timeout=10
    )
    assert mismatched.status_code == 403 and login.COOKIE not in other.cookies


def test_logins_are_throttled_per_user_then_per_address(door: str) -> None:
    for _ in range(3):
        _, wrong = _login(door, "owner", "not-the-password")
        assert wrong.status_code == 401 and S.LOGIN_ERROR in wrong.text
    _, locked = _login(door, "owner")  # the right password, but the name is locked
    assert locked.status_code == 429 and "Retry-After" in locked.headers
    assert S.LOGIN_THROTTLED.split("{")[0] in locked.text
    _, other = _login(door, "viewer")  # another name from the same address gets in
    assert other.status_code == 302  # (and a success takes its attempt back)
    for name in ("a", "b"):  # attempts 5 and 6 of this address (the refused one counted)
        assert _login(door, name, "guess")[1].status_code == 401
    _, address_locked = _login(door, "viewer")
    assert address_locked.status_code == 429
    # The address counted is the one the proxy saw, not what the client wrote before it.
    _, elsewhere = _login(door, "viewer", address="198.51.100.8")
    assert elsewhere.status_code == 302


def test_after_login_goes_to_this_site_only(door: str) -> None:
    for target, expected in [("/dialogues", "/dialogues"), ("//evil.example/x", "/")]:
        _, response = _login(door, "owner", next=target)
        assert response.status_code == 302 and response.headers["Location"] == expected
    _, response = _login(door, "viewer", next="https://evil.example/")
    assert response.headers["Location"] == "/"


def _token(http: requests.Session, base: str, path: str = "/dialogues") -> str:
    page = http.get(base + path, timeout=30)
    assert "/login" not in page.url
    return re.search(r'"token":\s*"([^"]+)"', page.text)[1]


def _session_id(migrated_db: sa.Engine, name: str) -> str:
    with migrated_db.connect() as conn:
        return str(
            conn.execute(
                sa.text(
                    "SELECT s.session_id FROM dashboard_sessions s JOIN dashboard_users u "
                    "USING (user_id) WHERE u.name = :n AND s.revoked_at IS NULL "
                    "ORDER BY s.created_at DESC LIMIT 1"
                ),
                {"n": name},
            ).scalar_one()
        )


def test_the_session_cookie_is_httponly_and_never_reaches_the_page(
    door: str, migrated_db: sa.Engine
) -> None:
    http, response = _login(door, "viewer")
    set_cookie = response.headers["Set-Cookie"]
    assert f"{login.COOKIE}=" in set_cookie
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    secret = http.cookies[login.COOKIE]
    page = http.get(door + "/dialogues", timeout=30).text
    payload = get_token_payload(_token(http, door))
    shown = page + json.dumps(payload)
    assert secret not in shown and "_xsrf" not in json.dumps(payload["cookies"])
    assert "Cookie" not in payload["headers"]
    # The page knows its session by the public id, which the server put there.
    assert payload["headers"][login.SESSION_HEADER] == _session_id(migrated_db, "viewer")


def test_a_session_id_sent_by_the_client_is_ignored(door: str, migrated_db: sa.Engine) -> None:
    _login(door, "owner")
    owners = _session_id(migrated_db, "owner")
    forged = requests.get(door + "/dialogues", headers={login.SESSION_HEADER: owners}, timeout=30)
    assert "/login" in forged.url  # no cookie: no page, whatever the header says
    viewer, _ = _login(door, "viewer")
    viewer.headers[login.SESSION_HEADER] = owners
    payload = get_token_payload(_token(viewer, door))
    assert payload["headers"][login.SESSION_HEADER] == _session_id(migrated_db, "viewer")


def test_logout_needs_the_sessions_own_token(door: str) -> None:
    http, _ = _login(door, "owner")
    assert http.post(door + "/logout", data={"csrf": "x" * 64}, timeout=10).status_code == 403
    confirm = http.get(door + "/logout", timeout=10)  # a link or an image cannot log out
    assert S.LOGOUT_CONFIRM.format(user="owner") in confirm.text
    assert "/login" not in http.get(door + "/dialogues", timeout=30).url
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', confirm.text)[1]
    assert S.LOGOUT_DONE in http.post(door + "/logout", data={"csrf": csrf}, timeout=10).text
    assert "/login" in http.get(door + "/dialogues", timeout=30).url


def _ws(base: str, http: requests.Session, origin: str) -> int:
    """Open the page's websocket as a browser on `origin` would; the HTTP status."""
    token = _token(http, base)
    cookies = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    host = base.removeprefix("http://")
    handshake = (
        f"GET /dialogues/ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
        f"Sec-WebSocket-Protocol: bokeh, {token}\r\nOrigin: {origin}\r\n"
        f"Cookie: {cookies}\r\n\r\n"
    )
    address, port = host.split(":")
    with socket.create_connection((address, int(port)), timeout=10) as conn:
        conn.sendall(handshake.encode())
        status_line = conn.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


def test_a_page_on_another_site_cannot_open_the_websocket(door: str) -> None:
    """The buttons act over the websocket: a foreign page must not reach it (CSRF)."""
    http, _ = _login(door, "owner")
    assert _ws(door, http, door) == 101
    assert _ws(door, http, "http://evil.example") == 403


_FIELD = st.text(max_size=40) | st.sampled_from(["", "owner", "/", "//x", "\x00", "%00"])


@hypothesis.settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
@hypothesis.given(
    path=st.sampled_from(["/login", "/logout", "/password"]),
    fields=st.dictionaries(
        st.sampled_from(["username", "password", "next", "csrf", "current", "new", "again"]),
        _FIELD,
    ),
    with_xsrf=st.booleans(),
    logged_in=st.booleans(),
)
def test_the_doors_forms_never_fail_with_a_server_error(
    door: str, path: str, fields: dict, with_xsrf: bool, logged_in: bool
) -> None:
    """Any form sent to the login, logout and password pages gets an answer, not a 5xx,
    and never a session for a wrong password."""
    http = _login(door, "viewer")[0] if logged_in else _session()
    data = dict(fields)
    if with_xsrf:
        data["_xsrf"] = _form(http, door)
    response = http.post(door + path, data=data, timeout=30, allow_redirects=False)
    assert response.status_code < 500, response.text[:300]
    if path == "/login" and response.status_code == 302:
        assert data.get("password") == password_of(data.get("username", ""))


def test_health_says_healthy_once_the_database_answers(
    door: str, stack_env: dict, tmp_path: Path
) -> None:
    # The seed's check: curl http://localhost:8080/health -> {"status":"healthy"}; no login.
    answer = requests.get(door + "/health", timeout=10)
    assert (answer.status_code, answer.json()) == (200, {"status": "healthy"})
    assert answer.headers["Cache-Control"] == "no-store"
    nowhere = f"postgresql+pg8000://nobody:secret@127.0.0.1:{free_port()}/salescontrol"
    with served_dashboard(nowhere, stack_env, tmp_path / "no-database.log") as base:
        answer = requests.get(base + "/health", timeout=30)
    assert answer.status_code == 503
    assert answer.json() == {"status": "unhealthy", "reason": "database unreachable"}
    assert "secret" not in answer.text
