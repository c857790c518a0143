"""Where did a spam mail come from? Walk its Received headers from the top.

SPEC §1 / seed 000: spam complaint needs full headers; the desk checks the mail came from our
network. Only the headers written by the recipient's own servers can be believed: everything
below the hop where the mail entered the recipient's network was written by the sender (or by
whoever the sender paid) and can be forged. So the walk starts at the topmost header, follows the
chain down while it stays inside the recipient's network, and stops at the entry point, the way
SpamAssassin's trust path and SpamCop's chain check do. The one exception is our own outbound
smarthost: a hop it recorded is ours, so the walk may go one step further below it.

Pure module: values in, values out; no DNS, no clock.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import tldextract

from trustdesk.timeutil import parse_mail_date

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Hop:
    """One Received header, as far as it can be read. Fields the header lacks are None."""

    raw: str  # the unfolded header value
    from_helo: str | None  # name the sender gave (HELO/EHLO), lowercased
    from_rdns: str | None  # reverse-DNS name the receiver recorded, lowercased, no trailing dot
    from_ip: str | None  # connecting IP as recorded, normalised by ipaddress
    by_host: str | None  # host that recorded this header, lowercased
    protocol: str | None  # the "with" word, upper-cased (RFC 3848 names are case-insensitive)
    auth_user: str | None  # authenticated user if recorded
    received_at: datetime | None  # timezone-aware date after the last ';'


@dataclass(frozen=True)
class Origin:
    """Where the mail entered the recipient's network, and the walk that says so."""

    ip: str | None  # originating IP, None when it cannot be told
    helo: str | None
    rdns: str | None
    auth_user: str | None
    observed_at: datetime | None  # received_at of the hop that recorded the origin IP
    hop_index: int | None  # index (0 = topmost header) of that hop
    path: tuple[str, ...]  # one English line per decision, for the operator to defend it
    warnings: tuple[str, ...]


# --- reading one header -------------------------------------------------------------------------

_KEYWORDS = frozenset({"from", "by", "via", "with", "id", "for"})
_FOLD = re.compile(r"[ \t]*(?:\r\n|\r|\n)[ \t]*")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_HELO_COMMENT = re.compile(r"^(?:HELO|EHLO|LHLO)\s+(\S+)", re.IGNORECASE)  # qmail, LMTP
_HELO_PARAM = re.compile(r"\bhelo=([^\s()]+)", re.IGNORECASE)  # Exim, ecelerity
_EXIM = re.compile(r"\(Exim\s", re.IGNORECASE)
_IPV4_PORT = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3}):\d+")
_AUTH = (
    re.compile(r"\(Authenticated (?:sender|user):\s*<?([^\s<>()]+)", re.IGNORECASE),  # Postfix
    re.compile(r"\bauthenticated_id:\s*<?([^\s<>()]+)", re.IGNORECASE),  # Exim
    re.compile(r"\(authenticated as\s+<?([^\s<>()]+)", re.IGNORECASE),  # Exim, Sendmail
    re.compile(r"\(AUTH:\s*\w+\s+([^\s,<>()]+)", re.IGNORECASE),  # Courier
)


class _Token(NamedTuple):
    """A word, or the inside of a (comment): comments hold the details MTAs add."""

    text: str
    comment: bool


class _Slot(NamedTuple):
    """The comment (or bare [literal]) where the receiver wrote the connecting address."""

    ip: str | None
    rdns: str  # the word before the [ip] ("" when none): the reverse-DNS name, or "unknown"


def parse_received(value: str) -> Hop:
    """Read one Received header value; never raises, unreadable parts are None."""
    raw = _FOLD.sub(" ", value).strip()
    clause_text, date_text = _split_date(raw)
    clauses = _clauses(_tokenize(clause_text))
    helo, rdns, ip = _sender(clauses.get("from", []), exim=bool(_EXIM.search(raw)))
    protocol = _first_word(clauses.get("with", []))
    return Hop(
        raw=raw,
        from_helo=helo,
        from_rdns=rdns,
        from_ip=ip,
        by_host=_name(_first_word(clauses.get("by", []))),
        protocol=protocol.upper() if protocol else None,
        auth_user=_auth_user(clause_text),
        received_at=parse_mail_date(date_text),
    )


def _split_date(text: str) -> tuple[str, str]:
    """Split at the last ';' outside comments: RFC 5321 puts the date after it."""
    depth, cut = 0, -1
    for mark in _MARKS.finditer(text):  # only the three characters that matter, not every one
        char = mark.group()
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif depth == 0:
            cut = mark.start()
    if cut < 0:
        return text, ""
    return text[:cut], text[cut + 1 :]


