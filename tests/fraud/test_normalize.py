"""trustdesk.fraud.normalize: e-mails, phones, kana and kanji names, IPs and tokens."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustdesk.fraud import normalize

SAME_EMAIL = [
    ("Jiro.Kato+shop@mail.example.jp", "jiro.kato@mail.example.jp"),
    ("JIRO.KATO@MAIL.EXAMPLE.JP", "jiro.kato@mail.example.jp"),
    ("ｊｉｒｏ．ｋａｔｏ＠ｍａｉｌ．ｅｘａｍｐｌｅ．ｊｐ", "jiro.kato@mail.example.jp"),
    (" jiro.kato@mail.example.jp ", "jiro.kato@mail.example.jp"),
    ("j.i.r.o.kato@gmail.com", "jirokato@gmail.com"),
    ("JiroKato+amazon@googlemail.com", "jirokato@gmail.com"),
]
DIFFERENT_EMAIL = [
    # dots count outside Gmail: at docomo.ne.jp these are two people
    ("jiro.kato@docomo.ne.jp", "jirokato@docomo.ne.jp"),
    ("jiro.kato@mail.example.jp", "jiro.kato@mail.example.com"),
    ("jiro.kato1@gmail.com", "jiro.kato@gmail.com"),
]


@pytest.mark.parametrize(("left", "right"), SAME_EMAIL)
def test_email_variants_reach_one_mailbox(left: str, right: str) -> None:
    assert normalize.email(left) == normalize.email(right)


@pytest.mark.parametrize(("left", "right"), DIFFERENT_EMAIL)
def test_different_mailboxes_stay_apart(left: str, right: str) -> None:
    assert normalize.email(left) != normalize.email(right)


@pytest.mark.parametrize("value", ["not-an-email", "a@b", "@example.jp", "+tag@example.jp"])
def test_unreadable_emails_are_none(value: str) -> None:
    assert normalize.email(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "090-1234-5678",
        "09012345678",
        "０９０－１２３４－５６７８",
        "+81 90 1234 5678",
        "(090)1234-5678",
    ],
)
def test_phones_become_e164(value: str) -> None:
    assert normalize.phone(value) == "+819012345678"


def kind(value: str) -> tuple[str, str]:
    details = normalize.phone_details(value)
    assert details is not None
    return details.kind, details.region


def test_phone_kinds() -> None:
    assert kind("090-1234-5678") == ("mobile", "JP")
    assert kind("050-1234-5678") == ("ip", "JP")
    assert kind("03-1234-5678") == ("fixed", "JP")
    assert kind("+1 415 555 2671")[1] == "US"


def test_a_different_number_is_a_different_phone() -> None:
    assert normalize.phone("090-1234-5678") != normalize.phone("090-1234-5679")
    assert normalize.phone("12") is None


SAME_KANA = [
    ("カトウ ジロウ", "かとう じろう"),
    ("カトウ ジロウ", "ｶﾄｳ ｼﾞﾛｳ"),
    ("カトウ　ジロウ", "カトウジロウ"),
    ("カトウ・ジロウ", "カトウジロウ"),
]


@pytest.mark.parametrize(("left", "right"), SAME_KANA)
def test_kana_name_variants_match(left: str, right: str) -> None:
    assert normalize.kana_name(left) == normalize.kana_name(right)


@pytest.mark.parametrize(
    ("left", "right"),
    [("カトウ ジロウ", "カトウ ジロ"), ("サトウ", "サイトウ"), ("カトウ", "ガトウ")],
)
def test_kana_near_misses_do_not_match(left: str, right: str) -> None:
    assert normalize.kana_name(left) != normalize.kana_name(right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("髙橋 一郎", "高橋一郎"),
        ("山﨑 花子", "山崎花子"),
        ("渡邊", "渡辺"),
        ("ＫＡＴＯ Jiro", "katojiro"),
    ],
)
def test_person_name_variants_match(left: str, right: str) -> None:
    assert normalize.person_name(left) == normalize.person_name(right)


def test_different_people_stay_apart() -> None:
    assert normalize.person_name("高橋一郎") != normalize.person_name("高橋二郎")
    assert normalize.person_name("斉藤") != normalize.person_name("斎藤")


def test_ip_keys() -> None:
    assert normalize.ip_key("198.51.100.61") == "198.51.100.61"
    assert normalize.ip_key("2001:db8:1:2:aaaa::1") == normalize.ip_key("2001:db8:1:2::ffff")
    assert normalize.ip_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert normalize.ip_key("2001:db8:1:3::1") != normalize.ip_key("2001:db8:1:2::1")
    assert normalize.ip_key("::ffff:198.51.100.61") == "198.51.100.61"
    assert normalize.ip_key("not an ip") is None


def test_tokens_ignore_width_case_and_spaces() -> None:
    assert normalize.token("ＤＥＶ-7f3a9c ") == normalize.token("dev-7F3A9C") == "dev-7f3a9c"
    assert normalize.token("") is None


@given(st.emails())
def test_email_normalisation_is_idempotent(address: str) -> None:
    once = normalize.email(address)
    if once is not None:
        assert normalize.email(once) == once


@given(st.from_regex(r"0[1-9][0-9]{8,9}", fullmatch=True))
def test_the_japanese_fast_path_agrees_with_phonenumbers(national: str) -> None:
    fast = normalize.phone_details(national)
    slow = normalize.phone_details("+81 " + national[1:])  # through phonenumbers
    assert fast is not None and slow is not None
    assert fast.e164 == slow.e164
    if slow.kind != "other":
        assert fast.kind == slow.kind
