"""The abuse mailbox's SMTP listener, driven by a real client (smtplib) on a loopback port.

RFC 5321 §4.1.1.4: a 250 to the data means the server took responsibility for the message, so
the document must be committed before the client reads it; the listener must refuse what is too
big with 552 and go on serving whatever a client sends.
"""

from __future__ import annotations

import hashlib
import shutil
import smtplib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import COMPLAINTS, Clock, json_lines
from trustdesk.cases import runner
from trustdesk.cases.models import Case, CaseComplaint
from trustdesk.cases.policy import load_policy
from trustdesk.cases.service import case_opener
from trustdesk.db import unit_of_work
from trustdesk.intake.mailbox import AbuseMailbox, MailboxServer
from trustdesk.intake.models import Complaint, Document
from trustdesk.intake.service import store_document
from trustdesk.settings import Settings

SPAM = (COMPLAINTS / "static_direct.eml").read_bytes()
ARF = (COMPLAINTS / "arf_cgnat_port.eml").read_bytes()


@pytest.fixture
def mailbox(
    factory: sessionmaker[Session], settings: Settings, clock: Clock
) -> Iterator[MailboxServer]:
    settings.web.smtp_max_message_bytes = 200_000
    handler = AbuseMailbox(
        factory,
        settings,
        clock,
        after_record=lambda now: case_opener(
            load_policy(settings.policy_file), settings.provider, now, "smtp"
        ),
    )
    server = MailboxServer(handler, "127.0.0.1", 0)
    server.start()
    yield server
    server.stop()


def client(server: MailboxServer) -> smtplib.SMTP:
    smtp = smtplib.SMTP("127.0.0.1", server.port, timeout=30)
    smtp.ehlo("reporter.example")
    return smtp


def crlf(message: bytes) -> bytes:
    """What smtplib puts on the wire (and the listener stores): every line ending CRLF."""
    return b"\r\n".join(message.replace(b"\r\n", b"\n").split(b"\n"))


def send(server: MailboxServer, message: bytes) -> tuple[int, bytes]:
    with client(server) as smtp:
        smtp.mail("reporter@recipient.example")
        smtp.rcpt("abuse@example.net")
        return smtp.data(message)


def documents(factory: sessionmaker[Session]) -> list[Document]:
    with unit_of_work(factory) as session:
        rows = list(session.scalars(select(Document).order_by(Document.id)))
        session.expunge_all()
        return rows


def count(factory: sessionmaker[Session], model: type) -> int:
    with unit_of_work(factory) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def processed(server: MailboxServer) -> None:
    server.mailbox.waiting.join()


def test_250_comes_only_after_the_document_is_committed(
    mailbox: MailboxServer, factory: sessionmaker[Session]
) -> None:
    with client(mailbox) as smtp:
        smtp.mail("reporter@recipient.example")
        smtp.rcpt("abuse@example.net")
        code, reply = smtp.data(SPAM)
        # Read from another connection the moment the client holds the 250: it is committed.
        with unit_of_work(factory) as session:
            stored = session.scalars(
                select(Document).where(Document.sha256 == hashlib.sha256(crlf(SPAM)).hexdigest())
            ).one()
            assert stored.content == crlf(SPAM)
            assert stored.filename == "smtp:127.0.0.1"
    assert code == 250
    assert f"stored as document {stored.id}".encode() in reply


@pytest.mark.usefixtures("examplenet")
def test_a_mailed_complaint_is_attributed_and_opens_its_case(
    mailbox: MailboxServer, factory: sessionmaker[Session]
) -> None:
    assert send(mailbox, SPAM)[0] == 250
    processed(mailbox)
    [document] = documents(factory)
    assert document.status == "parsed"
    with unit_of_work(factory) as session:
        complaint = session.scalars(select(Complaint)).one()
        assert (complaint.kind, complaint.subscriber_id) == ("spam", "C2001")
        case = session.get_one(Case, session.get_one(CaseComplaint, complaint.id).case_id)
        assert case.workflow == "spam"


@pytest.mark.usefixtures("examplenet")
def test_the_same_message_twice_is_one_complaint(
    mailbox: MailboxServer, factory: sessionmaker[Session]
) -> None:
    assert send(mailbox, ARF)[0] == 250
    assert send(mailbox, ARF)[0] == 250  # the same bytes: the same document
    processed(mailbox)
    # Re-delivered through one more relay: new bytes, the same complaint (its Message-ID).
    relayed = b"Received: from relay.example (relay.example [192.0.2.7]) by mx.example.net;\r\n"
    relayed += b" Tue, 20 Oct 2026 13:05:00 +0900\r\n" + ARF
    assert send(mailbox, relayed)[0] == 250
    processed(mailbox)
    assert len(documents(factory)) == 2
    assert count(factory, Complaint) == 1
    assert count(factory, Case) == 1


def test_mail_over_the_size_limit_gets_552_and_is_not_stored(
    mailbox: MailboxServer, factory: sessionmaker[Session]
) -> None:
    big = SPAM + b"\r\n" + (b"x" * 998 + b"\r\n") * 300
    with client(mailbox) as smtp:
        assert smtp.has_extn("size")
        assert int(smtp.esmtp_features["size"]) == 200_000
        # A client that declares the size (smtplib does) is refused before it sends the data.
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            smtp.sendmail("reporter@recipient.example", ["abuse@example.net"], big)
        assert refused.value.smtp_code == 552
        smtp.rset()
        # One that does not declare it is refused after the data.
        smtp.mail("reporter@recipient.example")
        smtp.rcpt("abuse@example.net")
        code, _ = smtp.data(big)
        assert code == 552
        # The session goes on.
        smtp.rset()
        smtp.mail("reporter@recipient.example")
        smtp.rcpt("abuse@example.net")
        assert smtp.data(SPAM)[0] == 250
    assert [d.size for d in documents(factory)] == [len(crlf(SPAM))]


