"""The numbers the case workflows run on: periods, fees and penalties (STYLE 5: policy is data).

Every value comes from a clause of the seeds or is an operator's choice where the seeds name no
figure; ``policy.toml`` at the repository root lists them all with their source. A policy carries
a version derived from its values, so a case step can record which rules decided it and a change
of any number is visible in the timeline.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any


class PolicyError(ValueError):
    """The policy file cannot be used: unreadable, an unknown key, or a bad value."""


@dataclass(frozen=True)
class Policy:
    """The case workflows' settings.

    ``version`` is always computed from the values: one passed in is replaced, so that a policy
    stored with ``asdict`` comes back with ``Policy(**stored)`` and ``dataclasses.replace``
    gives the changed policy its own version.
    """

    version: str = ""
    spam_reply_hours: int = 72  # seed 001 step 1: report within 72 hours
    spam_damages_months: int = 2  # seed 001 step 2: of 3 months billed, 2 as damages
    spam_handling_months: int = 1  # seed 001 step 2: and 1 as handling fee
    spam_penalty_per_report_yen: int = 3300  # seed 001 step 3 names no amount: operator's choice
    spam_penalty_handling_yen: int = 1100  # seed 001 step 3, same remark
    annual_fee_months: int = 12  # seed 001 step 3: "the annual fee" = 12 monthly fees
    reconnection_fee_yen: int = 10800  # seed 001 step 4: 10,800 yen, tax included
    takedown_inquiry_days: int = 7  # seed 000 (3), Provider Liability Limitation Act
    takedown_election_inquiry_days: int = 2  # the same Act, election content
    seal_certificate_valid_months: int = 3  # seed 000 (1): issued within the last 3 months
    sender_silence_notice_days: int = 7  # seed 002 §9-2: prior notice, period not fixed there
    abuse_reply_days: int = 7  # seed 002 §29: asks to the member, period not fixed there
    device_warning_quiet_days: int = 30  # seed 002 §22-1: warnings not repeated within this
    # seed 002 §25-2: a homepage area sending 300 MB or more in a day may be restricted. Read as
    # 300 MiB, the reading that favours the member where the terms leave the unit open.
    site_daily_transfer_limit_bytes: int = 300 * 2**20
    site_transfer_lookback_days: int = 1  # §25-2: days back a late log may still restrict
    heavy_user_median_multiple: int = 10  # §25-3 "far above the average": times the median
    heavy_user_window_days: int = 7  # §25-3 "continuously": days looked at...
    heavy_user_min_days: int = 3  # ...of which at least this many far above
    heavy_user_min_bytes_per_day: int = 10 * 2**30  # §25-3: never "far above" below this
    fraud_order_window_days: int = 7  # seed 004 §17-2-3: no past orders; merchants may override

    def __post_init__(self) -> None:
        values = self.values()
        for key, value in values.items():
            _check_value(key, value)
        object.__setattr__(self, "version", _version_of(values))

    def values(self) -> dict[str, int]:
        """The settings without the version: what the version is computed from."""
        return {
            item.name: getattr(self, item.name) for item in fields(self) if item.name != "version"
        }


SETTINGS: frozenset[str] = frozenset(item.name for item in fields(Policy)) - {"version"}


def stored_policy(stored: dict[str, Any]) -> Policy:
    """The policy a case stored (``asdict``), rebuilt once per distinct policy: the worker
    rebuilds it for every case it advances."""
    return _stored(tuple(sorted(stored.items())))


@cache
def _stored(items: tuple[tuple[str, Any], ...]) -> Policy:
    return Policy(**dict(items))


def load_policy(path: str | Path | None) -> Policy:
    """Read a TOML policy file; keys it leaves out keep their defaults. ``None`` = all defaults.

    A typo in a key would silently leave a default in force, so unknown keys are refused.
    """
    if path is None:
        return Policy()
    try:
        with Path(path).open("rb") as handle:
            document = tomllib.load(handle)
    except OSError as exc:
        raise PolicyError(f"cannot read the policy file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"the policy file {path} is not valid TOML: {exc}") from exc
    return _from_document(document, source=str(path))


def _from_document(document: dict[str, Any], source: str = "policy") -> Policy:
    """Build a policy from parsed TOML, naming the first bad key in the error."""
    for key in document:
        if key == "version":
            raise PolicyError(f"{source}: 'version' is computed from the values and cannot be set")
        if key not in SETTINGS:
            known = ", ".join(sorted(SETTINGS))
            raise PolicyError(f"{source}: unknown key {key!r}; the known keys are {known}")
    for key, value in document.items():
        _check_value(key, value, source)
    return Policy(**document)


def _check_value(key: str, value: object, source: str = "policy") -> None:
    """Periods and amounts are whole, non-negative numbers (yen are whole, seed 002 §12)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(f"{source}: {key} must be a whole number, not {value!r}")
    if value < 0:
        raise PolicyError(f"{source}: {key} must not be negative, got {value}")


def _version_of(values: dict[str, int]) -> str:
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:16]
