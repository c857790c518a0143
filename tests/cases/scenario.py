"""Helpers for scenarios that drive the real CLI with ``--now`` against the test database."""

from __future__ import annotations

import email
import json
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import Envelope, Session

from tests.conftest import COMPLAINTS, json_lines

Run = Callable[..., Any]


class Inbox:
    """An SMTP handler that keeps what it is given."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        data = envelope.content if isinstance(envelope.content, bytes) else b""
        self.messages.append(email.message_from_bytes(data, policy=default))  # type: ignore[arg-type]
        return "250 OK"


def at(cli: Run, now: str, *args: str) -> Any:
    result = cli("--now", now, *args)
    assert result.exit_code == 0, result.output
    return result


def ingest(cli: Run, now: str, path: Path) -> list[dict[str, Any]]:
    return json_lines(at(cli, now, "ingest", "--json", str(path)).stdout)


def case(cli: Run, case_id: int | str) -> dict[str, Any]:
    [line] = json_lines(cli("cases", "show", str(case_id), "--json").stdout)
    return line


def subscriber(cli: Run, subscriber_id: str) -> dict[str, Any]:
    [line] = json_lines(cli("subscribers", "show", subscriber_id, "--json").stdout)
    return line


def outbox(cli: Run) -> list[dict[str, Any]]:
    """Every notice unmasked: the scenarios check what the complainant was sent too (the read
    is audited; masking itself is tests/cases/test_views.py's)."""
    return json_lines(cli("outbox", "list", "--json", "--reason", "scenario check").stdout)


def variant(tmp_path: Path, name: str, *swaps: tuple[bytes, bytes]) -> Path:
    """A copy of the fixture complaint ``name`` with bytes swapped (e.g. a new Message-ID, so
    that it is another complaint about the same thing)."""
    data = (COMPLAINTS / name).read_bytes()
    for old, new in swaps:
        assert old in data, old
        data = data.replace(old, new)
    folder = tmp_path / f"variant-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    path = folder / name  # the name is kept: a feed's file name tells its report type
    path.write_bytes(data)
    return path


def again(tmp_path: Path, tag: str = "again") -> Path:
    """The static_direct spam complaint (C2001) once more, as a new complaint."""
    return variant(
        tmp_path,
        "static_direct.eml",
        (b"Message-ID: <fwd-h1@", f"Message-ID: <fwd-{tag}@".encode()),
    )


def events(line: dict[str, Any]) -> list[str]:
    return [entry["event"] for entry in line["timeline"]]


def second_xarf(tmp_path: Path) -> Path:
    """The X-ARF login-attack report (C2003) again as another report: it joins the abuse case."""
    return variant(
        tmp_path,
        "xarf_login_attack.eml",
        (b"<xarf-7781@", b"<xarf-7782@"),
        (b"Report-ID: 2d6a3c1e-7781@", b"Report-ID: 2d6a3c1e-7782@"),
    )


# The takedown requester of the fixtures, as every surface must keep them from a masked reader.
REQUESTER_TRACES = ("小林", "kobayashi", "claimant.example", "03-0000-0000", "千代田1-1")


def takedown_told_the_requester(cli: Run, tmp_path: Path) -> int:
    """A takedown case whose notices name the requester everywhere they may: the inquiry to the
    sender (the requester consented to disclosure), the notice of the takedown to the requester
    (its body opens with their name), and the requester's own reply quoted in the timeline.
    Returns the case number."""
    form = json.loads((COMPLAINTS / "takedown_request.json").read_text(encoding="utf-8"))
    form["disclose_name_to_sender"] = True
    request = tmp_path / "consenting-request.json"
    request.write_text(json.dumps(form, ensure_ascii=False), encoding="utf-8")
    [line] = ingest(cli, "2026-10-20T15:00:00+09:00", request)
    case_id = int(line["case_id"])
    at(cli, "2026-10-28T00:00:00+09:00", "tick")  # no objection in 7 days: taken down, told
    reply = tmp_path / "requester-reply.eml"
    reply.write_text(
        "From: 小林 誠 <kobayashi@claimant.example>\n"
        f"Subject: Re: [TD-{case_id:06d}] 送信防止措置実施のお知らせ\n"
        "Message-ID: <thanks-1@claimant.example>\n\n"
        "小林です。対応ありがとうございました。電話 03-0000-0000\n",
        encoding="utf-8",
    )
    at(
        cli,
        "2026-10-28T10:00:00+09:00",
        "cases", "reply", str(case_id), "--file", str(reply), "--role", "complainant",
    )  # fmt: skip
    return case_id
