"""Reading complaint mail: MIME structure, header values and the envelope of a complaint.

Every intake format that arrives by mail (ARF, X-ARF, Shadowserver, forwarded spam) goes through
these helpers, so they are written for broken real mail: they never raise on odd bytes, odd
charsets or odd structure, and the only exception they raise is ``UnparseableDocument``.
The stdlib parser is used with ``compat32``: it keeps raw header values (with undecodable bytes
as surrogates) instead of failing on them, and the decoding is done here, charset by charset.
"""

from __future__ import annotations

import base64
import binascii
import email
import functools
import hashlib
import ipaddress
import json
import quopri
import re
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.policy import compat32
from email.utils import collapse_rfc2231_value, parseaddr
from typing import Any
from urllib.parse import urlsplit

from trustdesk.intake.charsets import bytes_of, decode_text
from trustdesk.intake.report import Complainant, UnparseableDocument
from trustdesk.timeutil import parse_mail_date

MAX_MESSAGE_DEPTH = 10  # brief: refuse a message nested in messages more than 10 deep

# --- header values ------------------------------------------------------------------------------

_SURROGATE = re.compile("[\udc80-\udcff]")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")


def _raw_value(value: object) -> str:
    """Unfolded header value with raw 8-bit bytes (kept by the parser as surrogates) decoded."""
    text = str(value)
    if _SURROGATE.search(text) or "\x1b" in text:
        text = decode_text(bytes_of(text))
    return text.replace("\r", "").replace("\n", "").strip()


def _word_bytes(word: re.Match[str]) -> bytes:
    encoding, text = word.group(2), word.group(3)
    if encoding in "bB":
        try:
            return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            return word.group(0).encode("ascii", "replace")  # not base64: keep it as written
    return quopri.decodestring(text.encode("ascii", "replace"), header=True)


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words; adjacent words in one charset are joined before decoding,
    because mailers split multi-byte Japanese characters across words."""
    parts: list[str] = []
    run: list[bytes] = []
    run_charset = ""
    end = 0
    for match in _ENCODED_WORD.finditer(value):
        gap = value[end : match.start()]
        charset = match.group(1).split("*", 1)[0].lower()  # RFC 2231 language suffix
        if not (run and not gap.strip() and charset == run_charset):
            follows_word = bool(run) and not gap.strip()  # RFC 2047 §6.2: that space is not text
            if run:
                parts.append(decode_text(b"".join(run), run_charset))
            parts.append("" if follows_word else gap)
            run, run_charset = [], charset
        run.append(_word_bytes(match))
        end = match.end()
    if run:
        parts.append(decode_text(b"".join(run), run_charset))
    parts.append(value[end:])
    return "".join(parts)


def raw_headers(msg: Message, name: str) -> list[str]:
    """Every value of header ``name``, unfolded, encoded words left alone (Received, IDs)."""
    return list(_header_table(msg).get(name.lower(), ()))


_HEADERS: weakref.WeakKeyDictionary[Message, dict[str, list[str]]] = weakref.WeakKeyDictionary()


def _header_table(msg: Message) -> dict[str, list[str]]:
    """A part's headers by lowercased name, read once: each format's detector asks for some."""
    table = _HEADERS.get(msg)
    if table is None:
        table = {}
        for key, value in msg.raw_items():
            table.setdefault(key.lower(), []).append(_raw_value(value))
        _HEADERS[msg] = table
    return table


def header(msg: Message, name: str) -> str | None:
    """The first value of header ``name`` as readable text, or None."""
    values = raw_headers(msg, name)
    return decode_words(values[0]) if values else None


def sender(msg: Message) -> tuple[str | None, str | None]:
    """(display name, address) of the From (else Sender) header."""
    values = raw_headers(msg, "From") or raw_headers(msg, "Sender")
    if not values:
        return None, None
    try:
        name, address = parseaddr(values[0])
    except RecursionError:  # "a:a:a:..." nests the stdlib's group parser once a colon
        return None, None
    address = address.strip()
    return decode_words(name).strip() or None, address if "@" in address else None


def domain_of(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    return address.rpartition("@")[2].strip().strip(".<>").lower() or None


def message_id(msg: Message) -> str | None:
    """Message-ID without brackets, its domain lowercased: the same mail always gives one key."""
    values = raw_headers(msg, "Message-ID")
    if not values:
        return None
    found = re.search(r"<([^<>\s]+)>", values[0])
    text = found.group(1) if found else values[0].strip()
    local, at, domain = text.rpartition("@")
    return (local + at + domain.lower()) if at else (text or None)


def field_lines(text: str) -> dict[str, list[str]]:
    """``Name: value`` lines (continuations joined, names lowercased); other lines are skipped.

    Tolerant on purpose: real feedback reports start with a blank line, repeat fields and mix
    in prose (fixtures real-world/feedback-loop and spamexperts).
    """
    fields: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and line.strip() and last is not None:
            last[-1] = f"{last[-1]} {line.strip()}"
            continue
        found = re.match(r"([A-Za-z0-9][A-Za-z0-9_-]*)[ \t]*:[ \t]*(.*)$", line)
        last = None
        if found:
            last = fields.setdefault(found.group(1).lower(), [])
            last.append(found.group(2).strip())
    return fields


# --- values every format shares -----------------------------------------------------------------


def parse_ip(text: object) -> str | None:
    """Canonical address text (``[ ]`` and ``IPv6:`` allowed, IPv4-mapped written as IPv4)."""
    return _canonical_ip(text) if isinstance(text, str) else None


@functools.lru_cache(maxsize=65536)  # a feed names the same addresses row after row
def _canonical_ip(text: str) -> str | None:
    value = text.strip().strip("[]")
    value = value[5:] if value[:5].lower() == "ipv6:" else value
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return str(mapped or address)


def ascii_int(text: object, limit: int) -> int | None:
    """A plain decimal number up to ``limit`` (str.isdigit also accepts "²" and "٣")."""
    value = str(text).strip() if isinstance(text, str | int) else ""
    if re.fullmatch(r"[0-9]{1,12}", value) and int(value) <= limit:
        return int(value)
    return None


def host_of_url(url: str) -> str | None:
    """Lowercased ASCII (IDNA) host of a URL, which attribution matches against hosted sites."""
    try:
        host = urlsplit(url if "://" in url else f"http://{url}").hostname
        return host.encode("idna").decode("ascii") if host else None
    except (ValueError, UnicodeError):
        return None


def canonical_sha256(value: Any) -> str:
    """sha256 of JSON with sorted keys: the same content always gives the same fingerprint."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# --- MIME structure -----------------------------------------------------------------------------


