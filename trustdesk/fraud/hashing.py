"""Keyed hashes of normalised values: what the known-fraud database and velocity store.

HMAC-SHA256 with the deployment's secret (``fraud.hash_key``), truncated to 128 bits. Without
the secret a stored hash cannot be tested against a guessed e-mail or phone number, which a
plain hash of such a small space would allow; with it, the same value from any merchant gives
the same hash, so matches work across merchants without anyone seeing the values (§37).
"""

from __future__ import annotations

import hashlib
import hmac

HASH_BYTES = 16


class Hasher:
    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def __call__(self, kind: str, value: str) -> bytes:
        """The hash of ``value`` as a ``kind`` (email, phone, address, device, card, ip): the
        kind is part of the input so a device id never matches an identical card token."""
        message = f"{kind}\x00{value}".encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()[:HASH_BYTES]
