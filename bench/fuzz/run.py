"""Coverage-guided fuzzing of the parsers with atheris (libFuzzer), run by hand.

    .venv/bin/pip install -e '.[test,fuzz]'
    .venv/bin/python bench/fuzz/run.py --list
    .venv/bin/python bench/fuzz/run.py --seconds 600 mail xarf radius     # or: all

Each target is a parser of ``tests/fuzz/targets.py`` with the property the hypothesis tests
check (its values, or its own parse error with a message; nothing else). The targets run one
after the other, each in its own process at a lower priority (``--nice``, 10); a target's seed
corpus is written from ``tests/fuzz/seeds.py`` into its work folder (``--work``, default
/tmp/trustdesk-fuzz/TARGET), where the corpus grows across runs and a crashing input is saved as
``crash-*`` (a slow one as ``timeout-*``); nothing there is committed. A crash ends that
target's run. The last lines are a Markdown table for bench/RESULTS.md: executions, seconds,
corpus size, crashes.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Instrumented for coverage: trustdesk's parsers and what they call (not the web application
# or the database layer the tests' imports bring along: instrumenting costs start-up time), and
# the stdlib and library parsers they drive.
INSTRUMENTED = [
    *(f"trustdesk.{domain}" for domain in ("intake", "attribution", "network", "fraud")),
    "trustdesk.cases.replies",
    "trustdesk.web.complaint_forms",
    "trustdesk.timeutil",
    *("email", "csv", "zipfile", "yaml", "urllib", "idna"),
]
_EXECUTED = re.compile(r"stat::number_of_executed_units:\s*(\d+)")
_DONE = re.compile(r"^#(\d+)\s", re.MULTILINE)
_CORPUS = re.compile(r"corp: (\d+)/")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("targets", nargs="*", help="target names, or 'all'")
    parser.add_argument("--seconds", type=int, default=300, help="per target")
    parser.add_argument("--nice", type=int, default=10, help="niceness of each target's run")
    parser.add_argument("--work", type=Path, default=Path("/tmp/trustdesk-fuzz"))
    parser.add_argument("--list", action="store_true", help="print the targets and exit")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child process of one target
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.one:
        fuzz_one(args.one, args.seconds, args.work / args.one)
        return
    names = _target_names()
    if args.list:
        print("\n".join(names))
        return
    chosen = names if args.targets == ["all"] else args.targets
    unknown = sorted(set(chosen) - set(names))
    if unknown or not chosen:
        parser.error(f"unknown targets {unknown}; choose from {', '.join(names)}")
    rows = [campaign(name, args.seconds, args.work, args.nice) for name in chosen]
    print("\n| target | executions | seconds | exec/s | corpus | crashes |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(row)


def _target_names() -> list[str]:
    from tests.fuzz.targets import TARGETS

    return list(TARGETS)


def campaign(name: str, seconds: int, work: Path, niceness: int) -> str:
    """Run one target in a child process at a lower priority; its table row."""
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"run-{time.strftime('%Y%m%dT%H%M%S')}.log"
    command = ["nice", "-n", str(niceness), sys.executable, __file__, "--one", name]
    command += ["--seconds", str(seconds), "--work", str(work)]
    started = time.monotonic()
    with log.open("w") as output:
        status = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, check=False)
    elapsed = time.monotonic() - started
    text = log.read_text(errors="replace")
    executed = _EXECUTED.search(text) or None
    runs = int(executed.group(1)) if executed else max(map(int, _DONE.findall(text)), default=0)
    corpus = _CORPUS.findall(text)
    crashes = sorted(p.name for p in folder.glob("*-*") if p.name.startswith(("crash", "timeout")))
    note = f" (exit {status.returncode}, see {log})" if status.returncode else ""
    print(f"{name}: {runs} executions in {elapsed:.0f} s, crashes {crashes}{note}", flush=True)
    return (
        f"| {name} | {runs:,} | {elapsed:.0f} | {runs / elapsed:,.0f} | "
        f"{corpus[-1] if corpus else '-'} | {len(crashes)}{note} |"
    )


def fuzz_one(name: str, seconds: int, folder: Path) -> None:
    import atheris

    with atheris.instrument_imports(include=INSTRUMENTED):
        from tests.fuzz import targets
    target = targets.TARGETS[name]
    corpus = folder / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(target.seeds()):
        (corpus / f"seed-{index}").write_bytes(seed)
    dictionary = folder / "tokens.dict"
    dictionary.write_text("\n".join(targets.dictionary(target)) + "\n")
    longest = max(len(seed) for seed in target.seeds())
    options = [
        str(corpus),
        f"-dict={dictionary}",
        f"-max_total_time={seconds}",
        f"-max_len={min(max(4 * longest, 4096), 1 << 20)}",
        "-timeout=20",
        "-rss_limit_mb=4096",
        "-print_final_stats=1",
        f"-artifact_prefix={folder}/",
    ]
    atheris.Setup([sys.argv[0], *options], target.check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
