"""What the case services refuse, mapped once at the edge (HTTP status, CLI exit code).

``workflows.InvalidTransition`` (an event the state does not accept) lives with the workflows.
"""

from __future__ import annotations


class CaseNotFound(LookupError):
    """No case has that number or reference."""


class CaseChanged(RuntimeError):
    """The case changed since the caller looked at it, or while its change waited for the
    case's lock (issue 17): nothing was done; the caller reloads the case and decides again."""

    def __init__(self, reference: str, seen: int, found: int) -> None:
        super().__init__(
            f"{reference} changed since it was read (version {seen}, now {found}); nothing was "
            f"done: reload the case and decide again"
        )
        self.reference, self.seen, self.found = reference, seen, found


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
