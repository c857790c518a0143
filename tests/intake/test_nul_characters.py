"""NUL characters, which attackers write on purpose, in a complaint or a form: stored on both
databases (PostgreSQL text cannot hold U+0000; trustdesk sends U+FFFD). The API's side is in
tests/web/test_api.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import COMPLAINTS, CliResult, json_lines

pytestmark = pytest.mark.usefixtures("examplenet")
NOW = "2026-10-20T15:00:00+09:00"


def test_a_mail_and_a_form_with_nul_characters_are_recorded(cli: CliResult, tmp_path: Path) -> None:
    mail = (COMPLAINTS / "static_direct.eml").read_bytes().rstrip() + b"\n\x00\x00 after\n"
    form = json.loads((COMPLAINTS / "takedown_request.json").read_text())
    form["information"] = "書き込み\u0000の削除"
    (tmp_path / "nul.eml").write_bytes(mail)
    (tmp_path / "nul.json").write_text(json.dumps(form))
    result = cli(
        "--now", NOW, "ingest", "--json", str(tmp_path / "nul.eml"), str(tmp_path / "nul.json")
    )
    assert result.exit_code == 0, result.output
    spam, takedown = json_lines(result.stdout)
    assert spam["subscriber_id"] == "C2001" and takedown["case_id"] is not None
    shown_line = cli(
        "complaints", "show", str(spam["complaint_id"]), "--json", "--reason", "NUL test"
    )
    [shown] = json_lines(shown_line.stdout)
    assert "after" in shown["evidence"]
    assert "\x00" in shown["evidence"] or "\ufffd" in shown["evidence"]
