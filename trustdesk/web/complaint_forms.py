"""From the fields of a public form to the JSON complaint the API takes (intake.forms).

Pure: the submitted fields and checked files in, the complaint document or the problems out.
The document is validated here with intake's own models, so a problem is shown next to its
field in the filer's language before anything is stored; intake validates it again on the one
path every complaint takes (``intake.ingest``), so the form can never accept more than the API.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from trustdesk.intake import taxonomy
from trustdesk.intake.forms import AbuseReport, FilerLanguage, SpamComplaintForm, TakedownRequest
from trustdesk.intake.mail import parse_mail_text, raw_headers
from trustdesk.intake.report import UnparseableDocument
from trustdesk.intake.uploads import CheckedUpload
from trustdesk.timeutil import implausible

FormKind = Literal["takedown", "spam", "abuse"]
CONTACT = ("name", "email", "phone", "organisation", "address")
# The problems pydantic reports that mean "nothing was given".
_EMPTY = frozenset({"missing", "string_too_short", "bool_type", "bool_parsing", "literal_error"})


@dataclass
class Built:
    """The complaint document, or the problems: field name -> message key."""

    document: dict[str, Any] | None = None
    errors: dict[str, str] = field(default_factory=dict)


def build(
    kind: FormKind,
    fields: Mapping[str, str],
    files: Mapping[str, CheckedUpload],
    now: datetime,
    lang: FilerLanguage | None = None,
) -> Built:
    """``lang``, the language of the page the form was filled in, goes into the document for
    the receipt, which whoever records the document writes (``cases.receipts``)."""
    builder, model = _BUILDERS[kind]
    errors: dict[str, str] = {}
    document = builder(fields, files, now, errors)
    if lang is not None:
        document["language"] = lang
    try:
        form = model.model_validate(document)
    except ValidationError as exc:
        for problem in exc.errors():
            if not problem["loc"]:  # the one whole-form rule: an IP address or a host name
                errors.setdefault("ip", "form.error.ip_or_host")
                continue
            name = _field_of(problem["loc"])
            errors.setdefault(name, _message(name, problem["type"]))
    else:  # intake's bounds on a complaint's time, shown next to the field (issue 17)
        if isinstance(form, AbuseReport) and implausible(form.occurred_at, now):
            errors["occurred_at"] = "form.error.occurred_at_range"
    return Built(None if errors else document, errors)


def as_json_bytes(document: dict[str, Any]) -> bytes:
    """The document as the API takes it. Bytes of an uploaded mail that were not UTF-8 travel
    as \\udcXX escapes, which intake turns back into the same bytes."""
    text = json.dumps(document, ensure_ascii=False, sort_keys=True, default=str)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(document, sort_keys=True, default=str).encode("ascii")


def _minute(now: datetime) -> str:
    """The filing time to the minute: a form sent twice (a double click, a reload) is the same
    document, hence one complaint with one receipt."""
    return now.replace(second=0, microsecond=0).isoformat()


def _text(fields: Mapping[str, str], name: str) -> str:
    return fields.get(name, "").strip()


def _optional(fields: Mapping[str, str], name: str) -> str | None:
    return _text(fields, name) or None


def _choice(fields: Mapping[str, str], name: str) -> bool | None:
    """A yes/no radio: None when neither was chosen (no default is assumed)."""
    return {"yes": True, "no": False}.get(_text(fields, name))


def _contact(fields: Mapping[str, str], prefix: str) -> dict[str, Any]:
    return {key: value for key in CONTACT if (value := _optional(fields, f"{prefix}_{key}"))}


def _takedown(
    fields: Mapping[str, str],
    files: Mapping[str, CheckedUpload],
    now: datetime,
    errors: dict[str, str],
) -> dict[str, Any]:
    """SPEC §1 / seed 000 (1): the requester, the URL, the information, the right, the reason,
    the disclosure choice, and the documents that were attached."""
    requester = {
        key: _text(fields, f"requester_{key}") for key in ("name", "address", "email", "phone")
    }
    documents: list[dict[str, Any]] = []
    if "request_form" in files:
        documents.append({"type": "request_form", "sealed": _text(fields, "sealed") == "yes"})
    issued_on = _optional(fields, "seal_certificate_issued_on")
    if "seal_certificate" in files:
        if issued_on is None:
            errors["seal_certificate_issued_on"] = "form.error.issued_on"
        documents.append({"type": "seal_certificate", "issued_on": issued_on})
    elif issued_on is not None:
        errors["seal_certificate"] = "form.error.certificate_file"
    if "power_of_attorney" in files:
        documents.append({"type": "power_of_attorney"})
    return {
        "kind": "takedown",
        "requester": requester | {"is_agent": _text(fields, "is_agent") == "yes"},
        "url": _text(fields, "url"),
        "information": _text(fields, "information"),
        "infringed_right": _text(fields, "infringed_right"),
        "reason": _text(fields, "reason"),
        "disclose_name_to_sender": _choice(fields, "disclose_name_to_sender"),
        "asked_site_admin_first": _choice(fields, "asked_site_admin_first"),
        "documents": documents,
        "submitted_at": _minute(now),
    }


def _spam(
    fields: Mapping[str, str],
    files: Mapping[str, CheckedUpload],
    now: datetime,
    errors: dict[str, str],
) -> dict[str, Any]:
    """Seed 000: the full header and body, pasted or as the .eml itself."""
    pasted = fields.get("message", "")
    upload = files.get("eml")
    if upload is not None and pasted.strip():
        errors["message"] = "form.error.paste_or_upload"
    message = upload.content.decode("utf-8", "surrogateescape") if upload else pasted
    if "message" not in errors:
        if not message.strip():  # blank lines pass the model's length but hold no mail
            errors["message"] = "form.error.required"
        elif not _has_received(message):
            errors["message"] = "form.error.no_received"
    return {
        "kind": "spam",
        "reporter": _contact(fields, "reporter"),
        "message": message,
        "comment": _optional(fields, "comment"),
        "submitted_at": _minute(now),
    }


def _has_received(message: str) -> bool:
    try:
        return bool(raw_headers(parse_mail_text(message), "Received"))
    except UnparseableDocument:
        return False


def _abuse(
    fields: Mapping[str, str],
    files: Mapping[str, CheckedUpload],
    now: datetime,
    errors: dict[str, str],
) -> dict[str, Any]:
    """Seed 000: the details (logs), the IP or host used, the JST date and time to the minute;
    the category is one of seed 002 §18's acts, or the reporter's own word for "other"."""
    code, own_word = _text(fields, "category"), _text(fields, "category_other")
    if not (_text(fields, "ip") or _text(fields, "host")):  # said even when other fields fail
        errors["ip"] = "form.error.ip_or_host"
    if code not in taxonomy.CODES:
        errors["category"] = "form.error.required"
    elif code == "other" and not own_word:
        errors["category_other"] = "form.error.required"
    return {
        "kind": "abuse",
        "reporter": _contact(fields, "reporter"),
        "ip": _optional(fields, "ip"),
        "host": _optional(fields, "host"),
        "occurred_at": _text(fields, "occurred_at"),
        "category": (own_word if code == "other" else code)[:100] or "-",
        "details": _text(fields, "details"),
        "logs": _optional(fields, "logs"),
    }


Builder = Callable[
    [Mapping[str, str], Mapping[str, CheckedUpload], datetime, dict[str, str]], dict[str, Any]
]
_BUILDERS: dict[FormKind, tuple[Builder, type[BaseModel]]] = {
    "takedown": (_takedown, TakedownRequest),
    "spam": (_spam, SpamComplaintForm),
    "abuse": (_abuse, AbuseReport),
}


def _field_of(loc: tuple[int | str, ...]) -> str:
    """The form field a problem of the JSON document belongs to."""
    if loc[0] in ("requester", "reporter") and len(loc) > 1:
        return f"{loc[0]}_{loc[1]}"
    if loc[0] == "documents":
        return "seal_certificate_issued_on"
    return str(loc[0])


def _message(name: str, problem: str) -> str:
    """A message key: "required" for nothing given, else what this field must look like."""
    if problem in _EMPTY:
        return "form.error.required"
    return {
        "requester_email": "form.error.email",
        "reporter_email": "form.error.email",
        "url": "form.error.url",
        "ip": "form.error.ip",
        "host": "form.error.host",
        "occurred_at": "form.error.occurred_at",
        "seal_certificate_issued_on": "form.error.date",
    }.get(name, "form.error.invalid")
