"""API keys: shown once, stored as a hash, recognised only in full."""

from __future__ import annotations

from trustdesk.access.keys import make_key, secret_matches, split_key


def test_a_key_is_found_by_its_id_and_checked_against_its_hash() -> None:
    key = make_key()
    assert key.plaintext.startswith(f"td_{key.key_id}_")
    assert key.secret_hash not in key.plaintext
    parts = split_key(key.plaintext)
    assert parts is not None and parts[0] == key.key_id
    assert secret_matches(parts[1], key.secret_hash)


def test_a_changed_or_malformed_key_is_refused() -> None:
    key = make_key()
    key_id, secret = split_key(key.plaintext) or ("", "")
    flipped = ("A" if secret[0] != "A" else "B") + secret[1:]
    assert not secret_matches(flipped, key.secret_hash)
    for bad in ("", "td_", key.plaintext + "x", key.plaintext.replace("td_", "tk_"), "Bearer x"):
        assert split_key(bad) is None
    assert make_key().plaintext != key.plaintext
