"""Complaints from outside per second: the API, the public form and the SMTP listener.

    python bench/intake_load.py --db postgresql://postgres@127.0.0.1/td_bench --duration 20

Starts ``trustdesk serve --workers 2 --smtp-port Q`` on a fresh schema with the Example Net
registry, then drives it with real clients on loopback: ``wrk`` (Debian) with
``wrk_complaint.lua`` POSTing a new "other abuse" complaint per request to
``/api/v1/complaints`` (Bearer key from ``access.service.create_api_key``) and to
``/forms/abuse`` (double-submit CSRF token, the per-client rate limit lifted for the run); and
``--smtp-clients`` threads of smtplib, each on its own connection, sending unique complaint
mails (latency = MAIL FROM to the 250 after the data, i.e. until the mail is committed). Every
complaint is the whole path: stored, parsed, attributed, its case joined, audited, committed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from common import arguments, fresh_engine, latency_summary, machine
from sqlalchemy import func, select

from trustdesk import demo
from trustdesk.access.service import create_api_key
from trustdesk.attribution.importing import import_lines
from trustdesk.db import session_factory, unit_of_work
from trustdesk.intake.models import Complaint, Document

HERE = Path(__file__).parent
MAIL = (demo.DIRECTORY / "complaints" / "arf_cgnat_port.eml").read_bytes()
TOKEN = "bench-form-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int) -> None:
    for _ in range(120):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the server did not listen on {port}")


def run_wrk(mode: str, port: int, key: str, args: argparse.Namespace) -> str:
    env = os.environ | {"BENCH_MODE": mode, "BENCH_KEY": key, "BENCH_TOKEN": TOKEN}
    done = subprocess.run(
        [
            "wrk",
            f"-t{args.threads}",
            f"-c{args.connections}",
            f"-d{args.duration}s",
            "--timeout",
            "30s",
            "-s",
            str(HERE / "wrk_complaint.lua"),
            f"http://127.0.0.1:{port}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(row for row in done.stdout.splitlines() if row.startswith("RESULT"))
    requests, seconds, p50, p99, bad_status, socket_errors = line.split()[1:]
    return (
        f"{int(requests) / float(seconds):,.1f} complaints/s, p50 {float(p50):.1f} ms, "
        f"p99 {float(p99):.1f} ms ({requests} requests, {bad_status} non-2xx, "
        f"{socket_errors} socket errors)"
    )


def run_smtp(port: int, clients: int, per_client: int) -> tuple[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        mine = []
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            for n in range(per_client):
                mail = MAIL.replace(b"Message-ID: <", f"Message-ID: <{number}.{n}.".encode(), 1)
                started = time.perf_counter()
                smtp.sendmail("fbl@recipient.example", ["abuse@example.net"], mail)
                mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    begin = time.perf_counter()
    workers = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - begin
    return (
        f"{len(latencies) / elapsed:,.1f} mails/s accepted, {latency_summary(latencies)} "
        f"to the 250 ({len(latencies)} mails, {clients} connections)"
    ), begin


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--duration", type=int, default=20, help="seconds of each wrk run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--smtp-clients", type=int, default=8)
    parser.add_argument("--smtp-mails", type=int, default=100, help="mails per SMTP client")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    engine = fresh_engine(args.db)
    factory = session_factory(engine)
    now = datetime.now(UTC)
    with unit_of_work(factory) as session:
        for kind, name in demo.REGISTRY:
            import_lines(session, kind, (demo.DIRECTORY / name).read_text(encoding="utf-8"), name)
        _, key = create_api_key(session, "bench", "operator", now, actor="bench")
    web, smtp = free_port(), free_port()
    env = os.environ | {
        "TRUSTDESK_DATABASE_URL": str(engine.url.render_as_string(hide_password=False)),
        "TRUSTDESK_CONFIG": str(demo.CONFIG),
        "TRUSTDESK_WEB__FORM_SUBMISSIONS_PER_CLIENT": str(10**9),
    }
    trustdesk = Path(sys.executable).parent / "trustdesk"
    command = [str(trustdesk), "serve", "--workers", "2", "--port", str(web)]
    server = subprocess.Popen([*command, "--smtp-port", str(smtp)], env=env)
    try:
        wait_for(web)
        wait_for(smtp)
        time.sleep(2)  # both workers up
        print(f"API  POST /api/v1/complaints: {run_wrk('api', web, key, args)}")
        print(f"form POST /forms/abuse:       {run_wrk('form', web, key, args)}")
        accepted, begin = run_smtp(smtp, args.smtp_clients, args.smtp_mails)
        print(f"SMTP: {accepted}")
        expected = args.smtp_clients * args.smtp_mails
        while True:  # the listener parses and records behind the 250s
            with unit_of_work(factory) as session:
                pending = session.scalar(
                    select(func.count()).select_from(Document).where(Document.status == "pending")
                )
            if not pending:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - begin
        with unit_of_work(factory) as session:
            complaints = session.scalar(select(func.count()).select_from(Complaint))
        print(
            f"SMTP: {expected / elapsed:,.1f} mails/s recorded (all {expected} parsed, "
            f"attributed, cased in {elapsed:.1f} s); {complaints} complaints in all"
        )
        print(f"{engine.dialect.name}, 2 uvicorn workers; {machine()}")
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
