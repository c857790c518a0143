"""The crash harness, long, by hand (issue 17): the run of ``tests/crash/`` with more
complaints, more kills and a longer budget; prints the figures RELIABILITY.md records.

    python bench/crash.py --db sqlite:////tmp/td-crash.db --complaints 3000 --kills 60
    python bench/crash.py --db postgresql://postgres@127.0.0.1/td_crash --complaints 3000

The schema is dropped and recreated. Exits 1 when a promise was broken; the seed it prints
repeats the run (``--seed``).
"""

from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.crash

from common import arguments, fresh_engine  # noqa: E402

from tests.crash.harness import Plan, Run  # noqa: E402


def main() -> int:
    parser = arguments(__doc__ or "")
    parser.add_argument("--complaints", type=int, default=3000)
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--budget", type=float, default=1500.0, help="seconds for intake")
    parser.add_argument("--kill-every", type=float, nargs=2, default=(5.0, 20.0))
    parser.add_argument("--timer-ticks", type=int, default=6)
    parser.add_argument("--seed", type=int, default=None)
    options = parser.parse_args()
    engine = fresh_engine(options.db)
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    seed = options.seed if options.seed is not None else random.randrange(1 << 30)
    with tempfile.TemporaryDirectory(prefix="td-crash-") as workdir:
        plan = Plan(
            database_url=url,
            workdir=Path(workdir),
            seed=seed,
            complaints=options.complaints,
            kills=options.kills,
            subscribers=options.subscribers,
            clients=options.clients,
            kill_every=tuple(options.kill_every),
            timer_ticks=options.timer_ticks,
        )
        findings = Run(plan).execute(budget=options.budget)
    print(findings.summary(plan))
    return 1 if findings.problems else 0


if __name__ == "__main__":
    sys.exit(main())
