"""Domain names as the block lists keep them: IDNA A-labels, lower case, no trailing dot.

Feeds are written by outsiders and a wrong entry blocks real sites for every member, so a name
is refused rather than repaired when it is not a host name: an IP address, a bare public suffix
(``co.jp`` would block a whole country's companies), a label that is empty, too long or holds
characters DNS names do not. Unicode names are converted with IDNA 2008 and UTS #46 mapping
(``idna``), the conversion browsers use, so ``ＥＸＡＭＰＬＥ．jp`` and ``example.jp`` are one entry.
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache

import idna
import tldextract

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_MAX_NAME = 253


class InvalidDomain(ValueError):
    """The text is not a domain name the block lists can hold; the message says why.

    ``problem`` says it without quoting the text, for lists whose entries must not be logged.
    """

    def __init__(self, message: str, problem: str) -> None:
        super().__init__(message)
        self.problem = problem


def normalise_domain(text: str) -> str:
    """The canonical form of ``text`` (``Example.COM.`` → ``example.com``), or InvalidDomain.

    A leading ``*.`` is dropped: an entry always covers the domain and every name under it.
    """
    name = text.strip().rstrip(".").removeprefix("*.")
    if not name:
        raise InvalidDomain("empty name", "empty name")
    if _is_address(name):
        raise InvalidDomain(f"{_shown(text)} is an IP address, not a domain name", "an IP address")
    ascii_name = _to_ascii(name, text)
    labels = ascii_name.split(".")
    if len(ascii_name) > _MAX_NAME:
        raise InvalidDomain(
            f"{_shown(text)} is longer than {_MAX_NAME} characters", "name too long"
        )
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise InvalidDomain(
                f"{_shown(text)} has an invalid label {label[:63]!r}", "invalid characters"
            )
    if len(labels) < 2 or _is_public_suffix(ascii_name):
        raise InvalidDomain(
            f"{_shown(text)} is a top-level domain or public suffix; blocking it would block "
            "every site under it",
            "a public suffix",
        )
    return ascii_name


def is_within(name: str, parent: str) -> bool:
    """Whether ``name`` is ``parent`` or a name under it (both normalised)."""
    return name == parent or name.endswith("." + parent)


def parents(name: str) -> list[str]:
    """``name`` and each domain above it, down to two labels: a.b.example.jp → a.b.example.jp,
    b.example.jp, example.jp."""
    labels = name.split(".")
    return [".".join(labels[index:]) for index in range(len(labels) - 1)]


def _to_ascii(name: str, original: str) -> str:
    if name.isascii():
        return name.lower()
    try:
        return idna.encode(name, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidDomain(
            f"{_shown(original)} is not a valid internationalised name: {exc}", "invalid IDN"
        ) from exc


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


@cache
def _extractor() -> tldextract.TLDExtract:
    """The public suffix list snapshot shipped with tldextract: no download at run time."""
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def _is_public_suffix(name: str) -> bool:
    parts = _extractor()(name)
    return not parts.domain and bool(parts.suffix)


def _shown(text: str) -> str:
    """The offending text in a message, cut short and quoted so it cannot forge a line."""
    return repr(text.strip()[:80])
