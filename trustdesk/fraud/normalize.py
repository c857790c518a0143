"""Normalised forms of what buyers type, so that the same person matches however they wrote it.

Every match the service makes — against the known-fraud database, in velocity counts, between
billing and shipping — compares these forms, never the raw text (issue 5: "normalisation before
any match"). Each function is pure and idempotent: ``f(f(x)) == f(x)``. A value that cannot be
read (an e-mail without a domain, a phone number with too few digits) gives ``None``, which never
matches anything. Japanese addresses have their own module, :mod:`trustdesk.fraud.addresses`.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import jaconv
import phonenumbers

_SPACES = re.compile(r"\s+")
_NAME_PUNCTUATION = re.compile(r"[\s・･=＝.,、。·•]+")

# Old and variant forms of kanji that people write interchangeably in family names. Japan's
# registries keep them apart, but a buyer types 高橋 on one shop and 髙橋 on another, so the
# service folds them to the common form before comparing names.
_NAME_VARIANTS = str.maketrans(
    {
        "髙": "高",
        "﨑": "崎",
        "嵜": "崎",
        "邊": "辺",
        "邉": "辺",
        "濵": "浜",
        "濱": "浜",
        "齋": "斎",
        "齊": "斉",
        "德": "徳",
        "槗": "橋",
        "栁": "柳",
        "櫻": "桜",
        "澤": "沢",
        "廣": "広",
        "國": "国",
        "壽": "寿",
        "眞": "真",
    }
)


def text(value: str) -> str:
    """NFKC (full-width letters and digits become ASCII, half-width kana full-width), runs of
    whitespace (including the ideographic space) become one space, ends trimmed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", value)).strip()


def kana_name(value: str) -> str | None:
    """A name written in kana: hiragana and half-width katakana become katakana, spaces and
    middle dots go, Latin letters are lower-cased: ``かとう じろう`` = ``ｶﾄｳ ｼﾞﾛｳ``."""
    folded = jaconv.hira2kata(text(value)).lower()
    folded = _NAME_PUNCTUATION.sub("", folded)
    return folded or None


def person_name(value: str) -> str | None:
    """A name in kanji (or Latin letters): NFKC, no spaces, variant kanji folded (髙→高),
    kana folded as in :func:`kana_name`, Latin letters lower-cased."""
    folded = jaconv.hira2kata(text(value).translate(_NAME_VARIANTS)).lower()
    folded = _NAME_PUNCTUATION.sub("", folded)
    return folded or None


# Providers that ignore dots in the local part: every dotted spelling reaches the same inbox.
_DOTLESS_DOMAINS = frozenset({"gmail.com"})
_DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def email(value: str) -> str | None:
    """The mailbox an address reaches: lower case, no ``+tag`` (RFC 5233 sub-addressing, which
    the large providers all honour), googlemail.com = gmail.com, and no dots in Gmail local
    parts. Other providers keep their dots: at docomo.ne.jp ``a.b`` and ``ab`` are two people.
    """
    folded = text(value).lower().replace(" ", "")
    if not _EMAIL.fullmatch(folded):
        return None
    local, domain = folded.rsplit("@", 1)
    domain = _DOMAIN_ALIASES.get(domain.rstrip("."), domain.rstrip("."))
    local = local.split("+", 1)[0]
    if domain in _DOTLESS_DOMAINS:
        local = local.replace(".", "")
    return f"{local}@{domain}" if local else None


def email_domain(normalised: str | None) -> str:
    return normalised.rsplit("@", 1)[1] if normalised else ""


_PHONE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE: "mobile",
    phonenumbers.PhoneNumberType.FIXED_LINE: "fixed",
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed",
    phonenumbers.PhoneNumberType.VOIP: "ip",
    phonenumbers.PhoneNumberType.TOLL_FREE: "toll_free",
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "premium",
}


@dataclass(frozen=True)
class Phone:
    """A number in E.164 (``+819012345678``), its kind — mobile, fixed, ip (050), toll_free,
    premium or other — and its country (``JP``)."""

    e164: str
    kind: str
    region: str


_PHONE_PUNCTUATION = re.compile(r"[\s()\-‐‑‒–—―−ー.]")
_JAPANESE_NATIONAL = re.compile(r"0[1-9][0-9]{8,9}")


@lru_cache(maxsize=65536)
def phone_details(value: str, region: str = "JP") -> Phone | None:
    """The number ``value`` can be, read as Japanese when national: hyphens, brackets,
    full-width digits and ``+81`` prefixes all give the same E.164 form. None if it cannot
    exist.

    A plain Japanese national number (0 and 9 or 10 digits, the usual way buyers write it)
    is read directly; anything else goes through phonenumbers, which takes ten times as long.
    """
    digits = _PHONE_PUNCTUATION.sub("", text(value))
    if region == "JP" and _JAPANESE_NATIONAL.fullmatch(digits):
        return Phone("+81" + digits[1:], _japanese_kind(digits[1:]), "JP")
    try:
        number = phonenumbers.parse(text(value), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    country = phonenumbers.region_code_for_number(number) or ""
    if country == "JP":
        kind = _japanese_kind(str(number.national_number))
    elif phonenumbers.is_valid_number(number):
        kind = _PHONE_TYPES.get(phonenumbers.number_type(number), "other")
    else:
        kind = "other"
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Phone(e164, kind, country)


def _japanese_kind(national: str) -> str:
    """The kind of a Japanese number from its prefix (the numbering plan of the Ministry of
    Internal Affairs and Communications), as phonenumbers' own metadata says but ten times
    faster: 070/080/090 mobile, 050 IP phone, 0120/0800 toll free, 0990 premium."""
    if len(national) == 10 and national[:2] in ("70", "80", "90"):
        return "mobile"
    if len(national) == 10 and national.startswith("50"):
        return "ip"
    if national.startswith(("120", "800")):
        return "toll_free"
    if national.startswith("990"):
        return "premium"
    return "fixed" if len(national) == 9 else "other"


def phone(value: str) -> str | None:
    """E.164 of a buyer's number (see :func:`phone_details`)."""
    details = phone_details(value)
    return details.e164 if details else None


def ip_key(value: str) -> str | None:
    """An IPv4 address, or the /64 of an IPv6 address: one household or phone holds a whole
    /64, and privacy extensions change the rest every few hours."""
    try:
        address = ipaddress.ip_address(text(value))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def token(value: str | None) -> str | None:
    """A device id or card token: NFKC, no whitespace, case kept folded (tokens are opaque but
    merchants' systems differ in case)."""
    if value is None:
        return None
    folded = text(value).replace(" ", "").casefold()
    return folded or None
