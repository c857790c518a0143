"""Complaints filed through the web form or the API, as JSON (SPEC §1, seed 000).

The three forms follow what seed 000 asks of each kind. What makes a takedown request
complete (a sealed request form, a seal certificate under 3 months old, a power of attorney for
an agent) is checked by the takedown workflow, which asks the requester for what is missing
(SPEC §3 step 1); here a form only has to be well-formed. The requester's identity goes into
``Complainant`` and nowhere else: details and evidence are what a subscriber may be shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import replace
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from trustdesk.intake.forwarded import spam_report
from trustdesk.intake.mail import (
    Envelope,
    canonical_sha256,
    host_of_url,
    parse_ip,
    parse_mail_text,
    raw_headers,
)
from trustdesk.intake.report import Complainant, Report, UnparseableDocument
from trustdesk.timeutil import JST

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_CONTACT_FIELDS = {"requester", "reporter"}
_NOT_THE_COMPLAINT = {"language"}  # kept for the filer's receipt; no part of what they report

FilerLanguage = Literal["ja", "en"]
PUBLIC_FORM_FILES = frozenset(f"form-{kind}.json" for kind in ("takedown", "spam", "abuse"))
"""The names the public forms store their documents under (``public_form_file``): whoever
records one (the form itself, or the worker after a busy database or a crash) queues the
filer's receipt (``cases.receipts.queue_form_receipts``)."""


def public_form_file(kind: str) -> str:
    return f"form-{kind}.json"


def filer_language(content: bytes) -> FilerLanguage | None:
    """The language a public form was filled in, as its stored document keeps it, or None (a
    document without one: sent through the API, or stored before the language was kept)."""
    try:
        document = json.loads(content)
    except ValueError:  # also the UnicodeDecodeError of bytes that are not UTF-8
        return None
    found = document.get("language") if isinstance(document, dict) else None
    return "ja" if found == "ja" else "en" if found == "en" else None


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Complaint(_Form):
    """What every complaint document may carry besides its own fields."""

    # The language of the public form it was filed through: the receipt's (cases.receipts).
    # Left out of the complaint's fingerprint and details: the same report filed in Japanese
    # and in English is one complaint.
    language: FilerLanguage | None = None


class Contact(_Form):
    """Who files a spam or abuse report: the desk may need to ask them for more (SPEC §1)."""

    name: str | None = None
    email: str = Field(pattern=_EMAIL)
    phone: str | None = None
    organisation: str | None = None
    address: str | None = None


class Requester(_Form):
    """Seed 000: the takedown request form carries the requester's name, address and contact."""

    name: str = Field(min_length=1)
    address: str = Field(min_length=1)
    email: str = Field(pattern=_EMAIL)
    phone: str = Field(min_length=1)
    is_agent: StrictBool = False


class SubmittedDocument(_Form):
    type: Literal["request_form", "seal_certificate", "power_of_attorney", "other"]
    sealed: StrictBool | None = None
    issued_on: date | None = None


class TakedownRequest(_Complaint):
    """送信防止措置依頼 (seed 000): URL, information at issue, right infringed, reason, and
    whether the requester's name may be disclosed to the sender."""

    kind: Literal["takedown"]
    requester: Requester
    url: str
    information: str = Field(min_length=1)
    infringed_right: Literal["defamation", "privacy", "copyright", "portrait", "trademark", "other"]
    reason: str = Field(min_length=1)
    disclose_name_to_sender: StrictBool  # consent must be an explicit true/false
    documents: list[SubmittedDocument] = []
    asked_site_admin_first: StrictBool | None = None
    # election content (an election campaign's information): the sender has 2 days to object
    # instead of 7 (Provider Liability Limitation Act; cases.workflow_takedown)
    election: StrictBool = False
    submitted_at: AwareDatetime

    @field_validator("url")
    @classmethod
    def _web_url(cls, value: str) -> str:
        if not re.match(r"(?i)https?://", value) or host_of_url(value) is None:
            raise ValueError("must be an http(s) URL with a host name")
        return value


class SpamComplaintForm(_Complaint):
    """Seed 000: a spam complaint carries the full header and body of the spam (``message``)."""

    kind: Literal["spam"]
    reporter: Contact
    message: Annotated[str, StringConstraints(strip_whitespace=False, min_length=1)]
    comment: str | None = None
    submitted_at: AwareDatetime | None = None


