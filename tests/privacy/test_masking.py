"""Redacting the complainant from texts a masked reader sees (issue 17; seed 000 (3))."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from trustdesk.privacy.masking import REDACTED, redactor


def test_every_occurrence_goes_whatever_its_case() -> None:
    scrub = redactor(["kobayashi@claimant.example", "小林 誠"])
    text = "reply from KOBAYASHI@Claimant.Example (小林 誠); again kobayashi@claimant.example"
    assert scrub(text) == f"reply from {REDACTED} ({REDACTED}); again {REDACTED}"


def test_the_longest_secret_goes_first_so_nothing_of_it_is_left() -> None:
    scrub = redactor(["kobayashi", "kobayashi@claimant.example"])
    assert scrub("<kobayashi@claimant.example>") == f"<{REDACTED}>"


def test_a_tree_keeps_its_keys_and_other_values() -> None:
    scrub = redactor(["小林"])
    tree = {"小林": ["小林です", 3, None, {"note": "小林"}], "ok": True}
    assert scrub(tree) == {"小林": [f"{REDACTED}です", 3, None, {"note": REDACTED}], "ok": True}


def test_one_character_and_empty_secrets_are_not_secrets() -> None:
    scrub = redactor(["a", "", None, "  "])
    assert scrub("a case about a spam") == "a case about a spam"


def test_only_what_the_rows_hold_is_looked_for() -> None:
    rows = [{"note": "from taro@example.jp"}]
    scrub = redactor(["taro@example.jp", "hanako@example.jp"], within=rows)
    assert scrub(rows) == [{"note": f"from {REDACTED}"}]
    assert scrub("hanako@example.jp") == "hanako@example.jp"  # not in the rows: not compiled


# A secret sharing no character with the mark, so that no mark and text can make it up anew.
SECRETS = st.text(min_size=2, max_size=12).filter(
    lambda s: len(s.strip()) >= 2 and not set(s) & set(REDACTED)
)


@given(secret=SECRETS, before=st.text(max_size=20), after=st.text(max_size=20))
def test_a_secret_never_survives_in_the_rows_it_was_found_in(
    secret: str, before: str, after: str
) -> None:
    rows = [before + secret + after, {"note": before}]
    [text, entry] = redactor([secret], within=rows)(rows)
    assert secret.strip() not in text and secret.strip() not in entry["note"]
