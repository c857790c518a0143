"""Who may do what: the roles of the abuse desk and the permissions each holds (issue 4).

Every action the console or the API offers names one permission, and the server checks it on
every request; hiding a button is a convenience, never the check. Roles follow least privilege:
an administrator manages accounts but does not read complaints, and only the roles that handle a
matter see the complainant's identity (seed 000 (3)) or secret communications (seed 002 §23).
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    CASES_READ = "cases.read"
    CASES_DECIDE = "cases.decide"
    CASES_ASSIGN = "cases.assign"
    COMPLAINTS_SUBMIT = "complaints.submit"
    EVIDENCE_READ = "evidence.read"  # raw mail and connection logs: secret communications (§23)
    COMPLAINANT_READ = "complainant.read"  # who complained (seed 000 (3))
    SUBSCRIBERS_READ = "subscribers.read"
    PERSONAL_DATA_READ = "personal.read"  # a subscriber's full name, address, e-mail, phone
    LEDGER_READ = "ledger.read"
    OUTBOX_READ = "outbox.read"
    ACTIONS_READ = "actions.read"
    ACTIONS_RETRY = "actions.retry"
    DASHBOARD_READ = "dashboard.read"
    AUDIT_READ = "audit.read"
    USERS_MANAGE = "users.manage"
    APIKEYS_MANAGE = "apikeys.manage"
    NETWORK_MANAGE = "network.manage"
    OPTOUT_MANAGE = "network.optout"  # a member's C&C blocking switch (seed 002 §25-2-3)
    CSAM_READ = "csam.read"  # the CSAM address list (seed 002 §28), its own role alone
    FRAUD_CONSOLE = "fraud.console"  # one merchant's rules, reviews and guarantee (seed 004)


_HANDLING = frozenset(
    {
        Permission.CASES_READ,
        Permission.CASES_DECIDE,
        Permission.COMPLAINTS_SUBMIT,
        Permission.EVIDENCE_READ,
        Permission.SUBSCRIBERS_READ,
        Permission.PERSONAL_DATA_READ,
        Permission.LEDGER_READ,
        Permission.OUTBOX_READ,
        Permission.ACTIONS_READ,
        Permission.DASHBOARD_READ,
        Permission.OPTOUT_MANAGE,
    }
)

GRANTS: dict[str, frozenset[Permission]] = {
    "operator": _HANDLING,
    "supervisor": _HANDLING
    | {Permission.CASES_ASSIGN, Permission.COMPLAINANT_READ, Permission.ACTIONS_RETRY},
    "network": frozenset(
        {
            Permission.NETWORK_MANAGE,
            Permission.OPTOUT_MANAGE,
            Permission.SUBSCRIBERS_READ,
            Permission.ACTIONS_READ,
            Permission.ACTIONS_RETRY,
            Permission.DASHBOARD_READ,
        }
    ),
    "billing": frozenset(
        {
            Permission.SUBSCRIBERS_READ,
            Permission.PERSONAL_DATA_READ,
            Permission.LEDGER_READ,
            Permission.ACTIONS_READ,
        }
    ),
    "privacy_officer": frozenset(
        {
            Permission.AUDIT_READ,
            Permission.CASES_READ,
            Permission.COMPLAINANT_READ,
            Permission.SUBSCRIBERS_READ,
            Permission.PERSONAL_DATA_READ,
            Permission.DASHBOARD_READ,
        }
    ),
    "admin": frozenset(
        {Permission.USERS_MANAGE, Permission.APIKEYS_MANAGE, Permission.DASHBOARD_READ}
    ),
    "csam_officer": frozenset({Permission.CSAM_READ, Permission.NETWORK_MANAGE}),
    # a merchant's staff (seed 004 §33: their own user ID and password); bound to one merchant
    "merchant": frozenset({Permission.FRAUD_CONSOLE}),
}
ROLES: tuple[str, ...] = tuple(GRANTS)

# What makes a role one whose grant is itself audited: it reads secret communications, who
# complained, a subscriber's identity, or the trail of all of those (seed 002 §23).
PERSONAL_DATA = frozenset(
    {
        Permission.EVIDENCE_READ,
        Permission.COMPLAINANT_READ,
        Permission.PERSONAL_DATA_READ,
        Permission.AUDIT_READ,
    }
)


class UnknownRole(ValueError):
    pass


def check_role(role: str) -> str:
    if role not in GRANTS:
        raise UnknownRole(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    return role


def can(role: str, permission: Permission) -> bool:
    return permission in GRANTS.get(role, frozenset())


def personal_data_reads(role: str) -> list[str]:
    """The permissions of ``role`` that read personal data, sorted; empty for the others."""
    return sorted(GRANTS.get(role, frozenset()) & PERSONAL_DATA)
