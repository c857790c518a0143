"""What the fraud service refuses, each mapped once to an HTTP status and CLI exit (STYLE 6)."""

from __future__ import annotations


class FraudError(Exception):
    """Base class: ``code`` is the machine-readable reason, the message says it to a person."""

    code = "fraud_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class OrderInvalid(FraudError):
    """The order cannot be read: a missing field, a wrong type, a time without offset."""

    code = "invalid_order"


class BodyNotJSON(FraudError):
    """The request's body is not JSON at all."""

    code = "invalid_json"


class OrderRefused(FraudError):
    """A well-formed order the service must not score (fulfilled, too old, foreign, a PAN)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class OrderNotFound(FraudError):
    """No such order for this merchant; another merchant's order is not found either (§37)."""

    code = "not_found"


class Conflict(FraudError):
    """The request contradicts what is stored: a different order under a used id, a second
    shipment, a merchant name taken."""

    code = "conflict"


class Unauthorized(FraudError):
    """A wrong, unknown or revoked merchant key."""

    code = "unauthorized"

    def __init__(self, detail: str = "unknown or revoked API key") -> None:
        super().__init__(detail)


class MerchantNotFound(FraudError):
    code = "merchant_not_found"


class RuleSetNotFound(FraudError):
    code = "not_found"