def strip_envelope_line(data: bytes) -> bytes:
    """Drop an mbox ``From `` (or quoted ``>From ``) line the parser would take for the body."""
    if data.startswith((b"From ", b">From ")):
        return data.partition(b"\n")[2]
    return data


def looks_like_mail(data: bytes) -> bool:
    """The first line (after an mbox line) is an RFC 5322 header field."""
    first = strip_envelope_line(data).split(b"\n", 1)[0]
    return re.match(rb"[!-9;-~]+[ \t]*:", first) is not None


def parse_mail(data: bytes) -> Message:
    """Parse a mail and check its nesting once, so later walks cannot fail."""
    try:
        msg = email.message_from_bytes(strip_envelope_line(data), policy=compat32)
    except RecursionError as exc:
        raise UnparseableDocument("the mail's MIME structure is nested too deeply") from exc
    walk(msg)
    return msg


def parse_mail_text(text: str) -> Message:
    return parse_mail(bytes_of(text))


# Every format's detector walks the same parsed mail and asks each part its type (a dozen
# walks and ~70 type look-ups a mail); parsed mails are never changed, so both are kept.
_WALKS: weakref.WeakKeyDictionary[Message, list[tuple[Message, int]]] = weakref.WeakKeyDictionary()
_TYPES: weakref.WeakKeyDictionary[Message, str] = weakref.WeakKeyDictionary()


def content_type(part: Message) -> str:
    """``part.get_content_type()``, remembered."""
    found = _TYPES.get(part)
    if found is None:
        found = _TYPES[part] = part.get_content_type()
    return found


def main_type(part: Message) -> str:
    return content_type(part).partition("/")[0]


def walk(msg: Message) -> list[tuple[Message, int]]:
    """Every part in document order, with how many attached messages enclose it."""
    found = _WALKS.get(msg)
    if found is None:
        found = _WALKS[msg] = list(_walk(msg))
    return found


def _walk(msg: Message) -> Iterator[tuple[Message, int]]:
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        if depth > MAX_MESSAGE_DEPTH:
            raise UnparseableDocument(
                f"messages are nested more than {MAX_MESSAGE_DEPTH} deep; refusing to read further"
            )
        yield part, depth
        inner = depth + 1 if main_type(part) == "message" else depth
        kids = [(child, inner) for child in _children(part)]
        stack.extend(reversed(kids))


def _children(part: Message) -> list[Message]:
    """Sub-parts; a leaf has none (its ``get_payload()`` may raise on an odd charset name)."""
    if not part.is_multipart():
        return []
    return [child for child in part.get_payload() if isinstance(child, Message)]


def top_parts(msg: Message) -> list[Message]:
    """The parts of the complaint itself (attached messages whole, not their insides)."""
    return [part for part, depth in walk(msg) if depth == 0 and main_type(part) != "multipart"]


