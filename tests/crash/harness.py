"""The crash harness (issue 17): complaints over SMTP and the API to real trustdesk processes,
killed with SIGKILL at random moments and restarted, then the promises checked.

Shared by the short CI run (``tests/crash/test_crash.py``) and the long run by hand
(``bench/crash.py``). On SQLite one ``trustdesk serve`` (SMTP listener, in-process worker); on
PostgreSQL two ``serve --no-worker`` (each with its own SMTP listener) and two ``worker``.

1. *Intake under fire*: client threads send unique complaints (forwarded spam over SMTP, abuse
   reports as JSON to ``POST /api/v1/complaints``) about the run's subscribers, each retried like
   an MTA until it is acknowledged (SMTP 250, HTTP 2xx), while a killer thread SIGKILLs a random
   process every few seconds and starts it again.
2. *Timers under fire*: ``trustdesk --now T tick`` runs (T past every case's deadline) are
   started and killed at random beside the killed servers and workers, so deadlines, their
   notices and their enforcement actions are cut off mid-way.
3. *Recovery*: everything stopped, one ``--now T' tick`` (after the leases and the intake
   grace) finishes what the crashes left; then the checks.

The relay is an aiosmtpd in this process counting Message-IDs; provisioning is a command that
appends each idempotency key it is handed to a file and carries out (records in ``effects``) a
key only once, under a file lock, as a receiver that dedupes would.
"""

from __future__ import annotations

import email
import hashlib
import http.client
import json
import os
import random
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.policy import default
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import Envelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy import func, select

from tests.smtpd import EphemeralController
from trustdesk import db, demo
from trustdesk.access.service import create_api_key
from trustdesk.attribution.importing import import_lines
from trustdesk.cases.models import Case, EnforcementAction, Notice
from trustdesk.cases.provisioning import idempotency_key
from trustdesk.intake.models import Complaint, Document

CONFIG = demo.DIRECTORY / "trustdesk.toml"
SPAM = (demo.DIRECTORY / "complaints" / "static_direct.eml").read_bytes()
NETWORK = "198.51.100"  # the demo configuration's provider network: a subscriber per address
# Notices a case sends once: a second one is a step taken twice (a duplicate decision).
ONCE_PER_CASE = ("spam.report_demanded", "spam.suspended", "abuse.ask_stop")

# The provisioning command: logs every hand-over (calls), carries out a key once (effects).
PROVISIONING = """
import fcntl, json, os, pathlib, sys
here = pathlib.Path(sys.argv[1])
action = json.load(sys.stdin)
key = os.environ["TRUSTDESK_IDEMPOTENCY_KEY"]
call = {"key": key, "action_id": action["action_id"], "body_key": action["idempotency_key"]}
with (here / "provisioning.lock").open("a") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    with (here / "calls.jsonl").open("a") as calls:
        calls.write(json.dumps(call) + "\\n")
    effects = here / "effects.txt"
    done = set(effects.read_text().split()) if effects.exists() else set()
    if key not in done:
        with effects.open("a") as out:
            out.write(key + "\\n")
"""


@dataclass
class Plan:
    """How big a run is; the seed makes the kills (and the complaints' order) repeatable."""

    database_url: str
    workdir: Path
    seed: int
    complaints: int = 200
    kills: int = 4
    subscribers: int = 60
    clients: int = 4  # half SMTP, half API
    kill_every: tuple[float, float] = (2.0, 6.0)  # seconds between kills, drawn uniformly
    timer_ticks: int = 2  # ``--now T tick`` runs started (and perhaps killed) in phase 2

    @property
    def postgres(self) -> bool:
        return self.database_url.startswith("postgresql")


@dataclass
class Findings:
    """What the run saw: figures, and problems (a promise broken), each saying whose area."""

    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # not a broken promise, but worth a look

    def summary(self, plan: Plan) -> str:
        lines = [f"crash harness, seed {plan.seed}, {'PostgreSQL' if plan.postgres else 'SQLite'}"]
        lines += [f"  {name}: {value}" for name, value in self.figures.items()]
        lines += [f"  note: {note}" for note in self.notes]
        lines += [f"  PROBLEM: {problem}" for problem in self.problems] or ["  no problem"]
        return "\n".join(lines)


class Sink:
    """The relay notices go to: every Message-ID accepted, counted."""

    def __init__(self) -> None:
        self.message_ids: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: SmtpSession, envelope: Envelope) -> str:
        data = envelope.content if isinstance(envelope.content, bytes) else b""
        message_id = str(email.message_from_bytes(data, policy=default)["Message-ID"])
        with self.lock:
            self.message_ids[message_id] += 1
        return "250 OK"


