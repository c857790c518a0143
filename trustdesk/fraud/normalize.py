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


def phone(value: str, region: str = "JP") -> str | None:
    """E.164 (``+819012345678``) for a number that can exist; national numbers are read as
    Japanese. Hyphens, brackets, full-width digits and ``+81`` prefixes all give the same form."""
    try:
        number = phonenumbers.parse(text(value), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_PHONE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE: "mobile",
    phonenumbers.PhoneNumberType.FIXED_LINE: "fixed",
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed",
    phonenumbers.PhoneNumberType.VOIP: "ip",
    phonenumbers.PhoneNumberType.TOLL_FREE: "toll_free",
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "premium",
}


def phone_kind(e164: str | None) -> tuple[str, str]:
    """``(kind, region)`` of a normalised number: mobile, fixed, ip (050), toll_free, premium,
    other or none; region is the ISO country code (``JP``) or empty."""
    if e164 is None:
        return "none", ""
    number = phonenumbers.parse(e164)
    if not phonenumbers.is_valid_number(number):
        return "other", phonenumbers.region_code_for_number(number) or ""
    kind = _PHONE_TYPES.get(phonenumbers.number_type(number), "other")
    return kind, phonenumbers.region_code_for_number(number) or ""


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
