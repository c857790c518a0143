"""X-ARF 0.2 mails (YAML report part) and XARF JSON reports (abusix/xarf schema).

Both are machine abuse reports (SPEC §1). X-ARF 0.2 is what blocklist.de and fail2ban send:
an ``X-ARF: YES`` mail whose report.txt part holds YAML fields. The JSON format
(github.com/abusix/xarf: ReporterInfo, Disclosure, Report{ReportClass, ReportType, Date,
SourceIp, ...}) arrives as a file or as an application/json part of a mail.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime
from email.message import Message
from typing import Any, TypeGuard

import yaml

from trustdesk.intake.mail import (
    Envelope,
    ascii_int,
    canonical_sha256,
    content_type,
    domain_of,
    field_lines,
    filename_of,
    header,
    host_of_url,
    parse_ip,
    part_bytes,
    part_text,
    top_parts,
)
from trustdesk.intake.report import Complainant, Kind, Report, UnparseableDocument
from trustdesk.timeutil import OutOfCalendarError, parse_instant, parse_mail_date

# --- X-ARF 0.2 ----------------------------------------------------------------------------------

_URL_SOURCE_TYPES = ("uri", "url")
_DETAIL_FIELDS = ("reported-from", "service", "version", "report-id", "user-agent", "schema-url")


def is_xarf02(msg: Message) -> bool:
    marker = (header(msg, "X-ARF") or "").strip().lower()
    return marker == "yes" or (header(msg, "X-XARF") or "").strip().lower() == "plain"


def parse_xarf02(msg: Message, envelope: Envelope) -> Report:
    fields = _report_fields(msg)
    category = fields.get("category", "").lower()
    report_type = fields.get("report-type", "").lower()
    source = fields.get("source", "")
    is_url = fields.get("source-type", "").lower() in _URL_SOURCE_TYPES
    url = source if is_url and source else None
    source_ip = None if url else parse_ip(source)
    if url is None and source_ip is None:
        raise UnparseableDocument(f"the X-ARF report's Source {source!r} is no IP address or URL")
    warnings: list[str] = []
    observed = _xarf_date(fields.get("date", ""), warnings) or envelope.sent_at
    complainant = envelope.complainant
    organisation = domain_of(complainant.email) or domain_of(fields.get("reported-from"))
    return Report(
        kind=_xarf02_kind(category, report_type),
        category=report_type or category or "abuse",
        source_format="xarf-0.2",
        fingerprint=envelope.fingerprint(0),
        evidence=envelope.evidence,
        complainant=replace(complainant, organisation=organisation),
        source_ip=source_ip,
        observed_at=observed,
        url=url,
        domain=host_of_url(url) if url else None,
        details=_xarf02_details(fields),
        warnings=tuple(warnings),
    )


def _report_fields(msg: Message) -> dict[str, str]:
    """The YAML of report.txt (else the second part); "Key: value" lines if the YAML is bad."""
    parts = top_parts(msg)
    named = [p for p in parts if (filename_of(p) or "").lower() == "report.txt"]
    chosen = named[0] if named else parts[1] if len(parts) > 1 else None
    if chosen is None:
        raise UnparseableDocument("the X-ARF mail has no report.txt part")
    text = part_text(chosen)
    try:  # BaseLoader keeps every value a string: "2001:0:0:0:0:0:0:1" is no base-60 number
        loaded = yaml.load(text, Loader=yaml.BaseLoader)
    except (yaml.YAMLError, RecursionError):
        loaded = None
    if isinstance(loaded, dict):
        return {
            key.strip().lower(): value.strip()
            for key, value in loaded.items()
            if isinstance(key, str) and isinstance(value, str)
        }
    return {name: values[0] for name, values in field_lines(text).items() if values}


def _xarf02_kind(category: str, report_type: str) -> Kind:
    """Spam reports are spam; info/vulnerability reports name a vulnerable device; the rest
    (abuse, fraud such as phishing) is other abuse (SPEC §1)."""
    if "spam" in report_type:
        return "spam"
    if category in ("info", "vulnerability"):
        return "vulnerable_device"
    return "abuse"


def _xarf_date(text: str, warnings: list[str]) -> datetime | None:
    if not text:
        return None
    found = parse_mail_date(text)
    if found is None:
        try:
            found = parse_instant(text)
        except OutOfCalendarError as exc:
            warnings.append(f"the report's Date: {exc}")
        except ValueError:
            warnings.append(f"the report's Date {text!r} has no readable time with an offset")
    return found


def _xarf02_details(fields: dict[str, str]) -> dict[str, Any]:
    """``Port`` is the attacked service's port on the victim, not the attacker's source port."""
    details: dict[str, Any] = {
        name.replace("-", "_"): fields[name] for name in _DETAIL_FIELDS if name in fields
    }
    details["source_type"] = fields.get("source-type")
    details["destination_port"] = ascii_int(fields.get("port"), 65535)
    return details


# --- XARF JSON ----------------------------------------------------------------------------------

_ID_KEYS = ("ReportID", "ReportId")


def looks_like_xarf(value: object) -> TypeGuard[dict[str, Any]]:
    return isinstance(value, dict) and isinstance(value.get("Report"), dict)


def json_reports(msg: Message, envelope: Envelope) -> list[Report]:
    """XARF JSON attached to a mail (the abusix/xarf README's SMTP transport)."""
    reports = []
    for part in top_parts(msg):
        name = (filename_of(part) or "").lower()
        if content_type(part) != "application/json" and not name.endswith(".json"):
            continue
        text = part_bytes(part).decode("utf-8", errors="replace")
        value = load_json(text)
        if looks_like_xarf(value):
            reports.append(parse_xarf(text, value, envelope))
    return reports


def load_json(text: str) -> object:
    """The JSON value, or None if it is not JSON, or holds an unpaired ``\\ud800`` escape
    (which is no text and no database would store)."""
    try:
        value = json.loads(text)
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):
        return None
    return value


