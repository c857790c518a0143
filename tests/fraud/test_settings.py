"""The ``fraud`` settings section: the hash key may keep its default only in development."""

from __future__ import annotations

import pytest

from trustdesk.settings import DEVELOPMENT_FRAUD_KEY, ConfigError, Settings, load_settings


def test_development_may_use_the_shipped_key() -> None:
    assert Settings().fraud.hash_key.get_secret_value() == DEVELOPMENT_FRAUD_KEY


def test_production_refuses_the_shipped_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTDESK_ENVIRONMENT", "production")
    with pytest.raises(ConfigError, match="fraud.hash_key must be set"):
        load_settings()
    monkeypatch.setenv("TRUSTDESK_FRAUD__HASH_KEY", "short")
    with pytest.raises(ConfigError, match="at least 32 characters"):
        load_settings()
    monkeypatch.setenv("TRUSTDESK_FRAUD__HASH_KEY", "k" * 40)
    settings = load_settings()
    assert settings.fraud.hash_key.get_secret_value() == "k" * 40
    assert "k" * 40 not in repr(settings)
