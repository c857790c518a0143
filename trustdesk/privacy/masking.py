"""Personal data masked for lists and logs (issue 4): enough to tell people apart, not to reach
them. Full values are shown only on the detail pages of roles that need them."""

from __future__ import annotations


def mask_email(address: str | None) -> str:
    """``t***@example.jp``."""
    if not address:
        return "-"
    local, at, domain = address.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else f"{address[:1]}***"


def mask_name(name: str | None) -> str:
    """``山田 *``: the family name only; a name without a space keeps its first character."""
    if not name:
        return "-"
    words = name.split()
    if len(words) > 1:
        return words[0] + " *"
    return name[:1] + "*" * max(1, len(name) - 1)


def mask_phone(phone: str | None) -> str:
    """``090-****-5678``: the last four digits."""
    if not phone:
        return "-"
    digits = [c for c in phone if c.isdigit()]
    return "***-" + "".join(digits[-4:]) if len(digits) > 4 else "***"
