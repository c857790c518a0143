"""The application ``uvicorn --factory fraud_server:make_app`` serves in bench/fraud.py:
settings from the environment (``TRUSTDESK_DATABASE_URL``), the wall clock."""

from __future__ import annotations

from fastapi import FastAPI

from trustdesk.settings import load_settings
from trustdesk.web.app import create_app


def make_app() -> FastAPI:
    return create_app(load_settings())
