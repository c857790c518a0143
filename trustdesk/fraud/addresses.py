"""Japanese postal addresses folded to one match key, and checked against Japan Post's data.

Buyers write the same place in many ways: ``桜丘町２６−１`` and ``桜丘町二十六番一号``,
``２丁目３番地の４`` and ``2-3-4``, ``霞ヶ関`` and ``霞が関``, ``サンプルビル５Ｆ`` and
``サンプルビル 5階``, the city repeated in the street, the district (郡) left out. The key keeps
what tells two places apart — prefecture, city, town, block numbers, building and room — and
drops the way it was typed. A near miss (another block number, another room, another town)
gives another key.

Kanji numerals are read only where they are block numbers (before 丁目, 番, 号, の, a hyphen
or 階): a town called 六本木 or 三田 keeps its name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from trustdesk.fraud import normalize
from trustdesk.fraud.postal import Locality, lookup

PREFECTURES = (
    "北海道 青森県 岩手県 宮城県 秋田県 山形県 福島県 茨城県 栃木県 群馬県 埼玉県 千葉県 東京都 "
    "神奈川県 新潟県 富山県 石川県 福井県 山梨県 長野県 岐阜県 静岡県 愛知県 三重県 滋賀県 京都府 "
    "大阪府 兵庫県 奈良県 和歌山県 鳥取県 島根県 岡山県 広島県 山口県 徳島県 香川県 愛媛県 高知県 "
    "福岡県 佐賀県 長崎県 熊本県 大分県 宮崎県 鹿児島県 沖縄県"
).split()
# "東京" and "大阪" alone are common; longer forms are tried first (京都府 before 京都).
_PREFECTURE_NAMES = {name: name for name in PREFECTURES} | {
    name[:-1]: name for name in PREFECTURES if name != "北海道"
}
_PREFECTURE_FORM = re.compile("|".join(sorted(_PREFECTURE_NAMES, key=len, reverse=True)))
_PREFECTURE_FULL = re.compile("|".join(PREFECTURES))

_NUMERAL = "〇一二三四五六七八九十百千"
_KANJI_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_KANJI_NUMBER = re.compile(
    rf"[{_NUMERAL}]+(?=丁目|番地|番(?!町)|号|の[0-9{_NUMERAL}]|-|階)|(?<=[0-9][-の])[{_NUMERAL}]+"
)
# Hyphens and dashes buyers type between block numbers: ASCII, hyphen, minus, en/em dashes,
# the full-width forms, and the katakana long-vowel mark (only between numbers, since
# building names use it as a vowel: コーポ).
_DASHES = str.maketrans(dict.fromkeys("‐‑‒–—―−﹣－", "-"))
_LONG_VOWELS = ("ー", "ｰ")
_LONG_VOWEL_DASH = re.compile(r"(?<=[0-9])[ーｰ](?=[0-9])")
# Each with the text it cannot match without: a pass tries only the markers the value has
# (the fold is most of an order's normalisation, and most markers are absent from most). The
# numbers are matched around, not captured: a replacement without group references is
# substituted by the regex engine itself, one with them through a Python call per match.
_BLOCK_MARKERS = (
    (("丁目",), re.compile(r"(?<=[0-9])丁目"), "-"),
    (("番地",), re.compile(r"(?<=[0-9])番地の?"), "-"),
    (("番",), re.compile(r"(?<=[0-9])番(?!町)の?"), "-"),
    (("号",), re.compile(r"(?<=[0-9])号(?:室|館|棟)?"), "-"),
    (("室",), re.compile(r"(?<=[0-9])室"), "-"),
    (("の",), re.compile(r"(?<=[0-9])の(?=[0-9])"), "-"),
    (("階", "f"), re.compile(r"(?<=[0-9])(?:階|f)(?![a-z])"), "f"),
    (("地下",), re.compile(r"地下(?=[0-9]+f)"), "b"),
)
_SPACE_BETWEEN_NUMBERS = re.compile(r"(?<=[0-9])[\s#]+(?=[0-9])")
_NOISE = re.compile(r"[\s#、,・()（）「」\"']+")
_DANGLING_DASH = re.compile(r"-+(?=[^0-9]|$)|(?<=[^0-9])-+")
# 霞ヶ関 / 霞ケ関 / 霞が関, 虎ノ門 / 虎の門: the small ke and no between two kanji.
_KE_FORMS = ("ヶ", "ケ", "ヵ", "が")
_KE = re.compile(r"(?<=[一-鿿])[ヶケヵが](?=[一-鿿])")
_NO = re.compile(r"(?<=[一-鿿])ノ(?=[一-鿿])")
_DASH_RUN = re.compile(r"-{2,}")
_NUMERALS = frozenset(_NUMERAL)
_DISTRICT = re.compile(r"^[^郡]+郡(?=.)")


@dataclass(frozen=True)
class Address:
    """An address as the merchant sent it."""

    postal_code: str
    prefecture: str
    city: str
    street: str
    building: str = ""


@dataclass(frozen=True)
class NormalAddress:
    """``key`` is what matches compare. ``prefecture`` is empty when the address is not in
    Japan; ``postal_code`` is empty when it is not 7 digits. ``postal_matches`` is None when
    Japan Post has no such code, else whether the code belongs to this prefecture and city."""

    key: str
    postal_code: str
    prefecture: str
    city: str
    postal_matches: bool | None


def kanji_number(numeral: str) -> int:
    """二十六 → 26, 百二 → 102, 千二百三十四 → 1234, and positional 二〇一 → 201."""
    if not any(c in _UNITS for c in numeral):
        return int("".join(str(_KANJI_DIGITS[c]) for c in numeral))
    total, digit = 0, 0
    for c in numeral:
        if c in _UNITS:
            total += (digit or 1) * _UNITS[c]
            digit = 0
        else:
            digit = digit * 10 + _KANJI_DIGITS[c]
    return total + digit


@lru_cache(maxsize=65536)
def fold(value: str) -> str:
    """The typed-form-free spelling of street, building and room (see the module docstring).

    One pass can expose a marker another pass reads (``0‐番`` → ``0番``), so passes repeat
    until nothing changes: the key of a key is the key itself."""
    folded = _fold_once(value)
    for _ in range(3):
        again = _fold_once(folded)
        if again == folded:
            break
        folded = again
    return folded


def _fold_once(value: str) -> str:
    folded = normalize.text(value).lower().replace("大字", "").translate(_DASHES)
    long_vowels = any(mark in folded for mark in _LONG_VOWELS)
    if long_vowels:
        folded = _LONG_VOWEL_DASH.sub("-", folded)
    folded = _read_numbers(folded)
    if long_vowels:
        folded = _LONG_VOWEL_DASH.sub("-", folded)
    for needs, pattern, replacement in _BLOCK_MARKERS:
        if any(text in folded for text in needs):
            folded = pattern.sub(replacement, folded)
    # A second pass reads numerals that only became block numbers above (番地の一 → -1).
    folded = _read_numbers(folded)
    folded = _SPACE_BETWEEN_NUMBERS.sub("-", folded)
    folded = _NOISE.sub("", folded)
    if any(form in folded for form in _KE_FORMS):
        folded = _KE.sub("ヶ", folded)
    if "ノ" in folded:
        folded = _NO.sub("の", folded)
    if "-" in folded:
        folded = _DASH_RUN.sub("-", _DANGLING_DASH.sub("", folded))
    return folded


def _read_numbers(folded: str) -> str:
    """Kanji numerals where they are block numbers, as digits."""
    if _NUMERALS.isdisjoint(folded):
        return folded
    return _KANJI_NUMBER.sub(lambda m: str(kanji_number(m.group())), folded)


def prefecture_of(value: str) -> str:
    """The prefecture's full name (東京 → 東京都), or "" when ``value`` does not start with one."""
    match = _PREFECTURE_FORM.match(normalize.text(value).replace(" ", ""))
    return _PREFECTURE_NAMES[match.group()] if match else ""


