"""Web fixtures: operators of each role logged in through the real login form, API keys, an
application that waits for a lock only briefly."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Clock
from trustdesk.access import service as access
from trustdesk.settings import Settings
from trustdesk.web.app import create_app

PASSWORD = "correct horse battery staple"


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


LoginAs = Callable[[str], TestClient]


@pytest.fixture
def login_as(client: TestClient, factory: sessionmaker[Session], clock: Clock) -> LoginAs:
    """Create an operator with ``role`` (named after it) and log the test client in."""

    def login(role: str) -> TestClient:
        with factory() as session, session.begin():
            access.add_user(session, role, role, PASSWORD, clock(), actor="test")
        page = client.get("/login")
        response = client.post(
            "/login",
            data={"username": role, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        return client

    return login


ApiKeyFor = Callable[[str], dict[str, str]]


@pytest.fixture
def api_key(factory: sessionmaker[Session], clock: Clock) -> ApiKeyFor:
    """``Authorization`` headers of a new key with ``role``."""

    def make(role: str) -> dict[str, str]:
        with factory() as session, session.begin():
            _, plaintext = access.create_api_key(
                session, f"{role}-client", role, clock(), actor="test"
            )
        return {"Authorization": f"Bearer {plaintext}"}

    return make


@pytest.fixture
def impatient(settings: Settings, clock: Clock) -> Iterator[TestClient]:
    """The application on the test database, waiting for a lock a fifth of a second."""
    url = settings.database_url
    wait = "timeout=0.2" if url.startswith("sqlite") else "options=-c%20lock_timeout%3D200"
    patient = settings.model_copy(update={"database_url": f"{url}?{wait}"})
    with TestClient(create_app(patient, clock=clock)) as client:
        yield client
