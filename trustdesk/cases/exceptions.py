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


class SubscriberNotFound(LookupError):
    """No subscriber has that id."""


class ComplainantSealed(PermissionError):
    """A reader whose role may not see who complained gave a reason to see it (seed 000 (3)):
    the reason does not stand in for the permission."""


class ReasonRequired(ValueError):
    """An audited read was asked for with a reason too short to say anything."""