def postal_digits(value: str) -> str:
    """``〒150-0031``, ``１５０ー００３１``, ``1500031`` → ``1500031``; "" if not 7 digits."""
    digits = re.sub(r"[^0-9]", "", normalize.text(value))
    return digits if len(digits) == 7 else ""


def _without_prefecture(folded: str) -> str:
    """``folded`` without a prefecture's full name in front. Short forms are not taken off:
    富山市, 京都市 and 大阪狭山市 begin with one."""
    match = _PREFECTURE_FULL.match(folded)
    return folded[match.end() :] if match else folded


@lru_cache(maxsize=8192)
def _city_forms(city: str) -> tuple[str, ...]:
    """A folded city name (without a prefecture written before it) and, for 町 and 村 in a
    district, the name without the district."""
    folded = _without_prefecture(fold(city))
    short = _DISTRICT.sub("", folded)
    return (folded, short) if short != folded else (folded,)


def _strip_region(rest: str, prefecture: str, cities: list[str]) -> tuple[str, str]:
    """Take the prefecture and city off the front of ``rest``, however often the buyer
    repeated them (city field ``東京都渋谷区``, street ``渋谷区桜丘町…``)."""
    city, before = "", None
    while rest != before:
        before = rest
        rest = _without_prefecture(rest) if prefecture else rest
        for candidate in cities:
            if candidate and rest.startswith(candidate):
                rest, city = rest[len(candidate) :], _DISTRICT.sub("", candidate)
                break
    return rest, city


def normalise(address: Address, find: Callable[[str], Locality | None] = lookup) -> NormalAddress:
    """Fold ``address`` to its key and check its postal code (``find`` reads Japan Post data)."""
    code = postal_digits(address.postal_code)
    locality = find(code) if code else None
    prefecture = prefecture_of(address.prefecture) or prefecture_of(address.city)
    if not prefecture and not address.prefecture.strip() and locality is not None:
        prefecture = locality.prefecture
    rest = fold(f"{address.city}{address.street} {address.building}")
    cities = sorted(locality.cities) if locality is not None else []
    known_cities = [form for city in cities for form in _city_forms(city)]
    given = _city_forms(address.city) if address.city.strip() else ()
    rest, city = _strip_region(rest, prefecture, sorted({*known_cities, *given}, key=len)[::-1])
    if not city and len(cities) == 1:
        city = _DISTRICT.sub("", fold(cities[0]))
    matches = None
    if locality is not None:
        matches = locality.prefecture == prefecture and (
            not given or bool(set(given) & set(known_cities))
        )
    return NormalAddress(f"{prefecture}/{city}/{rest}", code, prefecture, city, matches)
