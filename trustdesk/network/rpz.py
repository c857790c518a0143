"""DNS Response Policy Zones (RPZ) as text: values in, zone file lines out (no I/O, no clock).

The format is the one BIND, Unbound, Knot Resolver and PowerDNS Recursor all load: an SOA and
an NS record, then one record per trigger whose owner name is the query name to act on and
whose CNAME says what to do (``.`` = NXDOMAIN, ``rpz-passthru.`` = answer normally, another
name = answer with that name's data, a walled garden or block page). Owner names are written
relative to the zone, so the file works under whatever zone name a resolver gives it.

Seed 002 §25-2-1 blocks C&C domains "without warning": the domain and every name under it
(``example.com`` and ``*.example.com``). Seed 002 §28 blocks the listed hosts themselves only,
to keep the over-blocking §28-2 accepts to what an RPZ cannot avoid.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from trustdesk.network.domains import is_within
from trustdesk.timeutil import require_aware

NXDOMAIN = "."
PASSTHRU = "rpz-passthru."
_SERIAL_SPACE = 2**32  # RFC 1982: SOA serials are 32-bit and compared modulo 2**32


@dataclass(frozen=True)
class ZoneHeader:
    serial: int
    ttl: int
    contact: str  # the SOA RNAME, a mailbox written as a name (hostmaster.example.net)
    nameserver: str = "localhost."


@dataclass(frozen=True)
class ZoneContent:
    """What a zone says: blocked names, the answer they get, and exceptions inside them."""

    blocked: tuple[str, ...]
    target: str = NXDOMAIN  # CNAME target of a blocked name
    subdomains: bool = True  # also block every name under each blocked one
    passthru: tuple[str, ...] = ()  # allowlisted names inside blocked domains

    def digest(self) -> str:
        """A fingerprint of the zone's content, serial aside: equal digests, equal answers."""
        hasher = hashlib.sha256(f"{self.target}\x00{self.subdomains}\x00".encode())
        hasher.update("\n".join(self.blocked).encode())
        hasher.update(b"\x00")
        hasher.update("\n".join(self.passthru).encode())
        return hasher.hexdigest()

    def triggers(self) -> set[str]:
        """The names the zone acts on, in the form ``triggers_in`` reads back from a file."""
        return {*self.blocked, *(f"passthru:{name}" for name in self.passthru)}

    def records(self) -> Iterator[str]:
        for name in self.blocked:
            yield f"{name} CNAME {self.target}\n"
            if self.subdomains:
                yield f"*.{name} CNAME {self.target}\n"
        for name in self.passthru:
            yield f"{name} CNAME {PASSTHRU}\n"
            yield f"*.{name} CNAME {PASSTHRU}\n"


def triggers_in(lines: Iterable[str]) -> set[str]:
    """The names an earlier zone file of ours acts on, as ``name`` or ``passthru:name``, so that
    an export can say what it changed without keeping a second copy of a million names."""
    found = set()
    for line in lines:
        name, _, rest = line.partition(" CNAME ")
        if not rest or name.startswith(("*.", ";", "$", "@")):
            continue
        found.add(f"passthru:{name}" if rest.strip() == PASSTHRU else name)
    return found


def cname_target(name: str | None) -> str:
    """The CNAME target for a rewrite name from the settings, or NXDOMAIN when unset."""
    return NXDOMAIN if not name else name.rstrip(".") + "."


def render(header: ZoneHeader, content: ZoneContent) -> Iterator[str]:
    """The zone file, line by line (a million-domain zone is never held as one string)."""
    yield f"; trustdesk response policy zone, serial {header.serial}\n"
    yield f"$TTL {header.ttl}\n"
    yield (
        f"@ SOA {header.nameserver} {header.contact.rstrip('.')}. "
        f"{header.serial} 3600 600 604800 {header.ttl}\n"
    )
    yield f"@ NS {header.nameserver}\n"
    yield from content.records()


def cc_policy(listed: Iterable[str], allowed: Iterable[str], target: str) -> ZoneContent:
    """The C&C zone: listed domains minus the allowlist (seed 002 §25-2, issue 6: "an allowlist
    that no feed can override").

    A listed name at or under an allowlisted domain is left out; an allowlisted name under a
    listed domain gets PASSTHRU, which beats the listed domain's wildcard. A listed name under
    another listed one adds nothing (the wildcard covers it) and is left out too.
    """
    allow = set(allowed)
    blocked: list[str] = []
    for name in sorted(set(listed), key=_tree_order):
        if blocked and is_within(name, blocked[-1]):
            continue
        if allow and _under_any(name, allow):
            continue
        blocked.append(name)
    kept = set(blocked)
    passthru = sorted(name for name in allow if _under_any(name, kept, strictly=True))
    return ZoneContent(tuple(blocked), target, True, tuple(passthru))


def csam_policy(hosts: Iterable[str], target: str) -> ZoneContent:
    """The CSAM zone: each listed host, not the names under it (seed 002 §28-2: only what is
    necessary beyond the material itself)."""
    return ZoneContent(tuple(sorted(set(hosts), key=_tree_order)), target, subdomains=False)


def next_serial(previous: int | None, now: datetime) -> int:
    """A serial greater than ``previous`` in RFC 1982 arithmetic: the Unix time when that is
    greater, else ``previous + 1``. Time-based serials stay increasing even if a recorded
    serial was lost (a rolled-back export), as long as the clock does."""
    clock = int(require_aware(now).timestamp()) % _SERIAL_SPACE
    if previous is None or _serial_greater(clock, previous):
        return clock
    return (previous + 1) % _SERIAL_SPACE


def _serial_greater(a: int, b: int) -> bool:
    return a != b and (a - b) % _SERIAL_SPACE < 2**31


def _tree_order(name: str) -> str:
    """Sort key that puts a domain right before the names under it: the name reversed, with
    its dots as NUL, the smallest character (``a.evil.example`` follows ``evil.example`` and
    precedes ``evil-x.example``). A string key: sorting a million names is the export's cost."""
    return name[::-1].replace(".", "\x00")


def _under_any(name: str, domains: set[str], strictly: bool = False) -> bool:
    """Whether ``name`` (or, ``strictly``, a domain above it) is in ``domains``."""
    if not strictly and name in domains:
        return True
    dot = name.find(".")
    while dot != -1:
        if name[dot + 1 :] in domains:
            return True
        dot = name.find(".", dot + 1)
    return False
