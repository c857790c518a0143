"""Personal data masked for lists and logs (issue 4): enough to tell people apart, not to reach
them. Full values are shown only on the detail pages of roles that need them. The complainant
is redacted from the texts a masked reader sees (``cases.views``, issue 17)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any


def mask_email(address: str | None) -> str:
    """``t***@example.jp``."""
    if not address:
        return "-"
    local, at, domain = address.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else f"{address[:1]}***"


def mask_name(name: str | None) -> str:
    """``山田 *``: the family name only; a name without a space keeps its first character."""
    if not name:
        return "-"
    words = name.split()
    if len(words) > 1:
        return words[0] + " *"
    return name[:1] + "*" * max(1, len(name) - 1)


def mask_phone(phone: str | None) -> str:
    """``090-****-5678``: the last four digits."""
    if not phone:
        return "-"
    digits = [c for c in phone if c.isdigit()]
    return "***-" + "".join(digits[-4:]) if len(digits) > 4 else "***"


# What a complainant's name, address or organisation becomes in text a masked reader sees.
REDACTED = "［申告者情報・非表示］"
_SHORTEST_SECRET = 2  # one character would blot out unrelated text; a family name has two


def redactor(secrets: Iterable[str | None], within: Any = None) -> Callable[[Any], Any]:
    """A function that returns its argument (a text, or a JSON-like tree of dicts, lists and
    scalars) with every occurrence of ``secrets`` in its texts replaced by ``REDACTED``, case
    ignored (an address in capitals is the same address); keys are left alone.

    ``within`` is what the function will be given (a view's rows): only the secrets found in
    its texts are kept, by plain substring tests, so that a view that names nobody costs a
    scan and no pattern (one pattern of the hundreds of complainants of a big spam case cost
    10 ms a text). The longest secret is tried first, so that a name inside an address leaves
    nothing of the address behind."""
    wanted = sorted(
        {s.strip() for s in secrets if s and len(s.strip()) >= _SHORTEST_SECRET},
        key=len,
        reverse=True,
    )
    if within is not None:
        corpus = _Corpus(within)
        wanted = [secret for secret in wanted if corpus.holds(secret)]
    if not wanted:
        return lambda value: value
    pattern = re.compile("|".join(re.escape(secret) for secret in wanted), re.IGNORECASE)
    return lambda value: _walk(value, lambda text: pattern.sub(REDACTED, text))


class _Corpus:
    """The texts of a value, lowercased, to test secrets against. An address (ASCII) is looked
    for in a one-byte copy, where the search is several times faster than in Japanese text."""

    def __init__(self, value: Any) -> None:
        self.text = "\0".join(_texts(value)).lower()
        self.ascii = self.text.encode("ascii", "replace")

    def holds(self, secret: str) -> bool:
        folded = secret.lower()
        return folded.encode() in self.ascii if folded.isascii() else folded in self.text


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


def _walk(value: Any, scrub: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {key: _walk(item, scrub) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(item, scrub) for item in value]
    return value
