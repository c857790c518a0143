"""Notices: every template in both languages, the complainant never named, outside text inert."""

from __future__ import annotations

import unicodedata
from dataclasses import fields, replace
from datetime import UTC, datetime
from importlib.resources import files

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trustdesk.cases import effects, receipts
from trustdesk.cases.notices import (
    LANGUAGES,
    TEMPLATE_NAMES,
    MissingNoticeValue,
    NoticeContext,
    render,
)
from trustdesk.cases.policy import Policy
from trustdesk.timeutil import JST, NaiveTimeError

EVERY_NOTICE = [(name, lang) for name in sorted(TEMPLATE_NAMES) for lang in sorted(LANGUAGES)]
TEMPLATES = files("trustdesk.cases") / "templates"

# The complainant as the complaint recorded them: none of it is ever handed to a template.
COMPLAINANT_EMAIL = "kobayashi.hanako@complainant.example"
COMPLAINANT_MESSAGE_ID = "<complaint-4711.MARKER@mx.complainant.example>"
REQUESTER = "MARKER-小林"
# What attackers put in the fields they control, to end a line or fake a header.
INJECTIONS = (
    "\r\nBcc: evil@attacker.example",
    "\nSubject: you won",
    "\rBcc: evil@attacker.example",
    "\x85Bcc: evil@attacker.example",
    "\u2028Bcc: evil@attacker.example",
    "\x1b[2J\x00\x07",
    "\u202egnp.exe",
    "\u200b\ufeff",
    "\n-- \n偽の署名",
)
FORBIDDEN_IN_BODY = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def context(**changes: object) -> NoticeContext:
    """A complete context: every field a template can print is given."""
    base = NoticeContext(
        provider_name="Example Net",
        abuse_mailbox="abuse@example.net",
        case_reference="TD-000123",
        recipient_name="山田 太郎",
        deadline_at=datetime(2026, 10, 23, 15, 0, tzinfo=JST),
        kind="spam",
        category="spam",
        source_ip="203.0.113.5",
        source_port=20800,
        observed_at=datetime(2026, 10, 20, 6, 0, 7, tzinfo=JST),
        url="https://shop.example.jp/review/42",
        information="当該ページの3行目の記述",
        infringed_right="defamation",
        reason="事実無根の記述により社会的評価が低下した",
        charges=(("spam_damages", 13200), ("spam_handling", 6600)),
        total_billed_yen=19800,
        missing_documents=("seal certificate missing",),
        requester_name=None,
        evidence_excerpt="Received: from [203.0.113.5] by mx.example.net",
        received_at=datetime(2026, 10, 20, 15, 0, tzinfo=JST),
        link="https://desk.example.net/member/dns/TOKEN",
        link_expires_at=datetime(2026, 10, 27, 15, 0, tzinfo=JST),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def outside(marker: str) -> st.SearchStrategy[str]:
    """Attacker-controlled text: a marker to find it by, then anything, injections included."""
    pieces = st.one_of(st.text(max_size=30), st.sampled_from(INJECTIONS))
    return st.lists(pieces, max_size=4).map(lambda parts: marker + "".join(parts))


MARKED = {
    "recipient_name": "RECIPIENT-山田",
    "url": "https://site.example/URL-MARK/",
    "information": "INFO-MARK",
    "reason": "REASON-MARK",
    "evidence_excerpt": "EVIDENCE-MARK",
    "category": "CATEGORY-MARK",
    "requester_name": REQUESTER,
}
OPTIONAL = (
    "recipient_name",
    "url",
    "information",
    "reason",
    "evidence_excerpt",
    "requester_name",
    "source_ip",
    "source_port",
    "observed_at",
    "deadline_at",
    "infringed_right",
    "total_billed_yen",
)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)


@st.composite
def complaints(draw: st.DrawFn) -> dict[str, object]:
    """Everything a case could tell a notice, every text marked and laced with injections."""
    values: dict[str, object] = {name: draw(outside(mark)) for name, mark in MARKED.items()}
    values.update(
        source_ip=draw(st.ip_addresses().map(str)),
        source_port=draw(st.integers(0, 65535)),
        observed_at=draw(moments),
        deadline_at=draw(moments),
        infringed_right=draw(st.sampled_from(["defamation", "privacy"]) | outside("RIGHT-MARK")),
        charges=tuple(
            draw(
                st.lists(
                    st.tuples(
                        st.sampled_from(sorted(effects.BILL_KINDS)) | outside("KIND-MARK"),
                        st.integers(0, 10**8),
                    ),
                    min_size=1,
                    max_size=3,
                )
            )
        ),
        total_billed_yen=draw(st.integers(0, 10**8)),
        missing_documents=(draw(outside("DOC-MARK")),),
    )
    return values


