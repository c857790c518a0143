"""The abuse mailbox: an SMTP listener (aiosmtpd) that keeps every complaint mail it accepts.

An SMTP server takes responsibility for a message when it answers 250 to its data (RFC 5321
§4.1.1.4), so the raw message is committed (``intake.service.store_document``, its own
transaction) before that answer, and a failure to store answers 451 so that the sending MTA
tries again. Parsing, attribution and opening cases happen afterwards on a worker thread,
outside the SMTP transaction: a slow attribution never holds a sender's connection, and a crash
leaves the document ``pending`` for ``trustdesk intake retry`` or the worker's tick.

What is refused at the protocol level: mail over ``web.smtp_max_message_bytes`` (SIZE is
advertised; larger data gets 552 and nothing is stored) and lines over ``LINE_LIMIT``. Garbage
commands, bare LF, 8-bit and NUL bytes and early disconnects end, at worst, one session.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from trustdesk.db import unit_of_work
from trustdesk.intake.service import (
    AfterRecord,
    ClaimDocument,
    DocumentTooLarge,
    process,
    store_document,
)
from trustdesk.settings import Settings

log = logging.getLogger(__name__)

# RFC 5321 §4.5.3.1.6 allows 1000 octets a line, but forwarded spam and machine reports break
# that often enough that refusing them would lose complaints; this bounds memory instead.
LINE_LIMIT = 64 * 1024
QUEUE_LIMIT = 1000  # stored mails waiting to be parsed; beyond it the worker's tick picks them up
ACTOR = "smtp"


@dataclass(frozen=True)
class StoredMail:
    document_id: int
    content: bytes
    label: str
    pending: bool  # False when the same bytes were stored and parsed before


class _MailboxSMTP(SMTP):  # type: ignore[misc]
    line_length_limit = LINE_LIMIT


class AbuseMailbox:
    """The aiosmtpd handler: store, answer, queue for parsing."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        clock: Callable[[], datetime],
        after_record: Callable[[datetime], AfterRecord] | None = None,
        after_processing: Callable[[datetime], object] | None = None,
        claim: Callable[[datetime], ClaimDocument] | None = None,
    ) -> None:
        """``after_record(now)`` gives the hook intake runs in its recording transaction (e.g.
        ``cases.service.case_opener``); ``claim(now)`` the one that takes a reply to a notice
        before it is parsed as a complaint (``cases.service.reply_claimer``);
        ``after_processing(now)`` runs once a mail is recorded (e.g. delivering the outbox)."""
        self.factory, self.settings, self.clock = factory, settings, clock
        self.after_record, self.after_processing = after_record, after_processing
        self.claim = claim
        self.waiting: queue.Queue[StoredMail | None] = queue.Queue(QUEUE_LIMIT)
        self._worker = threading.Thread(target=self._work, name="trustdesk-mailbox", daemon=True)
        self._worker.start()

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        loop = asyncio.get_running_loop()
        try:
            stored = await loop.run_in_executor(None, self.store, content, f"smtp:{peer}")
        except DocumentTooLarge:
            return "552 5.3.4 Message too big for the abuse mailbox"
        except Exception:  # the database is down or refused: the sender must keep the mail
            log.exception("abuse mailbox: could not store a message from %s", peer)
            return "451 4.3.0 Message not stored; please try again later"
        if stored.pending:
            try:
                self.waiting.put_nowait(stored)
            except queue.Full:
                log.warning(
                    "abuse mailbox: queue full; document %s waits for the worker",
                    stored.document_id,
                )
        return f"250 2.0.0 Ok: stored as document {stored.document_id}"

    def store(self, content: bytes, label: str) -> StoredMail:
        """Commit the raw message; the same bytes twice are one document."""
        limit = self.settings.intake.max_document_bytes
        for attempt in range(2):
            try:
                with unit_of_work(self.factory) as session:
                    document = store_document(session, content, label, self.clock(), limit)
                    return StoredMail(
                        document.id, content, label, pending=document.status == "pending"
                    )
            except IntegrityError:  # the same bytes stored at this moment by another session
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def process(self, mail: StoredMail) -> None:
        """Parse, attribute and record one stored mail (each step its own transaction)."""
        now = self.clock()
        hook = self.after_record(now) if self.after_record else None
        process(
            self.factory,
            self.settings,
            mail.document_id,
            mail.content,
            mail.label,
            mail.label,
            now,
            ACTOR,
            hook,
            self.claim(now) if self.claim else None,
        )
        if self.after_processing is not None:
            self.after_processing(now)

    def close(self) -> None:
        """Let the worker finish what is queued, then stop it."""
        self.waiting.put(None)
        self._worker.join()

    def _work(self) -> None:
        """One mail at a time (``waiting.join()`` returns once all queued are done)."""
        while (mail := self.waiting.get()) is not None:
            try:
                self.process(mail)
            except Exception:  # the document stays pending; the worker's tick retries it
                log.exception("abuse mailbox: document %s left pending", mail.document_id)
            finally:
                self.waiting.task_done()
        self.waiting.task_done()


class MailboxServer(Controller):  # type: ignore[misc]
    """The listener: aiosmtpd's Controller (its own thread and event loop) around the mailbox.

    ``port=0`` lets the system pick a free port (tests); ``port`` holds it once started.
    """

    def __init__(self, mailbox: AbuseMailbox, host: str, port: int, **options: Any) -> None:
        provider = mailbox.settings.provider
        super().__init__(
            mailbox,
            hostname=host,
            port=port,
            server_hostname=provider.abuse_mailbox.rpartition("@")[2] or None,
            data_size_limit=mailbox.settings.web.smtp_max_message_bytes,
            enable_SMTPUTF8=True,
            ident="trustdesk abuse mailbox",
            **options,
        )
        self.mailbox = mailbox

    def factory(self) -> SMTP:
        return _MailboxSMTP(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)  # called once it is listening
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

    def stop(self, no_assert: bool = False) -> None:
        super().stop(no_assert)
        self.mailbox.close()
