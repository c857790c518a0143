"""trustdesk.cases.policy: the case workflows' numbers, read from policy.toml (STYLE 5)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustdesk.cases.policy import SETTINGS, Policy, PolicyError, load_policy

REPO_POLICY = Path(__file__).resolve().parents[2] / "policy.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_follow_the_seeds() -> None:
    """Seed 001 steps 1-4, seed 000 (1) and (3), seed 002 §9-2 and §22-1."""
    policy = Policy()
    assert policy.values() == {
        "spam_reply_hours": 72,
        "spam_damages_months": 2,
        "spam_handling_months": 1,
        "spam_penalty_per_report_yen": 3300,
        "spam_penalty_handling_yen": 1100,
        "annual_fee_months": 12,
        "reconnection_fee_yen": 10800,
        "takedown_inquiry_days": 7,
        "takedown_election_inquiry_days": 2,
        "seal_certificate_valid_months": 3,
        "sender_silence_notice_days": 7,
        "abuse_reply_days": 7,
        "device_warning_quiet_days": 30,
        "site_daily_transfer_limit_bytes": 300 * 2**20,  # seed 002 §25-2
        "site_transfer_lookback_days": 1,
        "heavy_user_median_multiple": 10,  # seed 002 §25-3
        "heavy_user_window_days": 7,
        "heavy_user_min_days": 3,
        "heavy_user_min_bytes_per_day": 10 * 2**30,
        "fraud_order_window_days": 7,
    }
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", policy.version)


def test_no_file_means_the_defaults() -> None:
    assert load_policy(None) == Policy()


def test_the_repository_policy_lists_every_setting_at_its_default() -> None:
    with REPO_POLICY.open("rb") as handle:
        assert set(tomllib.load(handle)) == SETTINGS
    assert load_policy(REPO_POLICY) == Policy()
    assert load_policy(str(REPO_POLICY)).version == Policy().version


def test_missing_keys_take_their_defaults(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "spam_penalty_per_report_yen = 5000\n"))
    assert policy == replace(Policy(), spam_penalty_per_report_yen=5000)
    assert policy.reconnection_fee_yen == 10800


def test_the_version_changes_when_a_value_changes(tmp_path: Path) -> None:
    changed = load_policy(write(tmp_path, "spam_reply_hours = 48\n"))
    assert changed.version != Policy().version
    assert replace(Policy(), abuse_reply_days=8).version != Policy().version


def test_the_version_does_not_change_otherwise(tmp_path: Path) -> None:
    """Key order, comments and a value written at its default leave the version alone."""
    text = "# comment\nabuse_reply_days = 7\nspam_reply_hours = 72\n"
    assert load_policy(write(tmp_path, text)).version == Policy().version
    reordered = write(tmp_path, "spam_reply_hours = 72\nabuse_reply_days = 7 # same\n")
    assert load_policy(reordered).version == Policy().version


def test_a_stored_policy_comes_back_with_its_version() -> None:
    """The service stores ``asdict(policy)`` with the case and rebuilds it with ``Policy(**)``."""
    policy = replace(Policy(), spam_penalty_handling_yen=2200)
    stored = asdict(policy)
    assert stored["version"] == policy.version
    assert Policy(**stored) == policy


def test_a_version_passed_in_is_replaced_by_the_computed_one() -> None:
    assert Policy(version="sha256:0000000000000000") == Policy()


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("spam_reply_hours = -1\n", "spam_reply_hours", "must not be negative"),
        ("reconnection_fee_yen = 10800.5\n", "reconnection_fee_yen", "whole number"),
        ('abuse_reply_days = "7"\n', "abuse_reply_days", "whole number"),
        ("takedown_inquiry_days = true\n", "takedown_inquiry_days", "whole number"),
        ("spam_reply_hour = 72\n", "spam_reply_hour", "unknown key"),
        ("[spam]\nreply_hours = 72\n", "spam", "unknown key"),
        ('version = "sha256:0"\n', "version", "computed"),
    ],
)
def test_bad_values_are_refused_naming_the_key(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    with pytest.raises(PolicyError) as raised:
        load_policy(write(tmp_path, text))
    assert key in str(raised.value)
    assert problem in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_a_negative_value_is_refused_in_code_too() -> None:
    with pytest.raises(PolicyError, match="spam_damages_months"):
        Policy(spam_damages_months=-2)


def test_unreadable_files_are_policy_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(write(tmp_path, "spam_reply_hours = \n"))
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.toml")


@given(st.dictionaries(st.sampled_from(sorted(SETTINGS)), st.integers(0, 10**6)))
def test_equal_values_give_equal_versions(values: dict[str, Any]) -> None:
    policy = Policy(**values)
    assert Policy(**asdict(policy)).version == policy.version
    assert (policy.version == Policy().version) == (policy.values() == Policy().values())