def parse_xarf(text: str, document: dict[str, Any], envelope: Envelope | None) -> Report:
    report: dict[str, Any] = document["Report"]
    report_type = _text(report.get("ReportType"))
    report_class = _text(report.get("ReportClass"))
    if not report_type:
        raise UnparseableDocument("the XARF report has no ReportType")
    source_ip = parse_ip(report.get("SourceIp"))
    url = _text(report.get("SourceUrl")) or _text(report.get("InfringingUrl")) or None
    if source_ip is None and url is None:
        raise UnparseableDocument("the XARF report names no valid SourceIp and no SourceUrl")
    warnings: list[str] = []
    observed = _xarf_date(_text(report.get("Date")), warnings)
    if observed is None and envelope is not None:
        observed = envelope.sent_at
    return Report(
        kind=_xarf_kind(report_class, report_type),
        category=report_type,
        source_format="xarf-4",
        fingerprint=("xarf4", *_xarf_key(document)),
        evidence=text,
        complainant=_reporter(document, envelope),
        source_ip=source_ip,
        source_port=ascii_int(report.get("SourcePort"), 65535),
        observed_at=observed,
        url=url,
        domain=host_of_url(url) if url else None,
        details=_xarf_details(document),
        warnings=tuple(warnings),
    )


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _xarf_kind(report_class: str, report_type: str) -> Kind:
    """Vulnerability class → vulnerable device; copyright and trademark → takedown (seed 000
    lists both); messaging or spam → spam; anything else is other abuse."""
    klass, kind = report_class.lower(), report_type.lower()
    if klass == "vulnerability":
        return "vulnerable_device"
    if kind in ("copyright", "trademark"):
        return "takedown"
    if klass in ("message", "messaging") or kind == "spam":
        return "spam"
    return "abuse"


def _xarf_key(document: dict[str, Any]) -> tuple[str, ...]:
    """ReportID names the event; a ReporterCaseID only within its reporter's domain."""
    report = document["Report"]
    for key in _ID_KEYS:
        found = _text(report.get(key)) or _text(document.get(key))
        if found:
            return (found,)
    case_id = _text(report.get("ReporterCaseID"))
    reporter = document.get("ReporterInfo")
    domain = _text(reporter.get("ReporterOrgDomain")) if isinstance(reporter, dict) else ""
    if case_id and domain:
        return (domain.lower(), case_id)
    return (canonical_sha256(document),)


def _reporter(document: dict[str, Any], envelope: Envelope | None) -> Complainant:
    info = document.get("ReporterInfo")
    info = info if isinstance(info, dict) else {}
    mailed = envelope.complainant if envelope is not None else Complainant()
    return Complainant(
        name=_text(info.get("ReporterContactName")) or mailed.name,
        email=_text(info.get("ReporterContactEmail"))
        or _text(info.get("ReporterOrgEmail"))
        or mailed.email,
        organisation=_text(info.get("ReporterOrg")) or domain_of(mailed.email),
        postal_address=_text(info.get("ReporterOrgAddress")) or None,
        phone=_text(info.get("ReporterContactPhone")) or None,
        message_id=mailed.message_id,
        consents_to_disclosure=document.get("Disclosure") is True,
    )


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _xarf_details(document: dict[str, Any]) -> dict[str, Any]:
    """The report's fields (snake_case); samples stay in the evidence, identity in Complainant."""
    details = {_snake(k): v for k, v in document["Report"].items() if k != "Samples"}
    details["xarf_version"] = document.get("Version")
    return details
