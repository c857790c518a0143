"""Roles: least privilege, checked as values (issue 4)."""

from __future__ import annotations

import pytest

from trustdesk.access.roles import GRANTS, ROLES, Permission, UnknownRole, can, check_role


def test_every_permission_is_held_by_some_role() -> None:
    held = set().union(*GRANTS.values())
    assert held == set(Permission)


def test_only_the_roles_that_handle_a_matter_see_who_complained() -> None:
    """Seed 000 (3): the complainant's identity is not spread; the admin manages accounts only."""
    readers = {role for role in ROLES if can(role, Permission.COMPLAINANT_READ)}
    assert readers == {"supervisor", "privacy_officer"}
    assert not can("admin", Permission.EVIDENCE_READ)
    assert not can("admin", Permission.CASES_READ)


def test_the_csam_list_is_for_its_own_role_alone() -> None:
    """Seed 002 §28: the address list is visible only to a dedicated role."""
    assert [role for role in ROLES if can(role, Permission.CSAM_READ)] == ["csam_officer"]


def test_the_audit_trail_is_read_by_the_privacy_officer() -> None:
    assert [role for role in ROLES if can(role, Permission.AUDIT_READ)] == ["privacy_officer"]


def test_unknown_roles_hold_nothing_and_are_refused() -> None:
    assert not can("root", Permission.CASES_READ)
    with pytest.raises(UnknownRole, match="one of operator"):
        check_role("root")
