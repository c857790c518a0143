"""What the case services refuse, mapped once at the edge (HTTP status, CLI exit code).

``workflows.InvalidTransition`` (an event the state does not accept) lives with the workflows.
"""

from __future__ import annotations


class CaseNotFound(LookupError):
    """No case has that number or reference."""


class CaseOperationRefused(ValueError):
    """A merge, split, assignment or reply that cannot be done as asked; the message says why."""


class ActionNotFound(LookupError):
    """No enforcement action has that number."""
