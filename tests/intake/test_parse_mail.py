"""trustdesk.intake.mail: charsets, headers, MIME walking and forwarded spam (SPEC §1)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from email.message import Message

import pytest

from tests.conftest import COMPLAINTS
from trustdesk.intake import charsets, mail
from trustdesk.intake.parse import parse_document
from trustdesk.intake.report import UnparseableDocument
from trustdesk.timeutil import JST, parse_mail_date

RELAYS = ("203.0.113.25", "203.0.113.26")

SPAM_HOP = (
    "from mail.spammer.example (mail.spammer.example [198.51.100.77]) by mx.recipient.example "
    "(Postfix) with ESMTP id 9X; Tue, 20 Oct 2026 10:00:00 +0900"
)
TOP_HOP = (
    "from mx.recipient.example (mx.recipient.example [192.0.2.44]) by mbox.recipient.example "
    "(Postfix) with ESMTP id 9Y; Tue, 20 Oct 2026 10:00:01 +0900"
)
SUBJECT = "【重要】今だけ特価のお知らせ①"
BODY = "迷惑メールです。㈱サンプル 東京都千代田区\n"


def encoded_word(text: str, charset: str, codec: str, encoding: str = "B") -> str:
    raw = text.encode(codec)
    if encoding == "B":
        return f"=?{charset}?B?{base64.b64encode(raw).decode()}?="
    quoted = "".join(chr(b) if chr(b).isascii() and chr(b).isalnum() else f"={b:02X}" for b in raw)
    return f"=?{charset}?Q?{quoted}?="


def japanese_spam(charset: str | None, codec: str, cte: str, encoding: str = "B") -> bytes:
    """A spam written the way Japanese mailers write it, built with the email package."""
    msg = Message()
    msg["Received"] = TOP_HOP
    msg["Received"] = SPAM_HOP
    msg["From"] = f"{encoded_word('販売部', charset or 'utf-8', codec)} <sale@spammer.example>"
    msg["To"] = "victim@recipient.example"
    msg["Subject"] = encoded_word(SUBJECT, charset or "utf-8", codec, encoding)
    msg["Date"] = "Tue, 20 Oct 2026 09:59:59 +0900"
    msg["Message-ID"] = "<jp-spam-1@spammer.example>"
    msg["MIME-Version"] = "1.0"
    msg["Content-Type"] = f'text/plain; charset="{charset}"' if charset else "text/plain"
    msg["Content-Transfer-Encoding"] = cte
    body = BODY.encode(codec)
    if cte == "base64":
        msg.set_payload(base64.encodebytes(body).decode("ascii"))
    else:
        msg.set_payload(body.decode("ascii", "surrogateescape"))
    return msg.as_bytes()


def complaint(
    *attachments: bytes, text: str = "Please stop this spam.", headers: str = ""
) -> bytes:
    """A complaint mail from a person, with the given spams attached as message/rfc822."""
    parts = [
        b'--b1\nContent-Type: text/plain; charset="utf-8"\n\n' + text.encode() + b"\n",
        *(b"--b1\nContent-Type: message/rfc822\n\n" + spam + b"\n" for spam in attachments),
    ]
    head = (
        "From: Taro Yamada <taro@user.example>\nTo: abuse@example.net\nSubject: spam\n"
        "Date: Tue, 20 Oct 2026 12:00:00 +0900\n" + headers + "MIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b1"\n\n'
    )
    return head.encode() + b"".join(parts) + b"--b1--\n"


def parse(data: bytes) -> list:
    return parse_document(data, "complaint.eml", RELAYS)


# --- charsets -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "codec", "text"),
    [
        ("iso-2022-jp", "iso2022_jp", "今だけ特価"),
        ("ISO-2022-JP", "iso2022_jp", "迷惑メール"),
        ("shift_jis", "cp932", "①㈱ 今だけ特価"),
        ("Shift_JIS", "shift_jis", "今だけ特価"),
        ("shift-jis", "cp932", "①㈱"),
        ("x-sjis", "cp932", "今だけ特価"),
        ("windows-31j", "cp932", "～①"),
        ("cp932", "cp932", "髙﨑"),
        ("euc-jp", "euc_jp", "迷惑メール"),
        ("EUC-JP", "euc_jp", "今だけ特価"),
        ("x-euc-jp", "euc_jp", "東京都"),
        ("utf-8", "utf-8", "今だけ特価"),
        ("us-ascii", "utf-8", "今だけ特価"),  # mislabelled 8-bit: falls back to utf-8
        ("no-such-charset", "cp932", "今だけ特価"),
        ("base64", "utf-8", "今だけ特価"),  # a bytes-to-bytes codec name is no charset
    ],
)
def test_decode_text_reads_the_charsets_japanese_mail_uses(
    declared: str, codec: str, text: str
) -> None:
    assert charsets.decode_text(text.encode(codec), declared) == text


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("今だけ特価".encode(), "今だけ特価"),
        ("今だけ特価".encode("cp932"), "今だけ特価"),  # brief: utf-8, then cp932, then euc-jp
        ("迷惑メール".encode("euc_jp"), "迷惑メール"),
        ("今だけ特価".encode("iso2022_jp"), "今だけ特価"),  # undeclared JIS escapes
        (b"plain", "plain"),
    ],
)
def test_undeclared_bytes_are_tried_in_the_usual_order(data: bytes, text: str) -> None:
    assert charsets.decode_text(data) == text


def test_iso_2022_jp_from_windows_mailers_keeps_nec_characters() -> None:
    """CP50220: ① and ㈱ sent in JIS X 0208 mode, which no stdlib codec reads."""
    windows = b"\x1b$B-!-j$3$s$K$A$O\x1b(B ok"
    assert charsets.decode_text(windows, "iso-2022-jp") == "①㈱こんにちは ok"


def test_undecodable_bytes_are_replaced_not_raised() -> None:
    assert "\ufffd" in charsets.decode_text(b"ok \x81 \x81 ", "utf-8")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (encoded_word("今だけ特価", "ISO-2022-JP", "iso2022_jp"), "今だけ特価"),
        (encoded_word("今だけ特価", "shift_jis", "cp932", "Q"), "今だけ特価"),
        (
            encoded_word("今だけ", "euc-jp", "euc_jp")
            + " "
            + encoded_word("特価", "utf-8", "utf-8"),
            "今だけ特価",
        ),
        ("Re: " + encoded_word("特価", "utf-8", "utf-8") + " now", "Re: 特価 now"),
        # one UTF-8 character split across two words, as some mailers do
        ("=?utf-8?B?5LuK44Gg?= =?utf-8?B?44GR?=", "今だけ"),
        ("=?utf-8*ja?B?5LuK?=", "今"),
        ("=?utf-8?B?!!!?=", "=?utf-8?B?!!!?="),
        ("no encoded words", "no encoded words"),
    ],
)
def test_encoded_words_are_decoded(value: str, text: str) -> None:
    assert mail.decode_words(value) == text


def test_raw_8bit_and_jis_header_values_are_decoded() -> None:
    msg = mail.parse_mail(
        b"Subject: "
        + "今だけ特価".encode("cp932")
        + b"\nX-Jis: "
        + "迷惑".encode("iso2022_jp")
        + b"\n\nbody\n"
    )
    assert mail.header(msg, "Subject") == "今だけ特価"
    assert mail.header(msg, "X-Jis") == "迷惑"


# --- small values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ip"),
    [
        ("192.0.2.1", "192.0.2.1"),
        (" [192.0.2.1] ", "192.0.2.1"),
        ("fdf1:cb9d:f59e:19b0:0:0:0:122", "fdf1:cb9d:f59e:19b0::122"),
        ("IPv6:2001:DB8::1", "2001:db8::1"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("XX.YY.ZZ.6", None),
        ("", None),
        (42, None),
    ],
)
def test_parse_ip(text: object, ip: str | None) -> None:
    assert mail.parse_ip(text) == ip


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("Tue, 20 Oct 2026 11:20:02 +0900", datetime(2026, 10, 20, 11, 20, 2, tzinfo=JST)),
        ("Tue, 04 Aug 2015 08:51:18 -0000", datetime(2015, 8, 4, 8, 51, 18, tzinfo=UTC)),
        ("Mon, 18 Jan 2016 23:57:24 UTC", datetime(2016, 1, 18, 23, 57, 24, tzinfo=UTC)),
        ("Tue, 19 Jan 2016 14:32:34", None),  # no zone: never guessed
        ("yesterday", None),
        ("Tue, 20 Oct 2026 11:20:02 +9900", None),
        (None, None),
    ],
)
def test_mail_date(text: str | None, moment: datetime | None) -> None:
    assert parse_mail_date(text) == moment


def test_field_lines_are_tolerant() -> None:
    text = "\n\nFeedback-Type: abuse\nnoise line\nX-Long: one\n two\nTo: a\nTo: b\n"
    assert mail.field_lines(text) == {
        "feedback-type": ["abuse"],
        "x-long": ["one two"],
        "to": ["a", "b"],
    }


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://Blog.Sample.example.jp/review/123", "blog.sample.example.jp"),
        ("http://日本語.example/", "xn--wgv71a119e.example"),
        ("phish.example.org/index.html", "phish.example.org"),
        ("http://[::1", None),
        ("http://", None),
    ],
)
def test_host_of_url(url: str, host: str | None) -> None:
    assert mail.host_of_url(url) == host


# --- forwarded spam -----------------------------------------------------------------------------


def test_static_direct_fixture() -> None:
    [report] = parse((COMPLAINTS / "static_direct.eml").read_bytes())
    assert (report.kind, report.category, report.source_format) == (
        "spam",
        "spam",
        "forwarded-mail",
    )
    assert report.source_ip == "198.51.100.61" and report.source_port is None
    assert report.observed_at == datetime(2026, 10, 20, 11, 20, 4, tzinfo=JST)
    assert report.fingerprint == ("mail", "fwd-h1@recipient.example", "0")
    assert report.complainant.email == "kujo@recipient.example"
    assert report.complainant.name == "Complainant"
    assert report.complainant.message_id == "fwd-h1@recipient.example"
    assert report.details["spam_subject"] == "今だけ特価"
    assert report.details["spam_message_id"] == "h1-spam-0001@kato-home.example"
    assert report.details["spam_from"] == "Sale <sale@kato-home.example>"
    assert report.details["origin_path"]
    # SPEC §1: the whole mail is the evidence; the ISO-2022-JP note is added readable
    assert "Received: from mail.kato-home.example" in report.evidence
    assert "御社のネットワークから迷惑メールが届きました" in report.evidence


def test_smarthost_fixture_goes_below_our_relay() -> None:
    [report] = parse((COMPLAINTS / "smarthost_dynamic.eml").read_bytes())
    assert report.source_ip == "198.51.100.201"
    assert report.details["auth_user"] == "jiro@example.net"
    assert report.observed_at == datetime(2026, 10, 20, 9, 30, 7, tzinfo=JST)


@pytest.mark.parametrize(
    ("charset", "codec", "cte", "encoding"),
    [
        ("iso-2022-jp", "iso2022_jp_2004", "7bit", "B"),
        ("ISO-2022-JP", "iso2022_jp_2004", "7bit", "Q"),
        ("shift_jis", "cp932", "base64", "B"),
        ("Shift_JIS", "cp932", "8bit", "B"),
        ("shift-jis", "cp932", "8bit", "Q"),
        ("x-sjis", "cp932", "base64", "B"),
        ("cp932", "cp932", "8bit", "B"),
        ("euc-jp", "euc_jis_2004", "8bit", "B"),
        ("EUC-JP", "euc_jis_2004", "base64", "Q"),
        ("utf-8", "utf-8", "8bit", "B"),
        ("utf-8", "utf-8", "base64", "B"),
    ],
)
def test_japanese_spam_subject_and_body_are_decoded(
    charset: str, codec: str, cte: str, encoding: str
) -> None:
    [report] = parse(complaint(japanese_spam(charset, codec, cte, encoding)))
    assert report.source_ip == "198.51.100.77"
    assert report.details["spam_subject"] == SUBJECT
    assert report.details["spam_from"] == "販売部 <sale@spammer.example>"
    assert BODY.strip() in report.evidence


def test_undeclared_8bit_shift_jis_spam_is_read() -> None:
    [report] = parse(complaint(japanese_spam(None, "cp932", "8bit")))
    assert BODY.strip() in report.evidence


def test_two_attached_spams_are_two_reports() -> None:
    second = japanese_spam("utf-8", "utf-8", "8bit").replace(b"198.51.100.77", b"198.51.100.78")
    reports = parse(
        complaint(
            japanese_spam("utf-8", "utf-8", "8bit"),
            second,
            headers="Message-ID: <two@user.example>\n",
        )
    )
    assert [r.source_ip for r in reports] == ["198.51.100.77", "198.51.100.78"]
    assert [r.fingerprint for r in reports] == [
        ("mail", "two@user.example", "0"),
        ("mail", "two@user.example", "1"),
    ]


def test_an_attached_spam_without_received_headers_is_skipped_with_a_warning() -> None:
    bare = b"From: x@spammer.example\nSubject: no trace\n\nbody\n"
    reports = parse(complaint(japanese_spam("utf-8", "utf-8", "8bit"), bare))
    assert len(reports) == 1
    assert any("without Received headers" in w for w in reports[0].warnings)


def test_only_spams_without_received_headers_is_an_error() -> None:
    with pytest.raises(UnparseableDocument, match="no Received headers"):
        parse(complaint(b"From: x@spammer.example\nSubject: no trace\n\nbody\n"))


def pasted(prefix: str = "", newline: str = "\n") -> bytes:
    lines = [
        "Hello, I got this spam. Headers below:",
        "",
        f"{prefix}Received: from mx.recipient.example (mx.recipient.example [192.0.2.44])",
        f"{prefix}\tby mbox.recipient.example (Postfix) with ESMTP id 9Y;",
        f"{prefix}\tTue, 20 Oct 2026 10:00:01 +0900",
        f"{prefix}Received: from mail.spammer.example (mail.spammer.example [198.51.100.77])",
        f"{prefix} by mx.recipient.example (Postfix) with ESMTP id 9X;",
        f"{prefix} Tue, 20 Oct 2026 10:00:00 +0900",
        f"{prefix}Subject: =?utf-8?B?5LuK44Gg44GR54m55L6h?=",
        f"{prefix}Message-ID: <pasted@spammer.example>",
        f"{prefix}",
        f"{prefix}Cheap meds!",
    ]
    head = "From: Taro <taro@user.example>\nSubject: spam\nContent-Type: text/plain\n\n"
    return (head + "\n".join(lines) + "\n").replace("\n", newline).encode()


@pytest.mark.parametrize(
    ("prefix", "newline"), [("", "\n"), ("> ", "\n"), (">", "\n"), ("> > ", "\r\n"), ("", "\r\n")]
)
def test_headers_pasted_into_the_body_are_read(prefix: str, newline: str) -> None:
    [report] = parse(pasted(prefix, newline))
    assert report.source_ip == "198.51.100.77"
    assert report.details["spam_subject"] == "今だけ特価"
    assert report.details["spam_message_id"] == "pasted@spammer.example"


def test_headers_pasted_into_an_html_only_mail_are_read() -> None:
    text = pasted().decode().split("\n\n", 1)[1]
    markup = "<html><body><p>" + html_escape(text).replace("\n", "<br>\n") + "</p></body></html>"
    data = b"From: t@user.example\nContent-Type: text/html; charset=utf-8\n\n" + markup.encode()
    [report] = parse(data)
    assert report.source_ip == "198.51.100.77"


def html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_an_html_only_mail_without_a_spam_is_unparseable() -> None:
    data = b"From: t@user.example\nContent-Type: text/html\n\n<p>You send spam!</p>"
    with pytest.raises(UnparseableDocument, match="no complaint found"):
        parse(data)


def test_a_mail_without_any_complaint_is_unparseable() -> None:
    with pytest.raises(UnparseableDocument, match="SPEC §1"):
        parse(b"From: t@user.example\nSubject: hello\n\nJust saying hi.\n")


def test_an_origin_that_cannot_be_told_is_a_warning_not_an_error() -> None:
    local_only = (
        b"Received: from localhost (localhost [127.0.0.1]) by mail.spammer.example (Postfix)"
        b" with SMTP id 1; Tue, 20 Oct 2026 10:00:00 +0900\nSubject: x\n"
        b"Date: Tue, 20 Oct 2026 09:59:00 +0900\n\nbody\n"
    )
    [report] = parse(complaint(local_only))
    assert report.source_ip is None
    assert any("ask the complainant" in w for w in report.warnings)
    assert report.observed_at == datetime(2026, 10, 20, 9, 59, tzinfo=JST)  # the spam's Date


def test_a_base64_encoded_attached_message_is_read() -> None:
    spam = japanese_spam("utf-8", "utf-8", "8bit")
    data = complaint(b"").replace(
        b"Content-Type: message/rfc822\n\n",
        b"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(spam),
    )
    [report] = parse(data)
    assert report.source_ip == "198.51.100.77"


def test_mbox_line_and_crlf_are_accepted() -> None:
    data = b"From taro@user.example Tue Oct 20 12:00:00 2026\r\n" + complaint(
        japanese_spam("utf-8", "utf-8", "8bit")
    ).replace(b"\n", b"\r\n")
    [report] = parse(data)
    assert report.source_ip == "198.51.100.77"


def nested(depth: int) -> bytes:
    inner = japanese_spam("utf-8", "utf-8", "8bit")
    for _ in range(depth):
        inner = b"From: f@user.example\nContent-Type: message/rfc822\n\n" + inner
    return inner


def test_nesting_up_to_the_limit_is_read_and_deeper_is_refused() -> None:
    assert mail.parse_mail(nested(mail.MAX_MESSAGE_DEPTH))
    with pytest.raises(UnparseableDocument, match="nested more than 10"):
        parse(nested(mail.MAX_MESSAGE_DEPTH + 1))


def test_pathologically_deep_multipart_nesting_is_refused_not_a_crash() -> None:
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i) for i in range(3000)
    )
    with pytest.raises(UnparseableDocument):
        parse(b"From: f@user.example\n" + opening)


# --- one mail's identity ------------------------------------------------------------------------


def test_a_redelivered_mail_without_message_id_keeps_its_fingerprint() -> None:
    """Our own MTA adds Received (and other trace) headers on redelivery: same complaint."""
    original = complaint(japanese_spam("utf-8", "utf-8", "8bit"))
    again = (
        b"Received: from mx2.example.net (mx2.example.net [203.0.113.9]) by mbox.example.net"
        b" with ESMTP id ZZ; Tue, 20 Oct 2026 13:05:00 +0900\r\nX-Spam-Score: 0.1\r\n"
    ) + original.replace(b"\n", b"\r\n")
    [first], [second] = parse(original), parse(again)
    assert first.fingerprint == second.fingerprint
    assert first.fingerprint[0] == "mail" and len(first.fingerprint[1]) == 64
    changed = original.replace(b"Please stop", b"Please STOP")
    assert parse(changed)[0].fingerprint != first.fingerprint


def test_message_id_is_normalised() -> None:
    msg = mail.parse_mail(b"Message-ID:  <Abc.Def@Mail.Example.COM> (comment)\n\n")
    assert mail.message_id(msg) == "Abc.Def@mail.example.com"


def test_envelope_reads_the_complainant() -> None:
    data = complaint(headers="Message-ID: <x1@user.example>\n")
    envelope = mail.envelope_of(mail.parse_mail(data), data)
    assert envelope.complainant.name == "Taro Yamada"
    assert envelope.complainant.email == "taro@user.example"
    assert envelope.complainant.message_id == "x1@user.example"
    assert envelope.complainant.organisation is None
    assert envelope.domains == frozenset({"user.example"})
    assert envelope.sent_at == datetime(2026, 10, 20, 12, tzinfo=JST)