def assert_inert(body: str) -> None:
    """No character that ends a line or hides text, and no line an attacker started."""
    assert not [c for c in body if c not in "\n\t" and unicodedata.category(c) in FORBIDDEN_IN_BODY]
    for line in body.split("\n"):
        assert not line.startswith(("Bcc:", "Subject:", "-- ")), line
        assert not line.startswith(("偽の署名",)), line


def test_every_template_has_a_japanese_and_an_english_file() -> None:
    on_disk = {item.name for item in TEMPLATES.iterdir() if not item.name.startswith("_")}
    expected = {f"{name}.{lang}.j2" for name, lang in EVERY_NOTICE}
    assert on_disk == expected


def test_the_names_are_those_the_workflows_emit() -> None:
    """And those of no case step: the receipt (cases.receipts) and a member's link."""
    assert TEMPLATE_NAMES - {receipts.TEMPLATE, "network.member_link"} == effects.TEMPLATES


@pytest.mark.parametrize(("template", "lang"), EVERY_NOTICE)
def test_every_notice_renders_a_subject_with_the_case_reference(template: str, lang: str) -> None:
    notice = render(template, lang, context())
    assert notice.subject.startswith("[TD-000123] ")
    assert "\n" not in notice.subject and "\r" not in notice.subject
    assert (notice.template, notice.lang) == (template, lang)
    assert "abuse@example.net" in notice.body
    assert notice.body.endswith("\n") and not notice.body.endswith("\n\n")
    assert "\n\n\n" not in notice.body


@pytest.mark.parametrize(("template", "lang"), EVERY_NOTICE)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(complaint=complaints(), withheld=st.sets(st.sampled_from(OPTIONAL), max_size=4))
def test_the_complainant_is_never_named_and_outside_text_is_inert(
    template: str, lang: str, complaint: dict[str, object], withheld: set[str]
) -> None:
    """Whatever the case holds, and whichever values the caller leaves out: only the inquiry
    names the (consenting) requester, nothing withheld shows up, the subject is fixed text."""
    given_values = {k: (None if k in withheld else v) for k, v in complaint.items()}
    try:
        notice = render(template, lang, context(**given_values))
    except MissingNoticeValue:
        assert withheld, "a complete context renders every notice"
        return
    everything = notice.subject + "\n" + notice.body

    named = template == "takedown.inquiry" and "requester_name" not in withheld
    assert (REQUESTER in everything) == named
    assert COMPLAINANT_EMAIL not in everything
    assert COMPLAINANT_MESSAGE_ID not in everything
    for name in withheld & MARKED.keys():
        assert MARKED[name] not in everything, name
    assert notice.subject == render(template, lang, context()).subject
    assert_inert(notice.body)


@pytest.mark.parametrize(("template", "lang"), EVERY_NOTICE)
@pytest.mark.parametrize("name", OPTIONAL)
def test_a_missing_value_is_refused_or_left_out_never_printed_as_none(
    template: str, lang: str, name: str
) -> None:
    try:
        notice = render(template, lang, context(**{name: None}))
    except MissingNoticeValue as exc:
        assert name in str(exc)
        return
    assert "None" not in notice.body


def test_a_demand_without_a_deadline_is_refused() -> None:
    with pytest.raises(MissingNoticeValue, match="deadline_at") as caught:
        render("spam.report_demanded", "ja", context(deadline_at=None))
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("missing", ["url", "information", "reason", "deadline_at"])
def test_an_inquiry_needs_what_the_act_requires_it_to_state(missing: str) -> None:
    with pytest.raises(MissingNoticeValue, match=missing):
        render("takedown.inquiry", "ja", context(**{missing: None}))


def test_outside_text_reduced_to_nothing_counts_as_missing() -> None:
    with pytest.raises(MissingNoticeValue, match="url"):
        render("takedown.taken_down", "ja", context(url="\r\n\x00\u202e"))


def test_the_japanese_demand_states_the_deadline_in_jst_and_the_72_hours() -> None:
    deadline = datetime(2026, 10, 23, 6, 0, tzinfo=UTC)  # 15:00 JST
    notice = render("spam.report_demanded", "ja", context(deadline_at=deadline))
    assert (
        notice.subject
        == "[TD-000123] 【重要】貴回線からの迷惑メール送信に関するご報告のお願い（72時間以内）"
    )
    assert "2026年10月23日 15時00分 (JST)" in notice.body
    assert "72時間" in notice.body and "3ヶ月分" in notice.body and "即時" in notice.body
    assert "2026年10月20日 06時00分07秒 (JST)" in notice.body
    assert "203.0.113.5（ポート番号 20800）" in notice.body
    assert notice.body.startswith("山田 太郎 様\n")
    assert "報告者に関する情報は開示いたしません" in notice.body


