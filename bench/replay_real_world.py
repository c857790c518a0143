"""Replay reports received from real senders through ``trustdesk ingest``, outside the tests.

    python bench/replay_real_world.py ../shared/fixtures/real-world

The tests carry their own reports, written in the shapes real senders use
(tests/fixtures/real-world/); this holds a folder of real ones to the same promises when one is
at hand: every file gives complaints (never an error), each with a source address, none in
Example Net's networks (published samples are anonymised), and the addresses are the ones the
reports state, read again here without trustdesk's parsers: an ARF feedback part's Source-IP,
an X-ARF report's Source, the ip column of a Shadowserver CSV (attached, zipped or not).

The installed ``trustdesk`` runs on a fresh schema (``--db``, SQLite in /tmp by default) with
the Example Net registry imported, like an operator's ``trustdesk ingest --json``. One line a
file; the exit status is 1 if any file breaks a promise.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import ipaddress
import json
import os
import re
import subprocess
import sys
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from common import arguments, fresh_engine

from trustdesk import demo

REPORT_SUFFIXES = (".eml", ".csv", ".json", ".zip")
TRUSTDESK = Path(sys.executable).parent / "trustdesk"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TRUSTDESK), *args], env=env, capture_output=True, text=True)


def canonical(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        return text


def csv_addresses(data: bytes) -> list[str]:
    rows = csv.DictReader(io.StringIO(data.decode("utf-8", "replace")))
    return [
        canonical(row.get("ip") or row.get("src_ip") or "") for row in rows if any(row.values())
    ]


def attachment_addresses(data: bytes) -> list[str]:
    """The ip column of every CSV in a .zip, or of the CSV itself."""
    if not data.startswith(b"PK\x03\x04"):
        return csv_addresses(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [ip for name in archive.namelist() for ip in csv_addresses(archive.read(name))]


def field(text: str, name: str) -> str | None:
    found = re.search(rf"^{name}[ \t]*:[ \t]*(\S+)", text, re.IGNORECASE | re.MULTILINE)
    return found.group(1) if found else None


def stated_addresses(path: Path) -> list[str] | None:
    """The source addresses the report states, or None where it states none to compare."""
    data = path.read_bytes()
    if path.suffix in (".csv", ".zip"):
        return attachment_addresses(data)
    if path.suffix != ".eml":
        return None
    message = email.message_from_bytes(data, policy=email.policy.compat32)
    parts = [part for part in message.walk() if not part.is_multipart()]
    for part in parts:
        name = (part.get_filename() or "").lower()
        payload = part.get_payload(decode=True)
        if name.endswith((".csv", ".zip")) and isinstance(payload, bytes):
            return attachment_addresses(payload)
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            inner = part.get_payload()
            text = inner[0].as_string() if isinstance(inner, list) else str(inner)
            stated = field(text, "Source-IP")
            return [canonical(stated)] if stated else None
    for part in parts:
        text = part.get_payload(decode=True) or b""
        xarf_source = field(text.decode("utf-8", "replace"), "Source")
        if xarf_source and field(text.decode("utf-8", "replace"), "Source-Type"):
            return [canonical(xarf_source)]
    return None


def problems(path: Path, lines: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """What breaks a promise, and what is only worth knowing (duplicates of earlier files)."""
    if not lines:
        return ["no complaint"], []
    found = [f"error: {line['error']}" for line in lines if "error" in line]
    complaints = [line for line in lines if "error" not in line]
    found += [f"no source address: {line}" for line in complaints if not line["source_ip"]]
    found += [
        f"{line['source_ip']} is in Example Net's networks"
        for line in complaints
        if line["in_network"]
    ]
    notes = [
        f"complaint {line['complaint_id']} was already recorded from an earlier file; "
        f"its address is that file's ({line['source_ip']})"
        for line in lines
        if line.get("duplicate")
    ]
    stated = stated_addresses(path)
    if stated is not None and not notes:
        got = [line.get("source_ip") for line in lines]
        if got != stated:
            found.append(f"addresses {got} where the report states {stated}")
    return found, notes


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("folder", type=Path, help="reports, searched recursively")
    args = parser.parse_args()
    files = sorted(p for p in args.folder.rglob("*") if p.is_file() and p.suffix in REPORT_SUFFIXES)
    if not files:
        raise SystemExit(f"no report ({', '.join(REPORT_SUFFIXES)}) under {args.folder}")
    engine = fresh_engine(args.db)
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    env = os.environ | {"TRUSTDESK_DATABASE_URL": url, "TRUSTDESK_CONFIG": str(demo.CONFIG)}
    for kind, name in demo.REGISTRY:
        imported = run(env, "import", kind, str(demo.DIRECTORY / name))
        if imported.returncode != 0:
            raise SystemExit(f"importing the Example Net {kind} failed:\n{imported.stderr}")
    ingested = run(env, "ingest", "--json", *map(str, files))
    by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in ingested.stdout.splitlines():
        outcome = json.loads(line)
        by_file[outcome["file"]].append(outcome)
    failed = 0
    for path in files:
        lines = by_file[str(path)]
        found, notes = problems(path, lines)
        failed += bool(found)
        first = lines[0] if lines else {}
        summary = f"{first.get('source_format', '-')} x{len(lines)} {first.get('source_ip', '-')}"
        print(f"{'FAIL' if found else 'ok  '} {path.relative_to(args.folder)}: {summary}")
        for problem in found:
            print(f"     {problem}")
        for note in notes:
            print(f"     note: {note}")
    complaints = sum("error" not in line for lines in by_file.values() for line in lines)
    print(f"{len(files)} files, {complaints} complaints, {failed} failed ({engine.dialect.name})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
