"""What a request handler may ask for: the runtime (settings, session factory, clock).

Handlers open their own transaction with ``unit_of_work(runtime.factory)``: the handler is the
caller that owns it (STYLE 7), and committing there, before the response is built, is what lets
an answer say "stored" only once it is. (FastAPI runs the code after a dependency's ``yield``
after the response has gone out, too late to commit.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from trustdesk.cases.policy import Policy, load_policy
from trustdesk.cases.service import MAX_ID
from trustdesk.settings import Settings


@dataclass
class WebRuntime:
    settings: Settings
    factory: sessionmaker[Session]
    clock: Callable[[], datetime]
    # for the merchants' score, whose statements commit each on their own (db.statements)
    statements: Engine
    policy: Policy = field(init=False)

    def __post_init__(self) -> None:
        self.policy = load_policy(self.settings.policy_file)

    def now(self) -> datetime:
        return self.clock()


async def runtime(request: Request) -> WebRuntime:
    """Async because it only reads app state: FastAPI runs a sync dependency in a thread,
    a hop on every request for nothing (bench/fraud.py)."""
    value = request.app.state.runtime
    assert isinstance(value, WebRuntime)
    return value


RuntimeDep = Annotated[WebRuntime, Depends(runtime)]
# A row's number in a path: beyond the database's integer range it names nothing, and would
# fail in the driver (SQLite past 2**63, PostgreSQL past 2**31) instead of answering 422.
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