# An operator's policy.toml with every number a notice states changed from the seeds'.
CHANGED_POLICY = Policy(
    spam_reply_hours=48,
    spam_damages_months=4,
    spam_handling_months=2,
    takedown_inquiry_days=9,
    takedown_election_inquiry_days=5,
    seal_certificate_valid_months=6,
    site_daily_transfer_limit_bytes=500 * 2**20,
)


@pytest.mark.parametrize(
    ("template", "lang", "stated", "seed_text"),
    [
        (
            "spam.report_demanded",
            "ja",
            ["48時間以内", "6ヶ月分", "4ヶ月分は損害金", "2ヶ月分は対応"],
            "72時間",
        ),
        (
            "spam.report_demanded",
            "en",
            ["within 48 hours", "48 hours from", "6 months of fees"],
            "72",
        ),
        ("spam.suspended", "ja", ["6ヶ月分を前払い", "4ヶ月分は損害金"], "3ヶ月分"),
        ("spam.suspended", "en", ["6 months of fees", "4 as damages", "2 as a handling"], "three"),
        ("takedown.inquiry", "ja", ["9日間", "5日間"], "7日間"),
        ("takedown.inquiry", "en", ["9 days", "5 days"], "7 days"),
        ("takedown.supplement_requested", "ja", ["6カ月以内"], "3カ月"),
        ("takedown.supplement_requested", "en", ["last 6 months"], "3 months"),
        ("traffic.restricted", "ja", ["500メガバイト"], "300"),
        ("traffic.restricted", "en", ["500 MB a day"], "300"),
        ("traffic.lifted", "ja", ["500メガバイト"], "300"),
        ("traffic.lifted", "en", ["500 MB again"], "300"),
    ],
)
def test_a_notice_states_the_periods_and_amounts_of_the_cases_policy(
    template: str, lang: str, stated: list[str], seed_text: str
) -> None:
    """policy.toml drives every deadline and amount (issue 3), so the notice that announces one
    must say the case's number, not the seed's: a demand for a report "within 72 hours" whose
    deadline is 48 hours away would mislead the subscriber."""
    notice = render(template, lang, context(policy=CHANGED_POLICY))
    text = notice.subject + "\n" + notice.body
    for expected in stated:
        assert expected in text
    assert seed_text not in text


def test_the_english_demand_writes_the_deadline_the_iso_way() -> None:
    notice = render("spam.report_demanded", "en", context())
    assert "2026-10-23 15:00 JST" in notice.body
    assert "2026-10-20 06:00:07 JST" in notice.body


def test_a_period_in_days_ends_at_24_00_of_its_last_day() -> None:
    """SPEC: an inquiry sent at 15:00 on the 20th with 7 days expires at 24:00 on the 27th,
    which periods.after_days gives as 00:00 on the 28th."""
    deadline = datetime(2026, 10, 28, 0, 0, tzinfo=JST)
    ja = render("takedown.inquiry", "ja", context(deadline_at=deadline))
    en = render("takedown.inquiry", "en", context(deadline_at=deadline))
    assert "2026年10月27日 24時00分 (JST)" in ja.body
    assert "2026-10-27 24:00 JST" in en.body


def test_amounts_are_whole_yen_with_thousands_separators() -> None:
    charges = (("spam_penalty", 3300), ("spam_penalty_handling", 1100), ("reconnection", 1234567))
    ja = render("spam.penalty", "ja", context(charges=charges, total_billed_yen=1258767))
    en = render("spam.penalty", "en", context(charges=charges, total_billed_yen=1258767))
    assert "・違約金（追加の迷惑行為の報告）: 3,300円" in ja.body
    assert "・再接続費用（税込）: 1,234,567円" in ja.body
    assert "・合計: 1,238,967円" in ja.body
    assert "（本件でのご請求の累計: 1,258,767円）" in ja.body
    assert "- Reconnection fee (tax included): 1,234,567 yen" in en.body


def test_no_charges_means_no_billing_section() -> None:
    notice = render("spam.suspended", "ja", context(charges=()))
    assert "今回のご請求" not in notice.body


