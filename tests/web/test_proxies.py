"""``X-Forwarded-For`` is believed only from ``[web] trusted_proxies`` (issue 17): the client
that rate limits and the login lockout count is the right-most hop that is not a trusted
proxy; a header sent by anyone else is ignored. Through the app, and through a real
``trustdesk serve`` (uvicorn believed 127.0.0.1's headers by default)."""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import CONFIG, Clock
from tests.web.conftest import csrf_of
from trustdesk.access.models import RateEvent
from trustdesk.access.service import LOGIN_FAILURE
from trustdesk.settings import Settings
from trustdesk.web.app import create_app
from trustdesk.web.proxies import forwarded_client

TRUSTDESK = [sys.executable, "-c", "from trustdesk.cli import main; main()"]
PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:f::/48")]


def test_the_client_is_the_right_most_hop_that_is_not_a_trusted_proxy() -> None:
    hops = ["198.51.100.7, 203.0.113.5, 10.1.1.1"]
    assert forwarded_client("10.0.0.2", hops, PROXIES) == "203.0.113.5"  # not the forged first
    assert forwarded_client("10.0.0.2", ["198.51.100.7", "10.1.1.1"], PROXIES) == "198.51.100.7"
    assert forwarded_client("2001:db8:f::1", ["2001:db8:1::9"], PROXIES) == "2001:db8:1::9"


def test_a_header_from_anyone_else_is_ignored() -> None:
    assert forwarded_client("192.0.2.9", ["198.51.100.7"], PROXIES) == "192.0.2.9"
    assert forwarded_client("192.0.2.9", ["198.51.100.7"], []) == "192.0.2.9"
    assert forwarded_client("testclient", ["198.51.100.7"], PROXIES) == "testclient"


def test_a_chain_of_proxies_only_or_a_garbled_hop_names_no_stranger() -> None:
    assert forwarded_client("10.0.0.2", ["10.9.9.9, 10.1.1.1"], PROXIES) == "10.9.9.9"
    assert forwarded_client("10.0.0.2", ["198.51.100.7, unknown"], PROXIES) == "10.0.0.2"
    assert forwarded_client("10.0.0.2", [], PROXIES) == "10.0.0.2"


def _failed_login(client: TestClient, forwarded_for: str) -> None:
    token = csrf_of(client.get("/login").text)
    client.post(
        "/login",
        data={"username": "nobody", "password": "wrong password", "csrf_token": token},
        headers={"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": "https"},
    )


def _counted_clients(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return list(
            session.scalars(
                select(RateEvent.client)
                .where(RateEvent.bucket == LOGIN_FAILURE)
                .order_by(RateEvent.id)
            )
        )


def test_the_login_throttle_counts_the_forwarded_client_only_behind_a_trusted_proxy(
    factory: sessionmaker[Session], settings: Settings, clock: Clock
) -> None:
    https = {"X-Forwarded-Proto": "https"}
    with TestClient(create_app(settings, clock=clock), client=("192.0.2.9", 4000)) as untrusted:
        _failed_login(untrusted, "198.51.100.7")
        assert "secure" not in untrusted.get("/login", headers=https).headers["set-cookie"].lower()
    settings.web.trusted_proxies = PROXIES
    app = create_app(settings, clock=clock)
    with TestClient(app, client=("192.0.2.9", 4000)) as stranger:
        _failed_login(stranger, "198.51.100.7")
    with TestClient(app, client=("10.0.0.2", 4000)) as proxied:
        _failed_login(proxied, "198.51.100.7, 203.0.113.5")
        # the trusted proxy says the browser spoke HTTPS, so the cookies are Secure
        assert "secure" in proxied.get("/login", headers=https).headers["set-cookie"].lower()
    assert _counted_clients(factory) == ["192.0.2.9", "192.0.2.9", "203.0.113.5"]


@contextmanager
def _serving(database_url: str, extra: dict[str, str]) -> Iterator[int]:
    """A real ``trustdesk serve`` on a loopback port: uvicorn's own reading of forwarded
    headers (which trusts 127.0.0.1 unless told otherwise) is what this checks."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = os.environ | {"TRUSTDESK_DATABASE_URL": database_url, "TRUSTDESK_CONFIG": str(CONFIG)}
    server = subprocess.Popen(
        [*TRUSTDESK, "serve", "--no-worker", "--port", str(port)],
        env=env | extra,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        assert server.poll() is None, "the server did not start"
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def _fail_login_over_http(port: int, forwarded_for: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/login")
    page = connection.getresponse()
    cookie = page.getheader("set-cookie", "").split(";")[0]
    token = csrf_of(page.read().decode())
    body = urlencode({"username": "nobody", "password": "wrong password", "csrf_token": token})
    connection.request(
        "POST",
        "/login",
        body,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": cookie,
            "X-Forwarded-For": forwarded_for,
        },
    )
    assert connection.getresponse().status == 401


def test_a_real_server_ignores_a_forged_header_unless_its_proxy_is_trusted(
    factory: sessionmaker[Session], database_url: str
) -> None:
    with _serving(database_url, {}) as port:
        _fail_login_over_http(port, "198.51.100.7")
    trusted = {"TRUSTDESK_WEB__TRUSTED_PROXIES": '["127.0.0.1/32"]'}
    with _serving(database_url, trusted) as port:
        _fail_login_over_http(port, "198.51.100.7")
    assert _counted_clients(factory) == ["127.0.0.1", "198.51.100.7"]


@pytest.mark.parametrize("value", ["10.0.0.1/8", "not a network"])
def test_a_trusted_proxy_setting_with_a_typo_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="trusted_proxies"):
        Settings(environment="development", web={"trusted_proxies": [value]})  # type: ignore[arg-type]
