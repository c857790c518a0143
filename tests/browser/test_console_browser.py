"""The console in a real browser (issue 4 proof): log in, triage a case from the queue, decide,
see the notice, read sealed evidence through htmx, switch language, and screenshot the queue
and the dashboard (into ``TRUSTDESK_SCREENSHOTS`` when set, e.g. ``docs/screenshots``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.cases.scenario import takedown_told_the_requester
from tests.conftest import COMPLAINTS, CliResult
from tests.web.conftest import PASSWORD

NOW = "2026-10-20T15:00:00+09:00"  # the clock fixture's time


@pytest.fixture
def complaints(cli: CliResult, examplenet: None) -> None:
    for name in sorted(p.name for p in COMPLAINTS.iterdir()):
        assert cli("--now", NOW, "ingest", str(COMPLAINTS / name)).exit_code == 0


def _shots(tmp_path: Path) -> Path:
    target = Path(os.environ.get("TRUSTDESK_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


def _log_in(page: Any, server: str, user: str) -> None:
    page.goto(f"{server}/queue")
    assert "/login" in page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/queue")


@pytest.mark.usefixtures("complaints")
def test_triage_a_case_from_the_queue(browser: Any, server: str, tmp_path: Path) -> None:
    shots = _shots(tmp_path)
    page = browser.new_page(viewport={"width": 1360, "height": 860}, locale="ja-JP")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _log_in(page, server, "supervisor")

    assert page.locator("h1").inner_text().startswith("対応待ちの案件")
    countdown = page.locator("time.countdown").first
    countdown.wait_for()
    page.wait_for_function("document.querySelector('time.countdown').textContent.length > 0")
    assert "時間" in countdown.inner_text() or "日" in countdown.inner_text()  # the script ran
    page.screenshot(path=str(shots / "queue.png"), full_page=True)

    spam_row = page.locator("tr", has_text="迷惑メール").first
    spam_row.locator("a").first.click()
    page.wait_for_selector("section.decide")
    reference = page.locator("h1").inner_text().split()[1]
    page.fill("textarea[name=note]", "再三の迷惑メール送信のため")
    page.click("button[data-event=malicious]")
    page.wait_for_selector("p.flash")
    assert page.locator("p.flash").inner_text() == "記録しました。"
    assert "利用停止中" in page.locator("h1 .badge").inner_text()

    suspended = page.locator("details.notice[data-template='spam.suspended']")
    suspended.locator("summary").click()
    assert reference in suspended.locator("pre.mail").inner_text()

    sealed = page.locator("div.sealed[id^=evidence-]").first
    assert sealed.locator("input[name=reason]").input_value() == ""  # the reader's own words
    sealed.locator("input[name=reason]").fill("迷惑メール申告の確認")
    sealed.locator("button").click()
    page.wait_for_selector("div.revealed pre.evidence")
    assert "Received:" in page.locator("div.revealed pre.evidence").first.inner_text()

    page.goto(f"{server}/outbox")
    assert page.locator("tr[data-template='spam.suspended']").count() == 1

    page.click("#lang-switch")
    page.wait_for_selector("h1:has-text('Outbox')")
    page.goto(f"{server}/queue")
    assert page.locator("h1").inner_text().startswith("Open cases")
    page.click("#lang-switch")
    page.wait_for_selector("h1:has-text('対応待ちの案件')")

    page.goto(f"{server}/dashboard")
    assert page.locator("section.chart svg").count() >= 2
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    assert not errors, errors  # no script blocked by the Content-Security-Policy
    for name in ("queue.png", "dashboard.png"):
        assert (shots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.usefixtures("complaints")
def test_bulk_assignment_and_logout(browser: Any, server: str) -> None:
    page = browser.new_page(locale="ja-JP")
    _log_in(page, server, "supervisor")
    page.check("input[data-select-all]")
    page.select_option("select[name=action]", "assign-me")
    page.click("p.bulk button")
    page.wait_for_selector("p.flash")
    assert "件を処理しました" in page.locator("p.flash").inner_text()
    assert page.locator("td", has_text="supervisor").count() >= 2
    page.click("header form button")
    page.wait_for_url(f"{server}/login")
    page.goto(f"{server}/queue")
    assert "/login" in page.url


def test_the_supervisor_reveals_the_notices_to_the_requester(
    browser: Any, server: str, cli: CliResult, examplenet: None, tmp_path: Path
) -> None:
    """Masked on the page; shown in place through htmx once the reason is given (issue 17)."""
    case_id = takedown_told_the_requester(cli, tmp_path)
    page = browser.new_page(locale="ja-JP")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _log_in(page, server, "supervisor")
    page.goto(f"{server}/cases/{case_id}")
    told = page.locator("details.notice[data-template='takedown.taken_down']")
    assert "申告者宛て（非表示）" in told.locator("summary").inner_text()
    assert "小林" not in page.content()
    page.fill("#notices input[name=reason]", "申立者への結果連絡のため")
    page.click("#notices button")
    page.wait_for_selector(
        "details.notice[data-template='takedown.taken_down'] pre.mail", state="attached"
    )
    told.locator("summary").click()
    assert told.locator("pre.mail").inner_text().startswith("小林 誠 様")
    assert page.locator("h1").count() == 1  # swapped in place, not a page of its own
    assert not errors, errors