def _cte(part: Message) -> str:
    values = raw_headers(part, "Content-Transfer-Encoding")
    return values[0].lower() if values else ""


def _message_part_bytes(part: Message) -> bytes:
    """Body of a message/* part as sent (the stdlib has already parsed it as a message)."""
    children = _children(part)
    if not children:
        return b""
    inner = children[0]
    head = "".join(f"{name}: {value}\n" for name, value in inner.raw_items())
    data = bytes_of(head + "\n") + _payload_bytes(inner)
    if _cte(part) == "base64":
        try:
            return base64.b64decode(data)
        except (binascii.Error, ValueError):
            return data
    return quopri.decodestring(data) if _cte(part) == "quoted-printable" else data


def part_bytes(part: Message) -> bytes:
    """A leaf part's content, transfer encoding undone."""
    if main_type(part) == "message":
        return _message_part_bytes(part)
    return _payload_bytes(part)


def _payload_bytes(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def part_text(part: Message) -> str:
    return decode_text(part_bytes(part), part.get_content_charset())


def filename_of(part: Message) -> str | None:
    table = _header_table(part)
    values = table.get("content-disposition", []) + table.get("content-type", [])
    if not any("name" in value.lower() for value in values):
        return None  # no filename= nor name= parameter: skip the stdlib's parameter parsing
    name = part.get_filename() or collapse_rfc2231_value(part.get_param("name") or "")
    return decode_words(_raw_value(name)) if name else None


def attached_message(part: Message) -> Message | None:
    """The mail inside a message/rfc822 (or pasted rfc822-headers) part."""
    children = _children(part)
    if content_type(part) != "message/rfc822":
        return parse_mail_text(part_text(part))
    if not children:
        return None
    inner = children[0]
    if not inner.keys():  # base64-encoded by the client, or led by a ">From " line
        return parse_mail(strip_envelope_line(_message_part_bytes(part).lstrip(b"\r\n")))
    return inner


# --- one complaint mail -------------------------------------------------------------------------

_ORIGINATOR_FIELDS = frozenset(
    {"from", "sender", "to", "cc", "date", "subject", "message-id", "in-reply-to", "references"}
)
_DECODED_MARK = "----- text parts decoded by trustdesk (the mail above is as received) -----"


@dataclass(frozen=True)
class Envelope:
    """What every report read from one mail shares: who sent it, its identity and its text."""

    complainant: Complainant
    key: str  # normalised Message-ID, else sha256 of the normalised mail
    evidence: str
    sent_at: datetime | None

    def fingerprint(self, index: int) -> tuple[str, ...]:
        return ("mail", self.key, str(index))

    @property
    def domains(self) -> frozenset[str]:
        domain = domain_of(self.complainant.email)
        return frozenset({domain} if domain else ())


def envelope_of(msg: Message, raw: bytes) -> Envelope:
    name, address = sender(msg)
    mid = message_id(msg)
    return Envelope(
        complainant=Complainant(name=name, email=address, message_id=mid),
        key=mid or _normalised_digest(msg, raw),
        evidence=mail_evidence(raw, msg),
        sent_at=parse_mail_date(header(msg, "Date")),
    )


def _normalised_digest(msg: Message, raw: bytes) -> str:
    """sha256 of what the sender wrote: trace fields our MTAs add on redelivery are left out."""
    head = "\n".join(
        f"{key.lower()}: {_raw_value(value)}"
        for key, value in msg.raw_items()
        if key.lower() in _ORIGINATOR_FIELDS
    )
    split = re.search(rb"\r?\n\r?\n", raw)
    body = raw[split.end() :] if split else b""
    normalised = bytes_of(head) + b"\n\n" + body.replace(b"\r\n", b"\n")
    return hashlib.sha256(normalised.rstrip()).hexdigest()


def mail_evidence(raw: bytes, msg: Message) -> str:
    """SPEC §1 / seed 000: the complete mail, header and body, as text; parts hidden by a
    transfer encoding or a legacy charset are added decoded so that an operator can read them."""
    text = decode_text(raw)
    readable = [_readable(part) for part, _ in walk(msg) if main_type(part) == "text"]
    shown = [item for item in readable if item]
    return "\n".join([text.rstrip("\n"), "", _DECODED_MARK, *shown]) if shown else text


def _readable(part: Message) -> str | None:
    charset = part.get_content_charset() or ""
    if _cte(part) not in ("base64", "quoted-printable") and charset in ("", "us-ascii", "utf-8"):
        return None
    return f"[{content_type(part)}; charset={charset or 'undeclared'}]\n{part_text(part)}"
