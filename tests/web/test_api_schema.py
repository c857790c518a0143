"""Schemathesis against the published OpenAPI schema (issue 4 proof): generated requests to every
API operation, with a key that may do everything the API offers, never get a 5xx or an answer
outside the schema.

The operations are driven through Hypothesis directly (``operation.as_strategy()``) rather than
schemathesis' pytest plugin, so that each runs against this test's own database and key.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from tests.web.conftest import ApiKeyFor

pytestmark = pytest.mark.usefixtures("examplenet")


def _excluded(case: Any) -> list[Any]:
    """A complaint document is a mail, a CSV or a form whose validity no schema can state (a
    schema-valid ``{}`` is still not a complaint): it is refused with 422, so the "valid data is
    accepted" check cannot apply to it. Every other check does."""
    if case.operation.path == "/api/v1/complaints":
        return [positive_data_acceptance]
    return []


def test_every_operation_keeps_its_schema(client: TestClient, api_key: ApiKeyFor) -> None:
    key = api_key("supervisor")
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            case.call_and_validate(headers=key, excluded_checks=_excluded(case))

        check()
