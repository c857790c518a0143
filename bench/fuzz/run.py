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
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    parser.add_argument(
        "--together",
        action="store_true",
        help="fuzz the targets in one process, the first byte choosing the target (one start-up "
        "instead of one a target; executions counted per target in WORK/together/counts.json)",
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child process of one target
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.one:
        fuzz_one(args.one.split(","), args.seconds, args.work / _folder(args.one))
        return
    names = _target_names()
    if args.list:
        print("\n".join(names))
        return
    chosen = names if args.targets == ["all"] else args.targets
    unknown = sorted(set(chosen) - set(names))
    if unknown or not chosen:
        parser.error(f"unknown targets {unknown}; choose from {', '.join(names)}")
    groups = [",".join(chosen)] if args.together else chosen
    rows = [campaign(group, args.seconds, args.work, args.nice) for group in groups]
    print("\n| target | executions | seconds | exec/s | corpus | crashes |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(row)


def _target_names() -> list[str]:
    from tests.fuzz.targets import TARGETS

    return list(TARGETS)


def _folder(group: str) -> str:
    return "together" if "," in group else group


def campaign(name: str, seconds: int, work: Path, niceness: int) -> str:
    """Run one target (or several together) in a child process at a lower priority; its row."""
    folder = work / _folder(name)
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


def fuzz_one(names: list[str], seconds: int, folder: Path) -> None:
    """libFuzzer on the targets; with several, the input's first byte chooses the target."""
    import atheris

    with atheris.instrument_imports(include=INSTRUMENTED):
        from tests.fuzz import targets
    chosen = [targets.TARGETS[name] for name in names]
    corpus = folder / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    lead = (lambda index: bytes([index])) if len(chosen) > 1 else (lambda index: b"")
    seeds = [lead(i) + seed for i, target in enumerate(chosen) for seed in target.seeds()]
    for index, seed in enumerate(seeds):
        (corpus / f"seed-{index}").write_bytes(seed)
    dictionary = folder / "tokens.dict"
    lines = {line for target in chosen for line in targets.dictionary(target)}
    dictionary.write_text("\n".join(sorted(lines)) + "\n")
    options = [
        str(corpus),
        f"-dict={dictionary}",
        f"-max_total_time={seconds}",
        f"-max_len={min(max(4 * max(map(len, seeds)), 4096), 1 << 20)}",
        "-timeout=20",
        "-rss_limit_mb=4096",
        "-print_final_stats=1",
        f"-artifact_prefix={folder}/",
    ]
    check = chosen[0].check if len(chosen) == 1 else _dispatch(chosen, folder / "counts.json")
    atheris.Setup([sys.argv[0], *options], check)
    atheris.Fuzz()


def _dispatch(chosen: list[Any], counts_file: Path) -> Callable[[bytes], None]:
    """One check for several targets; the executions of each are written every 200 (libFuzzer
    ends the process without Python's exit handlers)."""
    counts = dict.fromkeys((target.name for target in chosen), 0)

    def check(data: bytes) -> None:
        if not data:
            return
        target = chosen[data[0] % len(chosen)]
        counts[target.name] += 1
        if sum(counts.values()) % 200 == 0:
            counts_file.write_text(json.dumps(counts))
        target.check(data[1:])

    return check


if __name__ == "__main__":
    main()
