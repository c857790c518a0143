"""A crash between a state change and its notice loses neither (issue 3): the step and its
outbox row commit together, delivery comes after, and a notice that was not delivered is sent
exactly once when the work resumes, with the Message-ID it was given when it was written."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from aiosmtpd.controller import Controller

from tests.cases.scenario import Inbox, Run, at, case, outbox
from tests.conftest import COMPLAINTS, CONFIG, json_lines

T0 = "2026-10-20T13:05:00+09:00"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(port: int) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def relay_port(monkeypatch: pytest.MonkeyPatch) -> int:
    port = free_port()
    monkeypatch.setenv("TRUSTDESK_SMTP__HOST", "127.0.0.1")
    monkeypatch.setenv("TRUSTDESK_SMTP__PORT", str(port))
    monkeypatch.setenv("TRUSTDESK_SMTP__TIMEOUT", "60")
    return port


@pytest.mark.usefixtures("examplenet")
def test_a_notice_the_relay_could_not_take_is_sent_once_when_it_is_back(
    cli: Run, relay_port: int
) -> None:
    result = at(cli, T0, "ingest", "--json", str(COMPLAINTS / "static_direct.eml"))
    [line] = json_lines(result.stdout)
    case_id = line["case_id"]
    assert case(cli, case_id)["state"] == "awaiting_reply"  # the step is committed
    [notice] = outbox(cli)
    assert (notice["status"], notice["attempts"]) == ("pending", 1)
    assert "connection to 127.0.0.1" in notice["last_error"]
    with smtp_server(relay_port) as inbox:
        at(cli, "2026-10-20T13:10:00+09:00", "tick")
        at(cli, "2026-10-20T13:15:00+09:00", "tick")
    [mail] = inbox.messages
    assert mail["Message-ID"] == notice["message_id"]
    [sent] = outbox(cli)
    assert (sent["status"], sent["attempts"], sent["sent_at"]) == (
        "sent",
        2,
        "2026-10-20T13:10:00+09:00",
    )


@pytest.mark.usefixtures("examplenet")
def test_a_worker_killed_while_delivering_loses_neither_step_nor_notice(
    cli: Run, relay_port: int, database_url: str
) -> None:
    """``trustdesk ingest`` is killed while its SMTP delivery hangs (the relay accepted the
    connection and never answered): the case was committed, the notice waits in the outbox,
    and the next tick sends it once."""
    hanging = socket.socket()
    hanging.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hanging.bind(("127.0.0.1", relay_port))
    hanging.listen()
    hanging.settimeout(60)
    env = {
        **os.environ,
        "TRUSTDESK_DATABASE_URL": database_url,
        "TRUSTDESK_CONFIG": str(CONFIG),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from trustdesk.cli import main; main()",
            "--now",
            T0,
            "ingest",
            str(COMPLAINTS / "static_direct.eml"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        connection, _ = hanging.accept()  # delivery has begun: the step is committed by now
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=60)
        connection.close()
    finally:
        hanging.close()
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == -signal.SIGKILL
    [notice] = outbox(cli)
    # The attempt was counted when the notice was claimed for it; it never finished, so the
    # notice is still pending, and the claim (smtp.claim_seconds) ends before the next tick.
    assert (notice["status"], notice["attempts"]) == ("pending", 1)
    assert case(cli, notice["case_id"])["state"] == "awaiting_reply"
    with smtp_server(relay_port) as inbox:
        at(cli, "2026-10-20T13:20:00+09:00", "tick")
        at(cli, "2026-10-20T13:25:00+09:00", "tick")
    [mail] = inbox.messages
    assert mail["Message-ID"] == notice["message_id"]
    assert outbox(cli)[0]["status"] == "sent"
