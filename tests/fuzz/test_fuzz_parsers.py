"""Every parser of outsiders' input, fuzzed: hostile variants of valid documents and raw bytes
give the parser's values or its own parse error with a message, never another exception, and
what it returns can be stored (tests/fuzz/targets.py says the property of each)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz import mutations, seeds
from tests.fuzz.targets import TARGETS, document, every_seed, run

FUZZ = settings.get_profile(os.environ.get("TRUSTDESK_FUZZ_PROFILE", "fuzz"))
NAMES = sorted(TARGETS)


@pytest.mark.parametrize(("name", "seed"), list(every_seed()))
def test_every_seed_keeps_the_property(name: str, seed: bytes) -> None:
    run(name, seed)


INTAKE_SEEDS = [
    *seeds.mails(),
    *seeds.xarf_documents(),
    *seeds.shadowserver_files(),
    *seeds.form_documents(),
]


@pytest.mark.parametrize("seed", INTAKE_SEEDS)
def test_the_intake_seeds_are_complaints(seed: bytes) -> None:
    """Mutation starts from documents intake reads, so that it reaches past the format check
    (the fixtures' events are of 2026-10-20, before the targets' NOW)."""
    assert document(seed, seeds.SHADOWSERVER_CSV + ".zip")


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(data=st.data())
def test_hostile_variants_of_valid_documents(name: str, data: st.DataObject) -> None:
    run(name, data.draw(mutations.variants(TARGETS[name]), label="document"))


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(document=mutations.raw)
def test_raw_bytes(name: str, document: bytes) -> None:
    run(name, document)
