"""Schemathesis against the published OpenAPI schema, every check on (issues 4 and 17): the
same run as ``schemathesis run --checks all`` — its examples, coverage (boundary values,
undeclared methods, missing headers), fuzzing (valid and invalid data) and stateful phases —
in this test's process, on this test's database, with a key that may do everything the API
offers. No 5xx, no status, header or body outside the schema, invalid data refused, valid data
accepted, a 405 with ``Allow`` for a method a path does not answer.

Run through schemathesis' engine (``schemathesis.engine``, what its CLI drives) rather than
its pytest plugin, so that the app, the database and the keys are this test's own.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events

from tests.conftest import CliResult, json_lines
from tests.web.conftest import ApiKeyFor

pytestmark = pytest.mark.usefixtures("examplenet")

# Requests per operation and phase: the whole run stays well within a minute on CI's machine;
# a long run by hand sets more (RELIABILITY.md has the last one's figures).
MAX_EXAMPLES = int(os.environ.get("TRUSTDESK_SCHEMATHESIS_EXAMPLES", "25"))

# Documents whose validity no schema can state, refused with 422 and the reason: a complaint (a
# mail, a CSV or a form; a schema-valid ``{}`` is not a complaint), a merchant's order (not yet
# shipped, within the window, inside Japan, no card number: seed 004 §17-2-3, §18) and a
# merchant's rule set (CEL rules must compile and give a boolean). "Valid data is accepted"
# cannot hold for them; every other check does.
FREE_FORM = "^/api/v1/(complaints|fraud/orders|fraud/rules)$"


def _config(operator: dict[str, str], merchant: dict[str, str]) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "headers": operator,
            "continue-on-failure": True,  # every failure of the run, not the first of each
            "generation": {
                "mode": "all",  # valid and invalid data
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,  # the same requests every run: CI fails on a change
                "database": "none",
            },
            "checks": {"enabled": True},
            "operations": [
                {"include-path-regex": "^/api/v1/fraud/", "headers": merchant},
                {
                    "include-path-regex": FREE_FORM,
                    "include-method": "POST",
                    "checks": {"positive_data_acceptance": {"enabled": False}},
                },
            ],
        }
    )


def _failures(event: events.EngineEvent) -> list[str]:
    """What went wrong in one event: failed checks with the request that shows them, or an
    error of the run itself."""
    if isinstance(event, events.NonFatalError | events.FatalError):
        error = getattr(event, "value", None) or getattr(event, "exception", None)
        return [f"error: {error!r}"]
    if not isinstance(event, events.ScenarioFinished):
        return []
    return [
        f"{event.phase.value} {check.name}: {check.failure_info.failure.title}\n"
        f"{check.failure_info.failure.message}\n{check.failure_info.code_sample}"
        for checks in event.recorder.checks.values()
        for check in checks
        if check.failure_info is not None
    ]


def test_every_operation_passes_every_check(
    client: TestClient, api_key: ApiKeyFor, cli: CliResult
) -> None:
    [shop] = json_lines(cli("fraud", "merchants", "add", "shop", "--json").stdout)
    config = _config(api_key("supervisor"), {"Authorization": f"Bearer {shop['api_key']}"})
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app, config=config)
    assert len(list(schema.get_all_operations())) >= 20
    failures: list[str] = []
    phases: dict[str, Any] = {}
    cases = 0
    for event in schemathesis.engine.from_schema(schema).execute():
        failures += _failures(event)
        if isinstance(event, events.ScenarioFinished):
            cases += len(event.recorder.cases)
        if isinstance(event, events.PhaseFinished):
            phases[event.phase.name.value] = event.status.value
    print(f"schemathesis: {cases} cases, {MAX_EXAMPLES} examples per operation and phase")
    assert failures == [], "\n\n".join(sorted(set(failures)))
    # the phases that generate requests all ran (examples: the schema gives none)
    assert {phases[name] for name in ("coverage", "fuzzing", "stateful")} == {"success"}