_MARKS = re.compile(r"[();]")
_PIECES = re.compile(r"\(|\)|[^\s()]+")


def _tokenize(text: str) -> list[_Token]:
    """Words and (possibly nested) comments, in order; an unclosed comment runs to the end."""
    tokens: list[_Token] = []
    depth, opened = 0, 0
    for piece in _PIECES.finditer(text):
        mark = piece.group()
        if mark == "(":
            if depth == 0:
                opened = piece.end()
            depth += 1
        elif mark == ")":
            if depth == 1:
                tokens.append(_Token(text[opened : piece.start()].strip(), True))
            depth = max(depth - 1, 0)
        elif depth == 0:
            tokens.append(_Token(mark, False))
    if depth:
        tokens.append(_Token(text[opened:].strip(), True))
    return tokens


def _clauses(tokens: list[_Token]) -> dict[str, list[_Token]]:
    """Group tokens under the RFC 5321 clause words (from, by, via, with, id, for).

    The first word after "from" is always the sender's name, even if it looks like a clause word
    (a sender may say HELO "by"); a clause word seen twice is ordinary text the second time.
    """
    clauses: dict[str, list[_Token]] = {}
    current: list[_Token] | None = None
    for token in tokens:
        word = token.text.lower()
        naming_sender = current is not None and current is clauses.get("from") and not current
        if not token.comment and word in _KEYWORDS and word not in clauses and not naming_sender:
            current = clauses[word] = []
        elif current is not None:
            current.append(token)
    return clauses


def _first_word(tokens: list[_Token]) -> str | None:
    return next((token.text for token in tokens if not token.comment), None)


def _sender(tokens: list[_Token], exim: bool) -> tuple[str | None, str | None, str | None]:
    """(helo, rdns, ip) from the "from" clause, telling the MTA dialects apart.

    Postfix, Sendmail and Gmail write ``from HELO (RDNS [IP])``; qmail and LMTP write
    ``from RDNS (HELO name) (IP)``; Exim writes ``from RDNS ([IP] helo=NAME)`` or
    ``from [IP] (helo=NAME)``, and leaves helo= out when it equals the RDNS; Exchange writes
    ``from HELO (IP)``; Yahoo writes ``from [IP]``.
    """
    if not tokens or tokens[0].comment:
        return None, None, None
    name, rest = tokens[0].text, tokens[1:]
    literal = name.startswith("[")
    slot = _address_slot(rest)
    ip = slot.ip if slot else _as_ip(name) if literal else None
    qmail_helo = _comment_match(rest, _HELO_COMMENT)
    if qmail_helo is not None:
        return _name(qmail_helo), _rdns(name), ip
    exim_helo = _comment_match(rest, _HELO_PARAM)
    if exim_helo is not None:
        return _name(exim_helo), None if literal else _rdns(name), ip
    if slot and slot.rdns:
        return _name(name), _rdns(slot.rdns), ip
    if slot is None and literal:
        return None, None, ip
    return _name(name), _rdns(name) if exim and slot and not literal else None, ip


def _address_slot(tokens: list[_Token]) -> _Slot | None:
    """The first place after the sender's name that records an address, if any.

    A HELO name is no address, even when it is an address literal (``helo=[192.168.0.10]``).
    """
    for token in tokens:
        if token.comment and _HELO_COMMENT.match(token.text):
            continue
        text = _HELO_PARAM.sub("", token.text)
        bracket = _BRACKET.search(text)
        if token.comment and bracket:
            before = text[: bracket.start()].split()
            return _Slot(_as_ip(bracket.group(1)), before[-1] if before else "")
        if token.comment and _as_ip(text):
            return _Slot(_as_ip(text), "")
        if not token.comment and token.text.startswith("["):
            return _Slot(_as_ip(token.text), "")
    return None


def _comment_match(tokens: list[_Token], pattern: re.Pattern[str]) -> str | None:
    for token in tokens:
        found = pattern.search(token.text) if token.comment else None
        if found:
            return found.group(1)
    return None


def _name(text: str | None) -> str | None:
    """Host names compare case-insensitively and without the root's trailing dot."""
    cleaned = (text or "").strip().lower().rstrip(".")
    return cleaned or None


