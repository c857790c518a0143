"""Finding a full card number anywhere in an order, so that it is refused and never stored.

Merchants send a card BIN, the last four digits and a token; a full number (PAN) in any field
— a note, an item name, the token itself — would put the service in PCI DSS scope, so the whole
order is refused before anything of it is kept (issue 5). A PAN is a run of 13 to 19 digits,
possibly grouped by single spaces or hyphens (``4111 1111 1111 1111``), that passes the Luhn
check. Full-width digits count too, since NFKC makes them digits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def contains_card_number(value: str) -> bool:
    folded = unicodedata.normalize("NFKC", value)
    return any(
        luhn_valid(match.group().replace(" ", "").replace("-", ""))
        for match in _DIGIT_RUN.finditer(folded)
    )


def card_number_fields(document: Any, path: str = "") -> Iterator[str]:
    """The paths (``payment.card_token``, ``items[0].name``) of the values in a parsed JSON
    document that carry a full card number; numbers given as JSON integers are read too."""
    if isinstance(document, dict):
        for key, value in document.items():
            where = f"{path}.{key}" if path else str(key)
            if contains_card_number(str(key)):
                yield where
            yield from card_number_fields(value, where)
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from card_number_fields(value, f"{path}[{index}]")
    elif isinstance(document, str | int) and not isinstance(document, bool):
        if contains_card_number(str(document)):
            yield path or "(document)"
