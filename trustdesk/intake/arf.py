"""ARF feedback reports (RFC 5965, with RFC 6692's Source-Port): one spam report per mail.

Mailbox providers' feedback loops send them automatically (SPEC §1: machine reports are the same
complaints arriving by themselves). Real ones bend the RFC: the non-standard Received-Date
instead of Arrival-Date, a blank line before the fields, the report part mislabelled as text,
so the fields are read with the tolerant ``field_lines`` and looked for in every top-level part.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import replace
from email.message import Message
from typing import Any

from trustdesk.intake.forwarded import aware, origin_details, spam_details
from trustdesk.intake.mail import (
    Envelope,
    ascii_int,
    attached_message,
    content_type,
    domain_of,
    field_lines,
    main_type,
    parse_ip,
    part_text,
    raw_headers,
    top_parts,
)
from trustdesk.intake.received import Origin, find_origin
from trustdesk.intake.report import Report, UnparseableDocument
from trustdesk.timeutil import parse_mail_date

_FEEDBACK_TYPE_LINE = re.compile(r"^Feedback-Type[ \t]*:", re.IGNORECASE | re.MULTILINE)
_REPORTED_TYPES = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers")
_LISTED = ("original-rcpt-to", "reported-domain", "reported-uri")
_SINGLE = ("user-agent", "version", "original-mail-from", "authentication-results")


def is_arf(msg: Message) -> bool:
    """RFC 5965 §2: multipart/report; report-type=feedback-report, or a feedback-report part."""
    report_type = str(msg.get_param("report-type", "")).strip('"').lower()
    if content_type(msg) == "multipart/report" and report_type == "feedback-report":
        return True
    return any(content_type(p) == "message/feedback-report" for p in top_parts(msg))


def parse_arf(msg: Message, envelope: Envelope, trusted_relays: Collection[str]) -> Report:
    parts = top_parts(msg)
    fields = field_lines(_feedback_text(parts))
    spam = _reported_message(parts)
    warnings: list[str] = []
    declared_ip = _first(fields, "source-ip")
    source_ip = parse_ip((declared_ip or "").split(" ", 1)[0])
    arrival = parse_mail_date(_first(fields, "arrival-date") or _first(fields, "received-date"))
    origin = None
    if source_ip is None or arrival is None:
        origin = _origin(spam, trusted_relays, envelope)
    if source_ip is None:
        if declared_ip:
            warnings.append(f"Source-IP {declared_ip!r} is not an IP address")
        source_ip = _ip_from_origin(origin, warnings)
    feedback_type = (_first(fields, "feedback-type") or "").lower()
    if not feedback_type:
        warnings.append("the feedback report has no Feedback-Type; filed as abuse")
    details = _details(fields) | (spam_details(spam) if spam is not None else {})
    if origin is not None and origin.ip == source_ip:
        details |= origin_details(origin)
    organisation = domain_of(envelope.complainant.email)
    return Report(
        kind="spam",
        category=feedback_type or "abuse",
        source_format="arf",
        fingerprint=envelope.fingerprint(0),
        evidence=envelope.evidence,
        complainant=replace(envelope.complainant, organisation=organisation),
        source_ip=source_ip,
        source_port=_port(_first(fields, "source-port"), warnings),
        observed_at=arrival or (aware(origin.observed_at) if origin else None) or envelope.sent_at,
        details=details,
        warnings=tuple(warnings),
    )


def _first(fields: dict[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


def _feedback_text(parts: list[Message]) -> str:
    """The machine-readable part: labelled message/feedback-report, else a part that reads so."""
    for part in parts:
        if content_type(part) == "message/feedback-report":
            return part_text(part)
    for part in parts:
        if main_type(part) in ("text", "application"):
            text = part_text(part)
            if _FEEDBACK_TYPE_LINE.search(text):
                return text
    return ""


def _reported_message(parts: list[Message]) -> Message | None:
    """RFC 5965 §2 (c): the reported mail, whole or headers only."""
    for part in parts:
        if content_type(part) in _REPORTED_TYPES:
            found = attached_message(part)
            if found is not None:
                return found
    return None


def _origin(spam: Message | None, relays: Collection[str], envelope: Envelope) -> Origin | None:
    received = raw_headers(spam, "Received") if spam is not None else []
    return find_origin(received, relays, envelope.domains) if received else None


def _ip_from_origin(origin: Origin | None, warnings: list[str]) -> str | None:
    """Without Source-IP, the reported mail's Received chain tells the source (find_origin)."""
    if origin is None:
        raise UnparseableDocument(
            "the feedback report names no Source-IP and the reported mail carries no Received "
            "headers: there is no source address to act on"
        )
    warnings.extend(origin.warnings)
    source_ip = parse_ip(origin.ip)
    if source_ip is None:
        warnings.append(
            "no Source-IP and the Received chain does not tell the origin; "
            "ask the reporter for more information (SPEC §1)"
        )
    return source_ip


def _port(text: str | None, warnings: list[str]) -> int | None:
    """RFC 6692 Source-Port: needed to tell subscribers apart behind carrier-grade NAT."""
    if not text:
        return None
    port = ascii_int(text, 65535)
    if port is not None:
        return port
    warnings.append(f"Source-Port {text!r} is not a port number")
    return None


def _details(fields: dict[str, list[str]]) -> dict[str, Any]:
    """Reported-Domain and Reported-URI stay details: the complaint is about the sending
    address, and a Report's domain would send attribution looking for a hosted site."""
    details: dict[str, Any] = {
        name.replace("-", "_"): _first(fields, name) for name in _SINGLE if name in fields
    }
    details |= {name.replace("-", "_"): fields[name] for name in _LISTED if name in fields}
    incidents = ascii_int(_first(fields, "incidents"), 10**9)
    if incidents is not None:
        details["incidents"] = incidents
    arrival = _first(fields, "arrival-date") or _first(fields, "received-date")
    if arrival:
        details["arrival_date"] = arrival
    return details
