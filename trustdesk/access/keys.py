"""API keys for machine clients (operators' scripts, merchants): made, shown once, kept hashed.

A key reads ``td_<key id>_<secret>``. The key id finds the stored row without a scan, and only
a hash of the secret is kept, so a copy of the database does not give anyone a working key. The
secret has 256 bits of randomness, so a plain SHA-256 is enough here (a slow hash like argon2 is
for passwords, which people choose and which are guessable); it is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

_KEY = re.compile(r"td_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class NewKey:
    """A freshly made key: ``plaintext`` is given to its owner once; the rest is stored."""

    key_id: str
    plaintext: str
    secret_hash: str


def make_key() -> NewKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, f"td_{key_id}_{secret}", _hash(secret))


def split_key(plaintext: str) -> tuple[str, str] | None:
    """``(key id, secret)`` of a well-formed key, or None for anything else."""
    match = _KEY.fullmatch(plaintext.strip())
    return (match.group(1), match.group(2)) if match else None


def secret_matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(_hash(secret), secret_hash)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