@dataclass
class Sent:
    """One complaint to deliver: its bytes and how it goes."""

    channel: str  # smtp | api
    data: bytes
    acked: bool = False
    tries: int = 0
    answers: Counter[str] = field(default_factory=Counter)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Process:
    """A trustdesk process the killer may SIGKILL; ``start`` starts it (again)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.popen: subprocess.Popen[bytes] | None = None
        self.ports: list[int] = []

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.popen is not None
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> None:
        if self.alive():
            assert self.popen is not None
            self.popen.terminate()
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def trustdesk(*args: str) -> list[str]:
    return [sys.executable, "-c", "from trustdesk.cli import main; main()", *args]


class Run:
    """One run of the harness: ``Run(plan).execute()`` returns its findings."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.random = random.Random(plan.seed)
        self.findings = Findings()
        self.sink = Sink()
        self.started = datetime.now(UTC)
        self.stop_killing = threading.Event()
        self.kills = 0
        self.processes: list[Process] = []
        self.api_key = ""
        self.env: dict[str, str] = {}

    # -- set-up ----------------------------------------------------------------------------------

    def prepare(self, relay_port: int) -> None:
        """A fresh schema with the run's subscribers, an API key, the processes' environment."""
        engine = db.make_engine(self.plan.database_url)
        db.upgrade(engine)
        factory = db.session_factory(engine)
        subscribers = ["subscriber_id,name,email,plan,monthly_fee_yen,started_on,status"]
        assignments = ["subscriber_id,prefix,valid_from,valid_to"]
        for n in range(1, self.plan.subscribers + 1):
            subscribers.append(
                f"K{n:04d},加入者 {n},k{n}@members.example,static-ip,3300,2026-01-01,active"
            )
            assignments.append(f"K{n:04d},{NETWORK}.{n}/32,2026-01-01T00:00:00+09:00,")
        with db.unit_of_work(factory) as session:
            import_lines(session, "subscribers", iter(s + "\n" for s in subscribers), "s.csv")
            import_lines(session, "assignments", iter(a + "\n" for a in assignments), "a.csv")
            _, self.api_key = create_api_key(
                session, "crash", "operator", self.started, actor="crash-harness"
            )
        engine.dispose()
        here = self.plan.workdir
        (here / "provision.py").write_text(PROVISIONING)
        self.env = {
            **os.environ,
            "TRUSTDESK_DATABASE_URL": self.plan.database_url,
            "TRUSTDESK_CONFIG": str(CONFIG),
            "TRUSTDESK_SMTP__HOST": "127.0.0.1",
            "TRUSTDESK_SMTP__PORT": str(relay_port),
            "TRUSTDESK_SMTP__TIMEOUT": "5",
            "TRUSTDESK_SMTP__CLAIM_SECONDS": "15",
            "TRUSTDESK_PROVISIONING__COMMAND": json.dumps(
                [sys.executable, str(here / "provision.py"), str(here)]
            ),
            "TRUSTDESK_PROVISIONING__TIMEOUT": "10",
            "TRUSTDESK_PROVISIONING__CLAIM_SECONDS": "15",
            "TRUSTDESK_PROVISIONING__BACKOFF_SECONDS": "1",
        }

    def servers(self) -> None:
        """The processes under fire, started and listening."""
        log = self.plan.workdir / "processes.log"
        count = 2 if self.plan.postgres else 1
        for n in range(count):
            http_port, smtp_port = free_port(), free_port()
            worker = [] if not self.plan.postgres else ["--no-worker"]
            argv = trustdesk(
                "serve", "--port", str(http_port), "--smtp-port", str(smtp_port), *worker
            )
            process = Process(f"serve-{n}", argv, self.env, log)
            process.ports = [http_port, smtp_port]
            self.processes.append(process)
        if self.plan.postgres:
            for n in range(2):
                argv = trustdesk("worker", "--interval", "1")
                self.processes.append(Process(f"worker-{n}", argv, self.env, log))
        for process in self.processes:
            process.start()
        for process in self.processes:
            for port in process.ports:
                wait_for(port, 120)

    # -- phase 1: intake under fire --------------------------------------------------------------

    def complaints(self) -> list[Sent]:
        made = []
        for n in range(self.plan.complaints):
            subscriber = self.random.randint(1, self.plan.subscribers)
            when = self.started - timedelta(minutes=30 + n % 600)
            if n % 2 == 0:
                made.append(Sent("smtp", spam_mail(self.plan.seed, n, subscriber, when)))
            else:
                made.append(Sent("api", abuse_report(self.plan.seed, n, subscriber, when)))
        return made

    def deliver(self, items: list[Sent], until: float) -> None:
        """One client: each complaint retried until acknowledged (or time is up)."""
        for item in items:
            while not item.acked and time.monotonic() < until:
                item.tries += 1
                answer = self.send(item)
                item.answers[answer] += 1
                item.acked = answer in ("250", "200", "201", "202")  # 202: kept, recorded later
                if not item.acked:
                    time.sleep(0.2)

    def send(self, item: Sent) -> str:
        serves = [p for p in self.processes if p.ports]
        target = serves[self.random.randrange(len(serves))]
        http_port, smtp_port = target.ports
        try:
            if item.channel == "smtp":
                return send_mail(smtp_port, item.data)
            return post_complaint(http_port, self.api_key, item.data)
        except (OSError, smtplib.SMTPException, http.client.HTTPException) as exc:
            return type(exc).__name__

    def killer(self, kills: int) -> None:
        """SIGKILL a random process every few seconds and start it again, ``kills`` times."""
        for _ in range(kills):
            if self.stop_killing.wait(self.random.uniform(*self.plan.kill_every)):
                return
            victim = self.random.choice(self.processes)
            victim.kill()
            self.kills += 1
            time.sleep(self.random.uniform(0.0, 1.0))
            victim.start()
            for port in victim.ports:
                wait_for(port, 120)

    def intake_under_fire(self, budget: float) -> list[Sent]:
        items = self.complaints()
        until = time.monotonic() + budget
        clients = [
            threading.Thread(
                target=self.deliver, args=(items[n :: self.plan.clients], until), daemon=True
            )
            for n in range(self.plan.clients)
        ]
        killer = threading.Thread(target=self.killer, args=(self.plan.kills,), daemon=True)
        killer.start()
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        self.stop_killing.set()
        killer.join()
        self.stop_killing.clear()
        return items

    # -- phase 2: timers under fire --------------------------------------------------------------

    def timers_under_fire(self, due: datetime) -> None:
        """``--now due tick`` runs, some killed mid-way, while the killer goes on."""
        killer = threading.Thread(target=self.killer, args=(self.plan.kills // 2,), daemon=True)
        killer.start()
        for _ in range(self.plan.timer_ticks):
            tick = subprocess.Popen(
                trustdesk("--now", due.isoformat(), "tick"),
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                tick.wait(timeout=self.random.uniform(1.0, 8.0))
            except subprocess.TimeoutExpired:
                tick.send_signal(signal.SIGKILL)
                tick.wait()
                self.kills += 1
        self.stop_killing.set()
        killer.join()

    # -- phase 3: recovery and checks ------------------------------------------------------------

    def recover(self, at: datetime) -> str:
        """Everything stopped; the worker's tick at a moment past the leases and the intake
        grace, twice: what the first finishes of the crashed intake (last in a tick) opens
        cases whose notices the second delivers, as the next tick of a worker would."""
        for process in self.processes:
            process.stop()
        reports = []
        for _ in range(2):
            done = subprocess.run(
                trustdesk("--now", at.isoformat(), "tick", "--json"),
                env=self.env,
                capture_output=True,
                timeout=900,
                check=False,
            )
            if done.returncode != 0:
                self.findings.problems.append(f"a recovery tick failed: {done.stderr[-2000:]!r}")
            reports.append(done.stdout.decode().strip())
        return " then ".join(reports)

    def execute(self, budget: float = 120.0) -> Findings:
        """The three phases and the checks; ``budget`` bounds phase 1 in seconds."""
        controller = EphemeralController(self.sink)
        controller.start()
        begun = time.monotonic()
        try:
            self.prepare(controller.port)
            self.servers()
            items = self.intake_under_fire(budget)
            self.lap("intake seconds", begun)
            due = datetime.now(UTC) + timedelta(days=40)  # past every first deadline
            self.timers_under_fire(due)
            self.lap("timers seconds", begun)
            recovery = self.recover(due + timedelta(hours=1))
            self.lap("recovery seconds", begun)
            self.check(items, due + timedelta(hours=1), recovery)
        finally:
            for process in self.processes:
                process.stop()
            controller.stop()
        self.findings.figures["seconds"] = round(time.monotonic() - begun)
        return self.findings

    def lap(self, name: str, begun: float) -> None:
        """Seconds since the run began, at the end of a phase."""
        self.findings.figures[name] = round(time.monotonic() - begun)

    def check(self, items: list[Sent], at: datetime, recovery: str) -> None:
        engine = db.make_engine(self.plan.database_url)
        try:
            with db.unit_of_work(db.session_factory(engine)) as session:
                Checks(self, session, at).run(items, recovery)
        finally:
            engine.dispose()


class Checks:
    """The promises, read from the database, the relay and the provisioning's files."""

    def __init__(self, run: Run, session: Any, at: datetime) -> None:
        self.run_, self.session, self.at = run, session, at
        self.figures, self.problems = run.findings.figures, run.findings.problems

    def run(self, items: list[Sent], recovery: str) -> None:
        self.figures["processes"] = len(self.run_.processes)
        self.figures["kills"] = self.run_.kills
        self.acknowledged(items)
        self.notices()
        self.actions()
        self.timers()
        self.figures["recovery tick"] = recovery.strip()

    def acknowledged(self, items: list[Sent]) -> None:
        """Every acknowledged complaint stored, recorded, exactly once."""
        answers: Counter[str] = Counter()
        for item in items:
            answers.update({f"{item.channel} {a}": n for a, n in item.answers.items()})
        acked = [item for item in items if item.acked]
        self.figures["complaints"] = len(items)
        self.figures["acknowledged"] = len(acked)
        self.figures["answers"] = dict(sorted(answers.items()))
        refused = {a: n for a, n in answers.items() if a.split()[1] in ("451", "500", "503")}
        if refused:
            self.run_.findings.notes.append(
                f"answers that made a client try again: {refused} (on SQLite: 'database is "
                "locked', a write lock held past the busy timeout; see processes.log)"
            )
        if not acked:
            self.problems.append("no complaint was acknowledged (answers above)")
        elif len(acked) < len(items):  # refused all the time it had: nothing acknowledged lost
            self.run_.findings.notes.append(
                f"{len(items) - len(acked)} complaints not acknowledged within the run's budget"
            )
        documents = dict(self.session.execute(select(Document.sha256, Document.id)).all())
        per_document = dict(
            self.session.execute(
                select(Complaint.document_id, func.count()).group_by(Complaint.document_id)
            ).all()
        )
        statuses = Counter(self.session.scalars(select(Document.status)))
        self.figures["documents by status"] = dict(statuses)
        lost = [item for item in acked if item.sha256 not in documents]
        unrecorded = [
            item
            for item in acked
            if item.sha256 in documents and per_document.get(documents[item.sha256], 0) != 1
        ]
        if lost:
            self.problems.append(f"{len(lost)} acknowledged complaints are not stored")
        if unrecorded:
            counts = Counter(per_document.get(documents[i.sha256], 0) for i in unrecorded)
            self.problems.append(
                f"{len(unrecorded)} acknowledged complaints are not recorded exactly once "
                f"(complaints per document: {dict(counts)})"
            )
        if statuses.get("pending") or statuses.get("failed"):
            errors = Counter(
                self.session.scalars(select(Document.error).where(Document.status == "failed"))
            )
            self.problems.append(
                f"documents left pending/failed after recovery: {dict(statuses)}; "
                f"errors: {dict(errors.most_common(3))}"
            )

    def notices(self) -> None:
        """No notice twice under two Message-IDs; every sent one reached the relay."""
        rows = self.session.execute(
            select(Notice.id, Notice.case_id, Notice.template, Notice.status, Notice.message_id)
        ).all()
        received = self.run_.sink.message_ids
        known = {row.message_id for row in rows}
        self.figures["notices by status"] = dict(Counter(row.status for row in rows))
        self.figures["notices received by the relay"] = sum(received.values())
        self.figures["notices received again (same Message-ID)"] = sum(
            n - 1 for n in received.values() if n > 1
        )
        strangers = [mid for mid in received if mid not in known]
        if strangers:
            self.problems.append(f"the relay got {len(strangers)} Message-IDs of no notice")
        unsent = [r.id for r in rows if r.status == "sent" and r.message_id not in received]
        if unsent:
            self.problems.append(f"{len(unsent)} notices marked sent never reached the relay")
        if any(row.status == "pending" for row in rows):
            self.problems.append("notices still pending after recovery")
        steps = Counter(
            (row.case_id, row.template) for row in rows if row.template in ONCE_PER_CASE
        )
        twice = {key: n for key, n in steps.items() if n > 1}
        if twice:
            self.problems.append(
                f"{len(twice)} case notices written twice, under two Message-IDs (a step "
                f"taken twice: case row locks, `caselock`): {list(twice)[:5]}"
            )

    def actions(self) -> None:
        """Each action carried out once, by its one key; no action decided twice."""
        here = self.run_.plan.workdir
        calls = (
            [json.loads(line) for line in (here / "calls.jsonl").read_text().splitlines()]
            if (here / "calls.jsonl").exists()
            else []
        )
        effects = Counter((here / "effects.txt").read_text().split()) if calls else Counter()
        rows = self.session.execute(
            select(
                EnforcementAction.id,
                EnforcementAction.case_id,
                EnforcementAction.action,
                EnforcementAction.status,
            )
        ).all()
        self.figures["actions by status"] = dict(Counter(row.status for row in rows))
        self.figures["provisioning calls"] = len(calls)
        self.figures["provisioning calls again (same key)"] = len(calls) - len(effects)
        for call in calls:
            if call["key"] != idempotency_key(call["action_id"]) or call["body_key"] != call["key"]:
                self.problems.append(f"action {call['action_id']} handed over under another key")
        if any(n > 1 for n in effects.values()):
            self.problems.append("a key's effect was applied twice")
        undone = [r.id for r in rows if r.status == "done" and effects[idempotency_key(r.id)] != 1]
        if undone:
            self.problems.append(f"{len(undone)} actions marked done were never carried out")
        if any(row.status == "pending" for row in rows):
            self.problems.append("actions still pending after recovery")
        decided = Counter((row.case_id, row.action) for row in rows)
        twice = [key for key, n in decided.items() if n > 1]
        if twice:
            self.problems.append(
                f"{len(twice)} enforcement actions decided twice for one case (case row "
                f"locks, `caselock`): {twice[:5]}"
            )

    def timers(self) -> None:
        """No open case whose deadline passed is left unadvanced (a deadline waiting for its
        notice's hand-off has not started to run: the reply clock, docs/cases.md)."""
        cases = self.session.execute(
            select(Case.state, Case.closed, Case.deadline_at, Case.clock)
        ).all()
        self.figures["cases"] = len(cases)
        self.figures["cases by state"] = dict(Counter(case.state for case in cases))
        self.figures["cases whose notice was not delivered"] = sum(
            case.clock == "failed" for case in cases
        )
        overdue = [
            c
            for c in cases
            if not c.closed and c.clock is None and c.deadline_at and c.deadline_at <= self.at
        ]
        if overdue:
            states = Counter(case.state for case in overdue)
            self.problems.append(f"{len(overdue)} open cases overdue after recovery: {states}")


# -- the complaints and their clients -----------------------------------------------------------


def spam_mail(seed: int, n: int, subscriber: int, when: datetime) -> bytes:
    """A forwarded spam from the subscriber's address, unique by its Message-IDs."""
    stamp = format_datetime(when.astimezone(UTC)).encode()
    return (
        SPAM.replace(b"198.51.100.61", f"{NETWORK}.{subscriber}".encode())
        .replace(b"<fwd-h1@", f"<fwd-{seed}-{n}@".encode())
        .replace(b"<h1-spam-0001@", f"<spam-{seed}-{n}@".encode())
        .replace(b"Tue, 20 Oct 2026 11:20:04 +0900", stamp)
    )


def abuse_report(seed: int, n: int, subscriber: int, when: datetime) -> bytes:
    return json.dumps(
        {
            "kind": "abuse",
            "reporter": {"email": "soc@victim.example", "name": "SOC"},
            "ip": f"{NETWORK}.{subscriber}",
            "occurred_at": when.isoformat(timespec="minutes"),
            "category": "attack",
            "details": f"SSH brute force, run {seed} report {n}",
        },
        ensure_ascii=False,
    ).encode()


def send_mail(port: int, data: bytes) -> str:
    """The reply code to the data: 250 once the mail is stored."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        client.mail("mta@recipient.example")
        client.rcpt("abuse@example.net")
        try:
            code, _ = client.data(data)
        except smtplib.SMTPResponseException as refused:  # 451, 552...
            return str(refused.smtp_code)
        return str(code)


def post_complaint(port: int, key: str, data: bytes) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(
            "POST",
            "/api/v1/complaints",
            body=data,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        answer = connection.getresponse()
        answer.read()
        return str(answer.status)
    finally:
        connection.close()


def wait_for(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {seconds:g} s")
