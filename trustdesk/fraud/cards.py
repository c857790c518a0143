"""Finding a full card number anywhere in an order, so that it is refused and never stored.

Merchants send a card BIN, the last four digits and a token; a full number (PAN) in any field
— a note, an item name, the token itself — would put the service in PCI DSS scope, so the whole
order is refused before anything of it is kept (issue 5). A PAN is a run of 13 to 19 digits,
possibly grouped by single spaces or hyphens (``4111 1111 1111 1111``), that starts like a
card network's numbers and passes the Luhn check. Full-width digits count too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import orjson

_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")
_CANDIDATE = re.compile(r"[0-9][0-9 -]{11,}[0-9]")
_FULL_WIDTH = re.compile("[０-９－]")  # full-width digits and hyphen: U+FF10-19, U+FF0D


def plausible_pan(digits: str) -> bool:
    """A number a card network issues: Visa (4), Mastercard (51-55, 2221-2720), American
    Express (34, 37), JCB (35), Diners (30, 36, 38, 39), Discover and UnionPay (6), with a
    valid Luhn check digit. Other first digits (1, 7, 8, 9, 0) are not card networks', so a
    13-digit millisecond timestamp in an order id is not taken for a card."""
    first = digits[0]
    if first == "2":
        network = 2221 <= int(digits[:4]) <= 2720
    else:
        network = first in "3456"
    return network and luhn_valid(digits)


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _ascii(match: re.Match[str]) -> str:
    return chr(ord(match.group()) - 0xFEE0)


def contains_card_number(value: str) -> bool:
    """Whether ``value`` holds a PAN. Full-width digits (the form Japanese input methods type)
    are read as digits; a quick scan for long runs of digits, spaces and hyphens comes first,
    since almost no text has one."""
    folded = _FULL_WIDTH.sub(_ascii, value)
    for candidate in _CANDIDATE.finditer(folded):
        for match in _DIGIT_RUN.finditer(candidate.group()):
            if plausible_pan(match.group().replace(" ", "").replace("-", "")):
                return True
    return False


def card_number_fields(document: Any) -> list[str]:
    """The paths (``payment.card_token``, ``items[0].name``) of the keys and values in a parsed
    JSON document that carry a full card number; numbers given as JSON integers count too.

    The document is searched as one JSON text first (JSON's quotes and commas keep runs from
    crossing values), so the walk that names the fields runs only when there is one."""
    if not contains_card_number(_json_text(document)):
        return []
    return list(_fields_with_cards(document))


def _json_text(document: Any) -> str:
    """The document as JSON text: by orjson, a fifth of json's time, unless a number is past
    its 64 bits (any JSON number may be)."""
    try:
        return orjson.dumps(document, default=str).decode()
    except orjson.JSONEncodeError:
        return json.dumps(document, ensure_ascii=False, default=str)


def _fields_with_cards(document: Any, path: str = "") -> Iterator[str]:
    if isinstance(document, dict):
        for key, value in document.items():
            where = f"{path}.{key}" if path else str(key)
            if contains_card_number(str(key)):
                yield where
            yield from _fields_with_cards(value, where)
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from _fields_with_cards(value, f"{path}[{index}]")
    elif isinstance(document, str | int) and not isinstance(document, bool):
        if contains_card_number(str(document)):
            yield path or "(document)"