class AbuseReport(_Complaint):
    """Other abuse (seed 000): details such as logs, the IP or host used, and the JST time.

    ``category`` is one of seed 002 §18's prohibited acts or a free word (phishing, attack,
    intrusion, malware...): the desk classifies it, the parser only keeps it.
    """

    kind: Literal["abuse"]
    reporter: Contact
    ip: str | None = None
    host: str | None = None
    occurred_at: datetime
    category: str = Field(min_length=1, max_length=100)
    details: str = Field(min_length=1)
    logs: str | None = None

    @field_validator("ip")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and parse_ip(value) is None:
            raise ValueError("not an IP address")
        return parse_ip(value) if value is not None else None

    @field_validator("host")
    @classmethod
    def _host_name(cls, value: str | None) -> str | None:
        if value is not None and host_of_url(value) is None:
            raise ValueError("not a host name")
        return host_of_url(value) if value is not None else None

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _to_the_minute(cls, value: object) -> object:
        """SPEC §1: year, month, day, hour and minute; a bare date is not enough."""
        if isinstance(value, str) and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", value):
            raise ValueError("give the hour and minute too, e.g. 2026-10-20T09:30")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _jst(cls, value: datetime) -> datetime:
        """The form asks for the time in JST (SPEC §1), so a time without an offset is JST."""
        return value.replace(tzinfo=JST) if value.utcoffset() is None else value

    @model_validator(mode="after")
    def _source_named(self) -> AbuseReport:
        if self.ip is None and self.host is None:
            raise ValueError("give the IP address or the host name used (SPEC §1)")
        return self


_FORMS: TypeAdapter[TakedownRequest | SpamComplaintForm | AbuseReport] = TypeAdapter(
    Annotated[TakedownRequest | SpamComplaintForm | AbuseReport, Field(discriminator="kind")]
)


def parse_form(document: dict[str, Any], trusted_relays: Collection[str]) -> Report:
    try:
        form = _FORMS.validate_python(document)
    except ValidationError as exc:
        raise UnparseableDocument(f"the web form is not valid: {_summary(exc)}") from exc
    if isinstance(form, TakedownRequest):
        return _takedown(form)
    if isinstance(form, SpamComplaintForm):
        return _spam(form, trusted_relays)
    return _abuse(form)


def _summary(exc: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or 'form'}: {error['msg']}"
        for error in exc.errors()
    ]
    return "; ".join(problems[:20])


def _fingerprint(form: BaseModel) -> tuple[str, ...]:
    return ("form", canonical_sha256(form.model_dump(mode="json", exclude=_NOT_THE_COMPLAINT)))


def _anonymous(form: BaseModel) -> dict[str, Any]:
    """The form without whoever filed it: the identity lives only in Complainant."""
    return form.model_dump(mode="json", exclude=_CONTACT_FIELDS | _NOT_THE_COMPLAINT)


def _evidence(details: dict[str, Any]) -> str:
    return json.dumps(details, ensure_ascii=False, indent=2, sort_keys=True)


def _contact(contact: Contact) -> Complainant:
    return Complainant(
        name=contact.name,
        email=contact.email,
        organisation=contact.organisation,
        postal_address=contact.address,
        phone=contact.phone,
    )


def _takedown(form: TakedownRequest) -> Report:
    details = _anonymous(form) | {"requester_is_agent": form.requester.is_agent}
    who = form.requester
    return Report(
        kind="takedown",
        category=form.infringed_right,
        source_format="form",
        fingerprint=_fingerprint(form),
        evidence=_evidence(details),
        complainant=Complainant(
            name=who.name,
            email=who.email,
            postal_address=who.address,
            phone=who.phone,
            consents_to_disclosure=form.disclose_name_to_sender,
        ),
        observed_at=form.submitted_at,
        url=form.url,
        domain=host_of_url(form.url),
        details=details,
    )


def _spam(form: SpamComplaintForm, trusted_relays: Collection[str]) -> Report:
    """The pasted mail is read like a forwarded spam; the mail text is the evidence."""
    spam = parse_mail_text(form.message)
    if not raw_headers(spam, "Received"):
        raise UnparseableDocument(
            "the mail in the form has no Received headers: paste the full header and body (SPEC §1)"
        )
    envelope = Envelope(_contact(form.reporter), "", form.message, form.submitted_at)
    report = spam_report(spam, envelope, 0, trusted_relays)
    details = {**report.details, "comment": form.comment}
    return replace(report, source_format="form", fingerprint=_fingerprint(form), details=details)


def _abuse(form: AbuseReport) -> Report:
    details = _anonymous(form)
    return Report(
        kind="abuse",
        category=form.category.lower(),
        source_format="form",
        fingerprint=_fingerprint(form),
        evidence=_evidence(details),
        complainant=_contact(form.reporter),
        source_ip=form.ip,
        observed_at=form.occurred_at,
        domain=form.host,
        details=details,
    )
