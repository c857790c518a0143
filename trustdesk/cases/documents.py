"""Is a takedown request complete? (seed 000 (1)-(2), SPEC §3 takedown step 1)

The web form only checks that a request is well-formed (intake.forms); what the provider needs
before it may ask the sender is checked here, so that the takedown workflow can tell the
requester exactly what to supplement: a request form with the registered seal; the URL, the
information, the infringed right, the reason and the choice on disclosing the requester's name;
a seal-registration certificate issued within the last 3 months; a power of attorney when an
agent files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from trustdesk.cases.periods import add_months
from trustdesk.cases.policy import Policy
from trustdesk.timeutil import to_jst

_REQUIRED_TEXT = (
    ("url", "URL"),
    ("information", "information"),
    ("infringed_right", "infringed right"),
    ("reason", "reason"),
)


def check_takedown(
    details: Mapping[str, Any], is_agent: bool, now: datetime, policy: Policy
) -> tuple[str, ...]:
    """What is missing or invalid, in English for the requester; ``()`` when complete.

    ``details`` are a takedown complaint's stored details (the TakedownRequest form without the
    requester), read defensively because they come back from the database as plain JSON.
    """
    documents = _documents(details)
    problems = [*_request_form(documents), *_seal_certificate(documents, now, policy)]
    if is_agent and not _of_type(documents, "power_of_attorney"):
        problems.append("power of attorney missing: filed by an agent")
    problems += [f"{label} missing" for key, label in _REQUIRED_TEXT if not _text(details, key)]
    if not isinstance(details.get("disclose_name_to_sender"), bool):
        problems.append("name-disclosure choice missing")
    return tuple(problems)


def _documents(details: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    listed = details.get("documents")
    if not isinstance(listed, Sequence) or isinstance(listed, str):
        return []
    return [item for item in listed if isinstance(item, Mapping)]


def _of_type(documents: list[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    return [item for item in documents if item.get("type") == kind]


def _text(details: Mapping[str, Any], key: str) -> bool:
    value = details.get(key)
    return isinstance(value, str) and bool(value.strip())


def _request_form(documents: list[Mapping[str, Any]]) -> list[str]:
    """Seed 000 (1): the request form bears the registered seal (登録印を押印)."""
    forms = _of_type(documents, "request_form")
    if not forms:
        return ["request form missing"]
    if not any(item.get("sealed") is True for item in forms):
        return ["request form not sealed"]
    return []


def _seal_certificate(
    documents: list[Mapping[str, Any]], now: datetime, policy: Policy
) -> list[str]:
    """Seed 000 (1): a seal certificate issued within the last 3 months, counted in JST from
    the issue date to the same-numbered day (exactly 3 months old is still valid)."""
    certificates = _of_type(documents, "seal_certificate")
    if not certificates:
        return ["seal certificate missing"]
    issued = sorted(day for day in map(_issue_date, certificates) if day is not None)
    if not issued:
        return ["seal certificate issue date missing"]
    today, months = to_jst(now).date(), policy.seal_certificate_valid_months
    if any(day <= today <= add_months(day, months) for day in issued):
        return []
    past = [day for day in issued if day <= today]
    if not past:
        return [f"seal certificate issued in the future ({issued[0].isoformat()})"]
    return [f"seal certificate older than {months} months (issued {past[-1].isoformat()})"]


def _issue_date(certificate: Mapping[str, Any]) -> date | None:
    value = certificate.get("issued_on")
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None
