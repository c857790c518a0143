"""The ``fraud`` settings section: the hash key may keep its default only in development, and
production is what a start is unless it says otherwise (issue 17)."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trustdesk import demo
from trustdesk.settings import DEVELOPMENT_FRAUD_KEY, ConfigError, Settings, load_settings

TRUSTDESK = [sys.executable, "-c", "from trustdesk.cli import main; main()"]


def test_development_may_use_the_shipped_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTDESK_ENVIRONMENT", "development")
    assert Settings().fraud.hash_key.get_secret_value() == DEVELOPMENT_FRAUD_KEY


def test_an_install_that_says_nothing_is_production(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, the environment defaulted to development, so a deployment that forgot its key
    hashed every buyer's data under the public one."""
    monkeypatch.delenv("TRUSTDESK_ENVIRONMENT", raising=False)
    with pytest.raises(ConfigError, match="TRUSTDESK_FRAUD__HASH_KEY"):
        load_settings()
    monkeypatch.setenv("TRUSTDESK_FRAUD__HASH_KEY", "short")
    with pytest.raises(ConfigError, match="at least 32 characters"):
        load_settings()
    monkeypatch.setenv("TRUSTDESK_FRAUD__HASH_KEY", "k" * 40)
    settings = load_settings()
    assert settings.environment == "production"
    assert settings.fraud.hash_key.get_secret_value() == "k" * 40
    assert "k" * 40 not in repr(settings)


def test_the_demo_configuration_is_a_development_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's demo command reads trustdesk/demo/trustdesk.toml."""
    monkeypatch.delenv("TRUSTDESK_ENVIRONMENT", raising=False)
    settings = load_settings(demo.CONFIG)
    assert settings.environment == "development"
    assert settings.fraud.hash_key.get_secret_value() == DEVELOPMENT_FRAUD_KEY


def test_serve_refuses_to_start_on_the_shipped_key(tmp_path: Path) -> None:
    """A real ``trustdesk serve``, as an operator starts it with no key set: it stops before
    it listens, naming the setting to set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTDESK_")}
    env["TRUSTDESK_DATABASE_URL"] = f"sqlite:///{tmp_path / 'trustdesk.db'}"
    started = subprocess.run(
        [*TRUSTDESK, "serve", "--port", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 2, started.stderr
    assert "TRUSTDESK_FRAUD__HASH_KEY" in started.stderr
    assert "built-in development key" in started.stderr
    assert not (tmp_path / "trustdesk.db").exists()  # refused before anything was made


def test_the_readme_demo_command_still_starts(tmp_path: Path) -> None:
    """``trustdesk --config trustdesk/demo/trustdesk.toml serve --demo`` with nothing else set:
    the demo's configuration says development, so the shipped key serves."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTDESK_")}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = subprocess.Popen(
        [*TRUSTDESK, "--config", str(demo.CONFIG), "serve", "--demo", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        status = None
        while status != 200 and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.3)
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/login")
                status = connection.getresponse().status
            except OSError:
                continue
        assert status == 200, server.stderr.read() if server.poll() is not None else "no answer"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_commands_help_needs_no_configuration(tmp_path: Path) -> None:
    """``--help`` is read before the configuration: a production start without its hash key
    still shows every command's help, and the command itself is refused with the reason."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTDESK_")}
    command = [sys.executable, "-c", "from trustdesk.cli import main; main()"]
    helped = subprocess.run(
        [*command, "cases", "show", "--help"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
    )
    assert helped.returncode == 0, helped.stderr
    assert "--reason" in helped.stdout
    refused = subprocess.run(
        [*command, "cases", "list"], capture_output=True, text=True, env=environment, cwd=tmp_path
    )
    assert refused.returncode == 2 and "TRUSTDESK_FRAUD__HASH_KEY" in refused.stderr
