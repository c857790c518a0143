"""Reading complaint mail: MIME parts, Japanese charsets, and spam forwarded by a person.

Every intake format that arrives by mail (ARF, X-ARF, Shadowserver, forwarded spam) goes through
these helpers, so they are written for broken real mail: they never raise on odd bytes, odd
charsets or odd structure, and the only exception they raise is ``UnparseableDocument``.
The stdlib parser is used with ``compat32``: it keeps raw header values (with undecodable bytes
as surrogates) instead of failing on them, and the decoding is done here, charset by charset.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import hashlib
import html
import ipaddress
import json
import quopri
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import Message
from email.policy import compat32
from email.utils import collapse_rfc2231_value, parseaddr, parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from trustdesk.intake.received import Origin, find_origin
from trustdesk.intake.report import Complainant, Report, UnparseableDocument

MAX_MESSAGE_DEPTH = 10  # brief: refuse a message nested in messages more than 10 deep

# --- charsets -----------------------------------------------------------------------------------

# Japanese mail declares charsets Python does not know, or knows only as a narrower codec: try the
# declared codec first, then its supersets (NEC/IBM extensions, JIS X 0212/0213).
_FAMILIES: dict[str, tuple[str, ...]] = {
    "iso2022_jp": ("iso2022_jp", "iso2022_jp_2", "iso2022_jp_ext", "iso2022_jp_2004", "cp50220"),
    "shift_jis": ("cp932", "shift_jis_2004", "shift_jis"),
    "cp932": ("cp932", "shift_jis_2004"),
    "euc_jp": ("euc_jp", "euc_jis_2004"),
}
_ALIASES = {
    "x-sjis": "shift_jis",
    "windows-31j": "cp932",
    "x-euc-jp": "euc_jp",
    "eucjp-ms": "euc_jp",
    "cp51932": "euc_jp",
    "cp50220": "iso2022_jp",
    "cp50221": "iso2022_jp",
    "iso-2022-jp-ms": "iso2022_jp",
}
_NOT_TEXT = frozenset(
    {"base64", "bz2", "hex", "quopri", "rot-13", "uu", "zlib", "undefined", "idna", "punycode"}
    | {"unicode_escape", "raw_unicode_escape"}
)
_UNDECLARED = ("utf-8", "cp932", "euc_jp")  # brief: undeclared 8-bit is tried in this order
# UTF-7 and UTF-16 parts can decode to unpaired surrogates, which no database stores as text
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _codecs_for(declared: str | None) -> list[str]:
    """Codecs to try for a declared charset, best first; [] when it names no text codec."""
    name = (declared or "").strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    if not name:
        return []
    try:
        canonical = codecs.lookup(name).name
    except (LookupError, ValueError):
        return []
    if canonical in _NOT_TEXT:
        return []
    return list(_FAMILIES.get(canonical, (canonical,)))


def _jis_to_cp932(data: bytes) -> bytes:
    """ISO-2022-JP as Windows mailers write it (CP50220: NEC and IBM characters such as ① and
    ㈱ in JIS X 0208 mode, which no Python codec reads) rewritten as cp932 bytes."""
    out = bytearray()
    double, kana = False, False
    index = 0
    while index < len(data):
        byte = data[index]
        if byte == 0x1B and data[index + 1 : index + 3] in _JIS_ESCAPES:
            double, kana = _JIS_ESCAPES[data[index + 1 : index + 3]]
            index += 3
        elif double and 0x21 <= byte <= 0x7E and index + 1 < len(data):
            out += _jis_pair_to_sjis(byte, data[index + 1])
            index += 2
        else:
            out.append(byte + 0x80 if kana and 0x21 <= byte <= 0x5F else byte)
            index += 1
    return bytes(out)


_JIS_ESCAPES = {b"$B": (True, False), b"$@": (True, False), b"(B": (False, False)}
_JIS_ESCAPES |= {b"(J": (False, False), b"(I": (False, True)}


def _jis_pair_to_sjis(first: int, second: int) -> bytes:
    """The JIS X 0208 row/cell to Shift_JIS arithmetic (JIS X 0208:1997 annex 1)."""
    lead = ((first + 1) >> 1) + (0x70 if first <= 0x5E else 0xB0)
    if first % 2:
        trail = second + (0x1F if second <= 0x5F else 0x20)
    else:
        trail = second + 0x7E
    return bytes((lead, trail & 0xFF))


def _decode(data: bytes, codec: str) -> str:
    if codec != "cp50220":
        return data.decode(codec)
    if not data.isascii():  # ISO-2022-JP is 7-bit: 8-bit bytes mean a mislabelled charset
        raise ValueError("8-bit bytes in ISO-2022-JP")
    return _jis_to_cp932(data).decode("cp932")


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Text of ``data`` in its declared charset, else in the charsets Japanese mail uses.

    Never raises: bytes no candidate can read are replaced (the raw document is kept anyway).
    """
    candidates = _codecs_for(declared)
    if not candidates and b"\x1b" in data and data.isascii():  # undeclared JIS: ISO-2022-JP
        candidates = list(_FAMILIES["iso2022_jp"])
    for name in [*candidates, *_UNDECLARED]:
        try:
            return _LONE_SURROGATE.sub("\ufffd", _decode(data, name))
        except (ValueError, LookupError):
            continue
    return _LONE_SURROGATE.sub(
        "\ufffd", data.decode(candidates[0] if candidates else "utf-8", errors="replace")
    )