def _rdns(text: str) -> str | None:
    """A recorded reverse-DNS name; Sendmail prefixes an ident user, "unknown" means none."""
    name = _name(text.rpartition("@")[2])
    return None if name == "unknown" else name


def _as_ip(text: str) -> str | None:
    """Normalised address from ``1.2.3.4``, ``[1.2.3.4]:25``, ``[IPv6:2001:db8::1]`` or None.

    An IPv4-mapped IPv6 address is the IPv4 host it maps, so it is written as IPv4.
    """
    value = text.strip()
    bracketed = re.fullmatch(r"\[([^\]]*)\](?::\d+)?", value)
    if bracketed:
        value = bracketed.group(1).strip()
    if value[:5].lower() == "ipv6:":
        value = value[5:]
    with_port = _IPV4_PORT.fullmatch(value)
    if with_port:
        value = with_port.group(1)
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return str(mapped or address)


def _auth_user(text: str) -> str | None:
    for pattern in _AUTH:
        found = pattern.search(text)
        if found:
            return found.group(1)
    return None


# --- whose network is whose ---------------------------------------------------------------------

_HOSTNAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)+")
# Python counts the documentation ranges as private; the example provider and its fixtures use
# them as public address space (trustdesk.toml networks), so they are not "inside" anybody.
_DOCUMENTATION = tuple(
    ipaddress.ip_network(net)
    for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)


@functools.cache
def _extractor() -> tldextract.TLDExtract:
    """The bundled public-suffix snapshot, offline, built on first use (it takes ~0.5 s)."""
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@functools.lru_cache(maxsize=4096)
def _org_domain(name: str | None) -> str | None:
    """Organisational domain of a DNS name (the name under its public suffix).

    An unknown suffix (.example, .tld, .local) falls back to the last two labels. IP literals
    and single-label names ("server", "localhost") have none: they say nothing about whose
    network they belong to.
    """
    host = _name(name)
    if host is None or not _HOSTNAME.fullmatch(host) or _as_ip(host):
        return None
    parts = _extractor()(host)
    if hasattr(parts, "top_domain_under_public_suffix"):
        org = parts.top_domain_under_public_suffix
    else:
        org = parts.registered_domain
    return org or ".".join(host.split(".")[-2:])


def _in_domains(name: str | None, domains: Iterable[str]) -> str | None:
    """The domain (of ``domains``) that ``name`` is in, if any."""
    host = _name(name)
    if host is None:
        return None
    return next((d for d in sorted(domains) if host == d or host.endswith("." + d)), None)


def _is_internal(address: IPAddress) -> bool:
    """Private, loopback or link-local: such a sender is a machine of the recorder's own site."""
    if address.is_loopback or address.is_link_local:
        return True
    return address.is_private and not any(address in net for net in _DOCUMENTATION)


def _is_loopback(ip: str | None) -> bool:
    return ip is not None and ipaddress.ip_address(ip).is_loopback


def _same_host(recorder: str, name: str) -> bool:
    """Same host: equal, or the shorter is the longer without its domain part.

    An MTA often knows itself, or its peer, by an unqualified or partly qualified name
    (``server`` for ``server.domain.tld``, ``smtp53.gate.dfw1a`` for
    ``smtp53.gate.dfw1a.rsapps.net``).
    """
    if recorder == name:
        return True
    if _as_ip(recorder) or _as_ip(name):
        return False
    short, long = sorted((recorder, name), key=len)
    return long.startswith(short + ".")


@dataclass(frozen=True)
class _Recorder:
    """Who may have written the next hop: the host the hop above says handed the mail over.

    SPEC chain check (SpamCop): a hop is believed only if it was recorded by that host. A hop
    from loopback was handed over on the same machine (content filters such as amavis), so
    whoever recorded the next hop is accepted.
    """

    names: frozenset[str]
    ips: frozenset[str]
    anyone: bool

    @classmethod
    def of(cls, hop: Hop) -> _Recorder:
        ips = frozenset({hop.from_ip} if hop.from_ip else ())
        return cls(_sender_names(hop), ips, _is_loopback(hop.from_ip))

    def also(self, hop: Hop) -> _Recorder:
        """A hop without an address still names its sender: that host may record the next."""
        return _Recorder(self.names | _sender_names(hop), self.ips, self.anyone)

    def recorded(self, hop: Hop) -> bool:
        if self.anyone:
            return True
        recorder = _name(hop.by_host)
        if recorder is None:
            return False
        if _as_ip(recorder) in self.ips:
            return True
        return any(_same_host(recorder, name) for name in self.names)

    def describe(self) -> str:
        return " / ".join(sorted(self.names) + sorted(self.ips)) or "no named host"


