"""Imports every domain's models so that ``Base.metadata`` knows all tables (for Alembic)."""

from __future__ import annotations


def load_all() -> None:
    from trustdesk.access import models as _access  # noqa: F401
    from trustdesk.attribution import models as _attribution  # noqa: F401
    from trustdesk.billing import models as _billing  # noqa: F401
    from trustdesk.cases import models as _cases  # noqa: F401
    from trustdesk.fraud import models as _fraud  # noqa: F401
    from trustdesk.intake import models as _intake  # noqa: F401
    from trustdesk.network import models as _network  # noqa: F401
    from trustdesk.privacy import models as _privacy  # noqa: F401