def bytes_of(text: str) -> bytes:
    """Text back to bytes: the parser's surrogates become the bytes they stood for."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # other lone surrogates, e.g. from a UTF-7 part
        return text.encode("utf-8", "replace")


# --- header values ------------------------------------------------------------------------------

_SURROGATE = re.compile("[\udc80-\udcff]")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_MINUS_ZERO = re.compile(r"-0000(?:\s|\(|$)")


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
    wanted = name.lower()
    return [_raw_value(value) for key, value in msg.raw_items() if key.lower() == wanted]


def header(msg: Message, name: str) -> str | None:
    """The first value of header ``name`` as readable text, or None."""
    values = raw_headers(msg, name)
    return decode_words(values[0]) if values else None


def sender(msg: Message) -> tuple[str | None, str | None]:
    """(display name, address) of the From (else Sender) header."""
    values = raw_headers(msg, "From") or raw_headers(msg, "Sender")
    if not values:
        return None, None
    name, address = parseaddr(values[0])
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


def mail_date(text: str | None) -> datetime | None:
    """An RFC 5322 date; "-0000" is UTC, a date without a zone is not guessed (timeutil)."""
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC) if _MINUS_ZERO.search(text) else None
    return moment


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
    if not isinstance(text, str):
        return None
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
    for _ in walk(msg):
        pass
    return msg


def parse_mail_text(text: str) -> Message:
    return parse_mail(bytes_of(text))


def walk(msg: Message) -> Iterator[tuple[Message, int]]:
    """Every part in document order, with how many attached messages enclose it."""
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        if depth > MAX_MESSAGE_DEPTH:
            raise UnparseableDocument(
                f"messages are nested more than {MAX_MESSAGE_DEPTH} deep; refusing to read further"
            )
        yield part, depth
        inner = depth + 1 if part.get_content_maintype() == "message" else depth
        kids = [(child, inner) for child in _children(part)]
        stack.extend(reversed(kids))


def _children(part: Message) -> list[Message]:
    """Sub-parts; a leaf has none (its ``get_payload()`` may raise on an odd charset name)."""
    if not part.is_multipart():
        return []
    return [child for child in part.get_payload() if isinstance(child, Message)]


def top_parts(msg: Message) -> list[Message]:
    """The parts of the complaint itself (attached messages whole, not their insides)."""
    return [
        part
        for part, depth in walk(msg)
        if depth == 0 and part.get_content_maintype() != "multipart"
    ]


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
    if part.get_content_maintype() == "message":
        return _message_part_bytes(part)
    return _payload_bytes(part)


def _payload_bytes(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def part_text(part: Message) -> str:
    return decode_text(part_bytes(part), part.get_content_charset())


def filename_of(part: Message) -> str | None:
    name = part.get_filename() or collapse_rfc2231_value(part.get_param("name") or "")
    return decode_words(_raw_value(name)) if name else None


def attached_message(part: Message) -> Message | None:
    """The mail inside a message/rfc822 (or pasted rfc822-headers) part."""
    children = _children(part)
    if part.get_content_type() != "message/rfc822":
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
        sent_at=mail_date(header(msg, "Date")),
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
    readable = [_readable(part) for part, _ in walk(msg) if part.get_content_maintype() == "text"]
    shown = [item for item in readable if item]
    return "\n".join([text.rstrip("\n"), "", _DECODED_MARK, *shown]) if shown else text


def _readable(part: Message) -> str | None:
    charset = part.get_content_charset() or ""
    if _cte(part) not in ("base64", "quoted-printable") and charset in ("", "us-ascii", "utf-8"):
        return None
    return f"[{part.get_content_type()}; charset={charset or 'undeclared'}]\n{part_text(part)}"


# --- forwarded spam -----------------------------------------------------------------------------

_QUOTE = re.compile(r"^(?:[ \t]*>[ ]?)+")
_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9-]*[ \t]*:")
_HTML_BREAK = re.compile(r"<\s*(?:br|/p|/div|/tr|/li)\b[^<>]*>[ \t]*\r?\n?", re.IGNORECASE)
_HTML_TAG = re.compile(r"<[^<>]*>")


def forwarded_spam_reports(
    msg: Message, envelope: Envelope, trusted_relays: Collection[str]
) -> list[Report]:
    """One report per spam a person forwarded (SPEC §1: spam complaints carry the full mail)."""
    spams = forwarded_spams(msg)
    if not spams:
        raise UnparseableDocument(
            "no complaint found: the mail has no attached message, no pasted header with a "
            "Received line, and no ARF, X-ARF or Shadowserver report (SPEC §1: a spam complaint "
            "must carry the full header and body of the spam)"
        )
    traced = [spam for spam in spams if raw_headers(spam, "Received")]
    if not traced:
        raise UnparseableDocument(
            "the forwarded mail has no Received headers, so where it came from cannot be "
            "traced (SPEC §1: a spam complaint must carry the full header)"
        )
    reports = [spam_report(spam, envelope, i, trusted_relays) for i, spam in enumerate(traced)]
    if len(traced) < len(spams):
        note = f"{len(spams) - len(traced)} forwarded message(s) without Received headers skipped"
        reports[0] = replace(reports[0], warnings=(*reports[0].warnings, note))
    return reports


def forwarded_spams(msg: Message) -> list[Message]:
    """Attached mails; else header blocks pasted (maybe quoted) into the text, plain before HTML."""
    attached_types = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers")
    parts = top_parts(msg)
    attached = [attached_message(p) for p in parts if p.get_content_type() in attached_types]
    found = [spam for spam in attached if spam is not None]
    if found:
        return found
    plain = [pasted for p in parts if p.get_content_type() == "text/plain" for pasted in _pasted(p)]
    if plain:
        return plain
    return [
        parse_mail_text(block)
        for part in parts
        if part.get_content_type() == "text/html"
        for block in pasted_blocks(html_to_text(part_text(part)))
    ]


def _pasted(part: Message) -> list[Message]:
    return [parse_mail_text(block) for block in pasted_blocks(part_text(part))]


def html_to_text(markup: str) -> str:
    return html.unescape(_HTML_TAG.sub("", _HTML_BREAK.sub("\n", markup)))


def pasted_blocks(text: str) -> list[str]:
    """Each run of header lines holding a Received field, with the text below it as its body.

    Quoting may have eaten the space that marks a folded line ("> by ..." from ">" + " by"), so
    inside a run any non-empty line that does not start a field continues the one above.
    """
    lines = [_QUOTE.sub("", line) for line in text.splitlines()]
    found: list[tuple[int, list[str]]] = []
    index = 0
    while index < len(lines):
        run = _header_run(lines, index)
        if any(line[:9].lower() == "received:" for line in run):
            found.append((index, run))
        index += max(len(run), 1)
    ends = [start for start, _ in found[1:]] + [len(lines)]
    return [
        "\n".join([*run, *lines[start + len(run) : end]])
        for (start, run), end in zip(found, ends, strict=False)
    ]


def _header_run(lines: list[str], start: int) -> list[str]:
    """The header lines from ``start`` on (folded lines given their leading space back)."""
    if not _FIELD.match(lines[start]):
        return []
    run = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        run.append(line if _FIELD.match(line) or line[:1] in (" ", "\t") else f" {line}")
    return run


def origin_details(origin: Origin) -> dict[str, Any]:
    return {
        "origin_path": list(origin.path),
        "auth_user": origin.auth_user,
        "helo": origin.helo,
        "rdns": origin.rdns,
    }


def spam_details(spam: Message) -> dict[str, Any]:
    return {
        "spam_message_id": message_id(spam),
        "spam_subject": header(spam, "Subject"),
        "spam_from": header(spam, "From"),
    }


def aware(moment: datetime | None) -> datetime | None:
    return moment if moment is not None and moment.utcoffset() is not None else None


def spam_report(
    spam: Message, envelope: Envelope, index: int, trusted_relays: Collection[str]
) -> Report:
    """The spam's origin from its Received chain; an untold origin is a warning, not an error
    (SPEC §1: the desk asks the complainant for more information)."""
    origin = find_origin(raw_headers(spam, "Received"), trusted_relays, envelope.domains)
    source_ip = parse_ip(origin.ip)
    warnings = list(origin.warnings)
    if source_ip is None:
        warnings.append(
            "the originating address could not be told from the Received chain; "
            "ask the complainant for more information (SPEC §1)"
        )
    return Report(
        kind="spam",
        category="spam",
        source_format="forwarded-mail",
        fingerprint=envelope.fingerprint(index),
        evidence=envelope.evidence,
        complainant=envelope.complainant,
        source_ip=source_ip,
        observed_at=aware(origin.observed_at) or mail_date(header(spam, "Date")),
        details={**origin_details(origin), **spam_details(spam)},
        warnings=tuple(warnings),
    )
