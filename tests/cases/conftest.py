"""Fixtures of the case tests: a real SMTP server (aiosmtpd) the notices are sent to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cases.scenario import Inbox
from tests.smtpd import EphemeralController


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = EphemeralController(inbox)
    controller.start()
    try:
        monkeypatch.setenv("TRUSTDESK_SMTP__HOST", "127.0.0.1")
        monkeypatch.setenv("TRUSTDESK_SMTP__PORT", str(controller.port))
        yield inbox
    finally:
        controller.stop()
