"""The HTTP application: built from settings, schema published."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_openapi_schema_is_published(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "trustdesk"


def test_unknown_path_is_a_json_404(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
