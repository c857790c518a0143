"""Enforcement actions handed to provisioning by a command or a webhook (issue 3): retried with
backoff, a failure visible and never lost, a permanent failure retried by hand."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.cases.scenario import Run, at, case, ingest, subscriber
from tests.conftest import COMPLAINTS, json_lines
from trustdesk.cases.provisioning import backoff
from trustdesk.settings import ProvisioningSettings

T0 = "2026-10-20T13:05:00+09:00"
JUDGED = "2026-10-20T14:00:00+09:00"

# Fails while the file "fail" holds a number above 0 (decremented each time), else records the
# action it was given and exits 0.
SCRIPT = """
import json, pathlib, sys
here = pathlib.Path(sys.argv[1])
action = json.load(sys.stdin)
left = int((here / "fail").read_text()) if (here / "fail").exists() else 0
if left:
    (here / "fail").write_text(str(left - 1))
    print("router busy", file=sys.stderr)
    sys.exit(3)
with (here / "done.jsonl").open("a") as out:
    out.write(json.dumps(action) + "\\n")
"""


@pytest.fixture
def command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "provision.py"
    script.write_text(SCRIPT)
    argv = [sys.executable, str(script), str(tmp_path)]
    monkeypatch.setenv("TRUSTDESK_PROVISIONING__COMMAND", json.dumps(argv))
    monkeypatch.setenv("TRUSTDESK_PROVISIONING__MAX_ATTEMPTS", "3")
    return tmp_path


def actions(cli: Run) -> list[dict[str, Any]]:
    return json_lines(cli("actions", "list", "--json").stdout)


def done(here: Path) -> list[dict[str, Any]]:
    path = here / "done.jsonl"
    return json_lines(path.read_text()) if path.exists() else []


def suspended_case(cli: Run) -> int:
    [line] = ingest(cli, T0, COMPLAINTS / "static_direct.eml")
    at(cli, JUDGED, "cases", "decide", str(line["case_id"]), "malicious")
    return int(line["case_id"])


@pytest.mark.usefixtures("examplenet")
def test_a_failed_hand_over_is_visible_and_retried_with_backoff(cli: Run, command: Path) -> None:
    (command / "fail").write_text("1")
    case_id = suspended_case(cli)
    at(cli, JUDGED, "tick")
    [action] = actions(cli)
    assert (action["status"], action["attempts"]) == ("pending", 1)
    assert "exited with status 3: router busy" in action["last_error"]
    assert action["next_attempt_at"] == "2026-10-20T14:01:00+09:00"  # 60 s backoff
    shown = subscriber(cli, "C2001")
    assert shown["status"] == "suspended" and shown["actions"][0]["status"] == "pending"
    text = cli("subscribers", "show", "C2001").stdout
    assert "action 1 suspend: pending — " in text.replace(str(action["action_id"]), "1")
    at(cli, "2026-10-20T14:00:30+09:00", "tick")  # not yet due again
    assert actions(cli)[0]["attempts"] == 1 and done(command) == []
    at(cli, "2026-10-20T14:01:00+09:00", "tick")
    [action] = actions(cli)
    assert (action["status"], action["attempts"], action["last_error"]) == ("done", 2, None)
    assert action["done_at"] == "2026-10-20T14:01:00+09:00"
    [handed] = done(command)
    assert handed["action_id"] == action["action_id"] and handed["action"] == "suspend"
    assert handed["subscriber_id"] == "C2001" and handed["case_reference"] == f"TD-{case_id:06d}"
    at(cli, "2026-10-20T15:00:00+09:00", "tick")
    assert len(done(command)) == 1  # done is done


@pytest.mark.usefixtures("examplenet")
def test_a_permanent_failure_stays_until_retried_by_hand(cli: Run, command: Path) -> None:
    (command / "fail").write_text("3")
    case_id = suspended_case(cli)
    for now in (JUDGED, "2026-10-20T14:01:00+09:00", "2026-10-20T14:03:00+09:00"):
        at(cli, now, "tick")
    [action] = actions(cli)
    assert (action["status"], action["attempts"], action["next_attempt_at"]) == ("failed", 3, None)
    at(cli, "2026-10-21T14:00:00+09:00", "tick")
    assert actions(cli)[0]["status"] == "failed" and done(command) == []
    assert json_lines(cli("actions", "list", "--status", "failed", "--json").stdout)
    # the pledge comes: the resume waits behind the suspend that failed
    at(cli, "2026-10-21T15:00:00+09:00", "cases", "decide", str(case_id), "reinstate")
    at(cli, "2026-10-21T15:00:00+09:00", "tick")
    assert [(a["action"], a["status"]) for a in actions(cli)] == [
        ("suspend", "failed"),
        ("resume", "pending"),
    ]
    assert done(command) == []
    retried = at(cli, "2026-10-21T16:00:00+09:00", "actions", "retry", str(action["action_id"]))
    assert "done" in retried.stdout
    at(cli, "2026-10-21T16:00:00+09:00", "tick")
    assert [a["action"] for a in done(command)] == ["suspend", "resume"]
    timeline = case(cli, case_id)["timeline"]
    assert any(e["event"] == "action-retry" for e in timeline)
    assert cli("actions", "retry", str(action["action_id"])).exit_code == 1  # done already
    assert cli("actions", "retry", "99999").exit_code == 1


@pytest.mark.usefixtures("examplenet")
def test_without_provisioning_actions_are_kept_for_hand_work(cli: Run) -> None:
    suspended_case(cli)
    at(cli, JUDGED, "tick")
    assert [a["status"] for a in actions(cli)] == ["kept"]


class Provisioning(BaseHTTPRequestHandler):
    """A webhook receiver: answers 503 while ``failures`` > 0, then 200; keeps each request."""

    failures = 0
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        if type(self).failures > 0:
            type(self).failures -= 1
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"maintenance")
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[Provisioning]]:
    Provisioning.failures, Provisioning.received = 1, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Provisioning)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    monkeypatch.setenv("TRUSTDESK_PROVISIONING__WEBHOOK_URL", f"http://127.0.0.1:{port}/actions")
    monkeypatch.setenv("TRUSTDESK_PROVISIONING__WEBHOOK_SECRET", "s3cret")
    try:
        yield Provisioning
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.usefixtures("examplenet")
def test_a_webhook_gets_signed_json_and_is_retried(cli: Run, webhook: type[Provisioning]) -> None:
    suspended_case(cli)
    at(cli, JUDGED, "tick")
    [action] = actions(cli)
    assert action["status"] == "pending" and "answered 503" in action["last_error"]
    at(cli, "2026-10-20T14:01:00+09:00", "tick")
    assert actions(cli)[0]["status"] == "done"
    assert len(webhook.received) == 2
    headers, body = webhook.received[-1]
    sent = json.loads(body)
    assert sent["action"] == "suspend" and sent["attempt"] == 2
    # the same key on both attempts, in the body and the header: the receiver acts on it once
    keys = {json.loads(b)["idempotency_key"] for _, b in webhook.received}
    assert keys == {h["Idempotency-Key"] for h, _ in webhook.received}
    assert keys == {f"trustdesk-action-{sent['action_id']}"}
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Trustdesk-Signature"] == f"sha256={expected}"
    assert headers["Content-Type"].startswith("application/json")


@pytest.mark.usefixtures("examplenet")
def test_an_unreachable_webhook_is_a_failure_to_retry(
    cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUSTDESK_PROVISIONING__WEBHOOK_URL", "http://127.0.0.1:9/actions")
    suspended_case(cli)
    at(cli, JUDGED, "tick")
    [action] = actions(cli)
    assert action["status"] == "pending" and "cannot reach" in action["last_error"]


def test_backoff_doubles_up_to_the_cap() -> None:
    settings = ProvisioningSettings(backoff_seconds=60, max_backoff_seconds=300)
    waits = [backoff(n, settings) for n in range(1, 6)]
    assert waits == [timedelta(seconds=s) for s in (60, 120, 240, 300, 300)]


@pytest.mark.parametrize(
    "values",
    [
        {"command": ["x"], "webhook_url": "http://127.0.0.1/"},
        {"command": []},
        {"webhook_url": "file:///etc/passwd"},
    ],
)
def test_provisioning_settings_are_checked(values: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ProvisioningSettings(**values)
