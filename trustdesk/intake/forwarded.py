"""Spam forwarded by a person: the spam attached as message/rfc822, or its headers pasted into
the text. SPEC §1 / seed 000: a spam complaint carries the full header and body; the desk finds
the originating address from the Received chain (``received.find_origin``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from email.message import Message
from typing import Any

from trustdesk.intake.mail import (
    Envelope,
    attached_message,
    content_type,
    header,
    message_id,
    parse_ip,
    parse_mail_text,
    part_text,
    raw_headers,
    top_parts,
)
from trustdesk.intake.received import Origin, find_origin
from trustdesk.intake.report import Report, UnparseableDocument
from trustdesk.timeutil import parse_mail_date

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
    attached = [attached_message(p) for p in parts if content_type(p) in attached_types]
    found = [spam for spam in attached if spam is not None]
    if found:
        return found
    plain = [pasted for p in parts if content_type(p) == "text/plain" for pasted in _pasted(p)]
    if plain:
        return plain
    return [
        parse_mail_text(block)
        for part in parts
        if content_type(part) == "text/html"
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
        observed_at=aware(origin.observed_at) or parse_mail_date(header(spam, "Date")),
        details={**origin_details(origin), **spam_details(spam)},
        warnings=tuple(warnings),
    )
