"""Example Net: a small provider's registry and complaints, for the demo, the benchmarks and
the tests (``tests.conftest.EXAMPLENET`` is this folder, so the three cannot drift apart).

Seven subscribers with a static IPv4 address, an IPv6 /56, a hosted site, dynamic RADIUS
sessions and CGNAT port blocks.
"""

from __future__ import annotations

from pathlib import Path

DIRECTORY = Path(__file__).parent
CONFIG = DIRECTORY / "trustdesk.toml"

# Import order matters: assignments and sites name subscribers that must already exist.
REGISTRY = (
    ("subscribers", "subscribers.csv"),
    ("assignments", "assignments.csv"),
    ("sites", "sites.csv"),
    ("radius", "radius.detail"),
    ("cgnat", "cgnat.log"),
)