def raw_session(server: MailboxServer, *chunks: bytes, close_early: bool = False) -> bytes:
    """Talk to the listener over a bare socket: what no well-behaved client would send. Ends
    with QUIT and reads every answer, unless the client hangs up early."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        for chunk in chunks:
            sock.sendall(chunk)
        if close_early:
            return b""
        sock.sendall(b"QUIT\r\n")
        answers = []
        while data := sock.recv(65536):
            answers.append(data)
        return b"".join(answers)


def test_garbage_ends_at_worst_its_own_session(
    mailbox: MailboxServer, factory: sessionmaker[Session]
) -> None:
    answer = raw_session(mailbox, b"\x00\xff\xfe garbage \x1b[31m\r\n", b"HELO\r\n")
    assert b"500" in answer and b"501" in answer
    assert b"500" in raw_session(mailbox, b"EHLO " + b"a" * 100_000 + b"\r\n")
    raw_session(
        mailbox,
        b"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<abuse@example.net>\r\nDATA\r\nSubject: cut off\r\n",
        close_early=True,
    )  # gone in the middle of DATA
    raw_session(mailbox, b"EHLO x\r\n", close_early=True)
    # Bare LF, 8-bit bytes, NUL bytes and a huge header: stored, then parsed or kept as failed.
    ugly = (
        b"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<abuse@example.net>\r\nDATA\r\n"
        b"Subject: \xff\xfe 8-bit \x00 and NUL\nX-Long: "
        + b"h"
        * 20_000
        + b"\n\nbody\n\x00\x01\r\n"
        b".\r\n"
    )
    assert b"250 2.0.0 Ok: stored" in raw_session(mailbox, ugly)
    processed(mailbox)
    [document] = documents(factory)
    assert b"\x00" in document.content and b"h" * 20_000 in document.content
    assert document.status in {"parsed", "failed"}
    # And a well-formed complaint right after is served as usual.
    assert send(mailbox, SPAM)[0] == 250


def test_a_line_over_the_limit_is_refused_without_storing(
    mailbox: MailboxServer, factory: sessionmaker[Session]
) -> None:
    line = b"Subject: " + b"y" * 100_000 + b"\r\n\r\nbody\r\n"  # under the size limit
    code, _ = send(mailbox, line)
    assert code == 500
    assert documents(factory) == []


def test_a_mail_left_pending_is_finished_by_the_worker_after_a_minute(
    factory: sessionmaker[Session], settings: Settings, clock: Clock
) -> None:
    """A crash between the 250 and the parsing: the tick picks the document up, not sooner."""
    with unit_of_work(factory) as session:
        stored = store_document(session, SPAM, "smtp:192.0.2.1", clock.now, 10**6).id
    assert runner.tick(factory, settings, clock.now + timedelta(seconds=30)).retried == 0
    assert documents(factory)[0].status == "pending"
    assert runner.tick(factory, settings, clock.now + timedelta(minutes=2)).retried == 1
    [document] = documents(factory)
    assert (document.id, document.status) == (stored, "parsed")


PRODUCTION_KEY = "a production secret of more than 32 characters"


def test_ingest_dash_reads_one_message_from_an_mta_pipe(
    factory: sessionmaker[Session], database_url: str
) -> None:
    """What an MTA's pipe transport runs (e.g. Postfix ``pipe argv=trustdesk ingest -``)."""
    trustdesk = shutil.which("trustdesk", path=str(Path(sys.executable).parent))
    assert trustdesk is not None
    env = {"TRUSTDESK_DATABASE_URL": database_url, "PATH": str(Path(sys.executable).parent)}
    env["TRUSTDESK_FRAUD__HASH_KEY"] = PRODUCTION_KEY  # a production install, as deployed
    env["TRUSTDESK_CONFIG"] = str(COMPLAINTS.parent / "trustdesk.toml")
    done = subprocess.run(
        [trustdesk, "ingest", "--json", "-"], input=ARF, env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    [line] = json_lines(done.stdout.decode())
    assert line["kind"] == "spam" and line["duplicate"] is False
    assert documents(factory)[0].content == ARF


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    """Until the server listens on ``port`` (bounded: the process dying or 60 tries fail)."""
    for _ in range(60):
        assert process.poll() is None, process.communicate()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"nothing listens on {port}")


def test_serve_runs_the_mailbox_beside_the_web_server(
    factory: sessionmaker[Session], database_url: str
) -> None:
    """``trustdesk serve [--host H] [--port P] [--smtp-port Q]``, as an operator starts it."""
    trustdesk = shutil.which("trustdesk", path=str(Path(sys.executable).parent))
    assert trustdesk is not None
    web, smtp = free_port(), free_port()
    env = {"TRUSTDESK_DATABASE_URL": database_url, "PATH": str(Path(sys.executable).parent)}
    env["TRUSTDESK_FRAUD__HASH_KEY"] = PRODUCTION_KEY  # a production install, as deployed
    command = [trustdesk, "serve", "--host", "127.0.0.1", "--port", str(web)]
    server = subprocess.Popen([*command, "--smtp-port", str(smtp)], env=env)
    try:
        wait_for(smtp, server)
        wait_for(web, server)
        with smtplib.SMTP("127.0.0.1", smtp, timeout=30) as client:
            client.sendmail("reporter@recipient.example", ["abuse@example.net"], ARF)
        assert documents(factory)[0].content.startswith(ARF.rstrip())  # stored before the 250
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/forms/spam", timeout=30) as page:
            assert "迷惑メールの申告" in page.read().decode()
    finally:
        server.terminate()
        server.wait(timeout=30)