def test_only_the_inquiry_names_a_requester_who_consented() -> None:
    named = render("takedown.inquiry", "ja", context(requester_name=REQUESTER))
    unnamed = render("takedown.inquiry", "ja", context(requester_name=None))
    assert f"{REQUESTER}（申出者の同意を得て、お知らせしています）" in named.body
    assert "申出者の同意が得られていないため" in unnamed.body
    for template in TEMPLATE_NAMES - {"takedown.inquiry"}:
        assert REQUESTER not in render(template, "ja", context(requester_name=REQUESTER)).body


def test_the_inquiry_states_url_information_right_reason_and_the_act() -> None:
    body = render("takedown.inquiry", "ja", context()).body
    for expected in (
        "https://shop.example.jp/review/42",
        "> 当該ページの3行目の記述",
        "名誉権（名誉毀損）",
        "> 事実無根の記述により社会的評価が低下した",
        "プロバイダ責任制限法",
        "7日間",
        "2日間",
        "送信防止措置",
    ):
        assert expected in body


def test_the_device_warning_cites_the_ip_time_and_problem() -> None:
    body = render("device.warning", "ja", context(category="accessible_telnet")).body
    assert "・IPアドレス: 203.0.113.5（ポート番号 20800）" in body
    assert "・日時: 2026年10月20日 06時00分07秒 (JST)" in body
    assert "・問題: accessible_telnet" in body
    assert "第22条の1" in body


def test_missing_documents_are_told_in_the_requesters_language() -> None:
    problems = (
        "request form not sealed",
        "seal certificate older than 3 months (issued 2026-06-01)",
        "a problem no one translated",
    )
    ja = render("takedown.supplement_requested", "ja", context(missing_documents=problems)).body
    en = render("takedown.supplement_requested", "en", context(missing_documents=problems)).body
    assert "・送信防止措置依頼書に登録印が押印されていません" in ja
    assert "・印鑑登録証明書が発行から3カ月を過ぎています（発行日: 2026-06-01）" in ja
    assert "・a problem no one translated" in ja
    assert "- Request form not sealed" in en


def test_a_control_character_injection_in_the_url_stays_on_its_line() -> None:
    url = "https://shop.example.jp/x\r\nBcc: evil@attacker.example\r\n\r\nforged body"
    notice = render("takedown.taken_down", "ja", context(url=url))
    assert "https://shop.example.jp/x Bcc: evil@attacker.example forged body" in notice.body
    assert "Bcc" not in notice.subject
    assert_inert(notice.body)


def test_multi_line_outside_text_is_quoted_line_by_line() -> None:
    reason = "first line\r\nBcc: evil@attacker.example\n\n-- \nfake signature\u2028last"
    body = render("takedown.inquiry", "en", context(reason=reason)).body
    assert "> first line\n> Bcc: evil@attacker.example\n>\n> --\n> fake signature\n> last\n" in body


def test_bidi_and_zero_width_characters_are_removed() -> None:
    body = render(
        "takedown.taken_down", "en", context(url="https://x.example/\u202egnp.exe\u200b")
    ).body
    assert "https://x.example/gnp.exe\n" in body


def test_huge_outside_text_is_cut() -> None:
    body = render("takedown.inquiry", "ja", context(information="あ" * 100_000)).body
    assert len(body) < 10_000 and "[...]" in body


@pytest.mark.parametrize("template", ["nope", "spam.report_demanded.ja", "_layout"])
def test_an_unknown_template_is_refused(template: str) -> None:
    with pytest.raises(ValueError, match="unknown notice template"):
        render(template, "ja", context())


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="language"):
        render("spam.resolved", "fr", context())


@pytest.mark.parametrize("reference", ["TD-1\r\nBcc: x", "TD 1", "", "[TD-1]"])
def test_a_case_reference_that_cannot_sit_in_a_subject_is_refused(reference: str) -> None:
    with pytest.raises(ValueError, match="case reference"):
        render("spam.resolved", "ja", context(case_reference=reference))


def test_a_time_without_offset_is_refused() -> None:
    with pytest.raises(NaiveTimeError):
        render("spam.report_demanded", "ja", context(deadline_at=datetime(2026, 10, 23, 15, 0)))


def test_a_source_that_is_not_an_ip_address_is_refused() -> None:
    with pytest.raises(ValueError, match="source_ip"):
        render("spam.report_demanded", "ja", context(source_ip="203.0.113.5\r\nBcc: x"))


def test_the_context_has_no_field_for_the_complainant_but_the_consented_name() -> None:
    names = {field.name for field in fields(NoticeContext)}
    assert not {n for n in names if "complainant" in n or "email" in n or "message_id" in n}
    assert "requester_name" in names