def _sender_names(hop: Hop) -> frozenset[str]:
    return frozenset(name for name in (hop.from_helo, hop.from_rdns) if name)


# --- the walk -----------------------------------------------------------------------------------


def find_origin(
    received: Sequence[str],
    trusted_relays: Collection[str],
    complainant_domains: Collection[str] = (),
) -> Origin:
    """Originating IP of a mail from its Received values (topmost first), with the reasons.

    ``trusted_relays`` are the IPs of our own outbound smarthosts; ``complainant_domains`` are
    further domains of the complainant (e.g. of the complaint's From address).
    """
    hops = [parse_received(value) for value in received]
    relays = frozenset(_as_ip(relay) or relay.strip().lower() for relay in trusted_relays)
    return _Walk(hops, relays, complainant_domains).run()


class _Walk:
    """One walk down a header chain, collecting the operator's lines as it decides."""

    def __init__(
        self, hops: list[Hop], relays: frozenset[str], complainant_domains: Collection[str]
    ) -> None:
        self.hops = hops
        self.relays = relays
        self.path: list[str] = []
        self.warnings: list[str] = []
        self.domains = self._recipient_domains(complainant_domains)

    def run(self) -> Origin:
        """SPEC walk rules 2-5: find the entry point into the recipient's network.

        Our own relay is never part of the recipient's network (even when the recipient is one
        of our customers and shares our domain), so it is tested before the inside rules.
        """
        expected = _Recorder(frozenset(), frozenset(), anyone=True)
        for index, hop in enumerate(self.hops):
            if hop.from_ip is None:
                self._skip(index, hop)
                expected = expected.also(hop)
                continue
            if not expected.recorded(hop):
                return self._broken(index, hop, expected)
            if hop.from_ip in self.relays:
                return self._follow_relays(index)
            if not self._still_inside(index, hop):
                return self._entry(index)
            expected = _Recorder.of(hop)
        self.warnings.append(
            "no hop from outside the recipient's network: the origin cannot be told"
        )
        return self._origin(None)

    def _recipient_domains(self, complainant_domains: Collection[str]) -> frozenset[str]:
        """Rule 1: the topmost header was written by the recipient's own final server.

        Headers on top that record no sender address (Gmail's ``by 2002:a05:...``) are looked
        past while their recorder is no DNS name.
        """
        domains: set[str] = set()
        for index, hop in enumerate(self.hops):
            org = _org_domain(hop.by_host)
            if org:
                domains.add(org)
                self.path.append(
                    f"hop {index} was recorded by {hop.by_host}, the recipient's own server: "
                    f"the recipient's organisational domain is {org}"
                )
            if org or hop.from_ip is not None:
                break
        for domain in complainant_domains:
            org = _org_domain(domain) or _name(domain)
            if org:
                domains.add(org)
                self.path.append(f"the complainant's domain {domain} counts as {org}")
        if not domains:
            self.path.append(
                "no domain of the recipient is known: only private, loopback and link-local "
                "senders count as inside the recipient's network"
            )
        return frozenset(domains)

    def _skip(self, index: int, hop: Hop) -> None:
        """Rule 2: hops with no sender address are local hand-offs."""
        if hop.from_helo or hop.from_rdns:
            what = f"{_describe(hop)} handed to {hop.by_host or 'an unnamed host'} with no address"
        else:
            what = f"no sender recorded by {hop.by_host or 'an unnamed host'}"
        self.path.append(f"hop {index}: {what}: local hand-off, skipped")

    def _still_inside(self, index: int, hop: Hop) -> bool:
        """Rule 2: a private address, or a reverse-DNS name in the recipient's domains.

        A HELO name alone never counts: the sender chooses it, so a spammer without reverse DNS
        could claim the recipient's domain and have its forged hops below believed, framing an
        innocent address. Such a hop is taken as the entry point instead.
        """
        address = ipaddress.ip_address(hop.from_ip or "")
        domain = _in_domains(hop.from_rdns, self.domains)
        if _is_internal(address):
            reason = "private, loopback or link-local address"
        elif domain:
            reason = f"{hop.from_rdns} is in {domain}"
        else:
            if hop.from_rdns is None and _in_domains(hop.from_helo, self.domains):
                self.warnings.append(
                    f"hop {index}: {hop.from_ip} has no reverse DNS and only claims a name in "
                    "the recipient's domain by HELO; a sender chooses its own HELO name, so the "
                    "hop is taken as the entry point"
                )
            return False
        self.path.append(
            f"hop {index}: {_describe(hop)} handed to {hop.by_host}: "
            f"still inside the recipient's network ({reason})"
        )
        return True

    def _broken(self, index: int, hop: Hop, expected: _Recorder) -> Origin:
        """Rule 3: a hop not recorded by the host above it ends the walk inside the network."""
        message = (
            f"chain broken at hop {index}: it was recorded by {hop.by_host or 'an unnamed host'}, "
            f"but the hop above says the mail was handed over by {expected.describe()}; "
            f"hop {index} and the hops below are not believed"
        )
        self.path.append(message)
        self.warnings.append(message)
        return self._origin(None)

    def _entry(self, index: int) -> Origin:
        """Rule 4: the first sender from outside is the origin; what is below could be forged."""
        hop = self.hops[index]
        self.path.append(
            f"hop {index}: {_describe(hop)} handed to {hop.by_host}: "
            "entered the recipient's network here"
        )
        self._not_below(index, "they were written before the mail reached the recipient")
        return self._origin(index)

    def _follow_relays(self, index: int) -> Origin:
        """Rule 4: our own smarthost is trusted, so the sender it recorded is the origin."""
        while True:
            relay = self.hops[index]
            self.path.append(
                f"hop {index}: {_describe(relay)} handed to {relay.by_host}: "
                "this is our own relay, so the hop it recorded is believed"
            )
            below = self._below_relay(index)
            if below is None:
                return self._origin(index)
            if self.hops[below].from_ip not in self.relays:
                return self._relayed_origin(below)
            index = below

    def _below_relay(self, relay_index: int) -> int | None:
        """Index of the sender our relay recorded, or None (warned) if it cannot be verified.

        Loopback hand-offs (content filters) below the relay are steps on the relay itself.
        """
        relay = self.hops[relay_index]
        expected = _Recorder.of(relay)
        for index in range(relay_index + 1, len(self.hops)):
            hop = self.hops[index]
            if hop.from_ip is None:
                self._skip(index, hop)
                expected = expected.also(hop)
            elif not expected.recorded(hop):
                self._unverified(index, hop, relay, expected)
                return None
            elif _is_loopback(hop.from_ip):
                self.path.append(f"hop {index}: loopback hand-off on {hop.by_host}, skipped")
                expected = _Recorder.of(hop)
            else:
                return index
        self.warnings.append(
            f"our relay {relay.from_ip} recorded no sender below it: the origin is the relay"
        )
        return None

    def _unverified(self, index: int, hop: Hop, relay: Hop, expected: _Recorder) -> None:
        message = (
            f"hop {index} below our relay {relay.from_ip} could not be verified: it was "
            f"recorded by {hop.by_host or 'an unnamed host'}, not by {expected.describe()}; "
            "the origin is the relay itself"
        )
        self.path.append(message)
        self.warnings.append(message)

    def _relayed_origin(self, index: int) -> Origin:
        hop = self.hops[index]
        self.path.append(
            f"hop {index}: {_describe(hop)} handed to our relay {hop.by_host}: "
            "this sender is the origin"
        )
        self._not_below(index, "they were written before the mail reached our relay")
        return self._origin(index)

    def _not_below(self, index: int, why: str) -> None:
        if index + 1 < len(self.hops):
            self.path.append(f"hops below hop {index} are not believed: {why}")

    def _origin(self, index: int | None) -> Origin:
        hop = None if index is None else self.hops[index]
        return Origin(
            ip=hop.from_ip if hop else None,
            helo=hop.from_helo if hop else None,
            rdns=hop.from_rdns if hop else None,
            auth_user=hop.auth_user if hop else None,
            observed_at=hop.received_at if hop else None,
            hop_index=index,
            path=tuple(self.path),
            warnings=tuple(self.warnings),
        )


def _describe(hop: Hop) -> str:
    """``198.51.100.61 (rdns mail.example, helo mail.example, authenticated as user)``."""
    details = [
        f"{label} {value}"
        for label, value in (
            ("rdns", hop.from_rdns),
            ("helo", hop.from_helo),
            ("authenticated as", hop.auth_user),
        )
        if value
    ]
    sender = hop.from_ip or "a sender"
    return f"{sender} ({', '.join(details)})" if details else sender
