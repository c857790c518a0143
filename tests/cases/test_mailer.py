"""The mailer against a real SMTP server (aiosmtpd on 127.0.0.1), never a mocked smtplib."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pydantic import ValidationError

from tests.smtpd import EphemeralController
from trustdesk.cases.mailer import DeliveryError, build_message, send
from trustdesk.cases.notices import NoticeContext, RenderedNotice, render
from trustdesk.settings import SmtpSettings
from trustdesk.timeutil import JST

TO = "yamada.taro@subscriber.example"
FROM = "abuse@example.net"


class Inbox:
    """Accepts everything and keeps the envelopes."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 2.0.0 Ok: queued"


class RefuseRecipients(Inbox):
    """Answers RCPT TO with ``reply`` for the addresses in ``refused`` (all when empty)."""

    def __init__(self, reply: str, refused: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.reply, self.refused = reply, refused

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refused and address not in self.refused:
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 Ok"
        return self.reply


class RefuseData(Inbox):
    def __init__(self, reply: str) -> None:
        super().__init__()
        self.reply = reply

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return self.reply


StartServer = Callable[..., SmtpSettings]


@pytest.fixture
def smtp_server() -> Iterator[StartServer]:
    """Start a real SMTP server with a handler; returns the settings that reach it."""
    controllers: list[EphemeralController] = []

    def start(handler: Inbox, **smtp_options: Any) -> SmtpSettings:
        controller = EphemeralController(handler, **smtp_options)
        controller.start()
        controllers.append(controller)
        return SmtpSettings(host="127.0.0.1", port=controller.port, timeout=5)

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: connecting is refused, and no one else can take it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def notice(
    lang: str = "ja", url: str | None = "https://shop.example.jp/review/42"
) -> RenderedNotice:
    context = NoticeContext(
        provider_name="Example Net",
        abuse_mailbox=FROM,
        case_reference="TD-000123",
        recipient_name="山田 太郎",
        deadline_at=datetime(2026, 10, 23, 15, 0, tzinfo=JST),
        kind="spam",
        category="spam",
        source_ip="203.0.113.5",
        source_port=None,
        observed_at=datetime(2026, 10, 20, 6, 0, 7, tzinfo=JST),
        url=url,
        information=None,
        infringed_right=None,
        reason=None,
    )
    return render("spam.report_demanded", lang, context)


def message(to: str = TO, rendered: RenderedNotice | None = None) -> EmailMessage:
    return build_message(
        rendered or notice(),
        to=to,
        from_address=FROM,
        message_id="TD-000123.7@example.net",
        in_reply_to="<complaint-4711@mx.example.org>",
    )


def test_a_japanese_notice_arrives_intact(smtp_server: StartServer) -> None:
    inbox = Inbox()
    rendered = notice()
    send(message(rendered=rendered), smtp_server(inbox))

    [envelope] = inbox.envelopes
    assert envelope.mail_from == FROM
    assert envelope.rcpt_tos == [TO]
    raw = envelope.content
    assert isinstance(raw, bytes)
    assert raw.isascii(), "RFC 2047 subject and base64 body: any relay carries the notice"
    assert b"Subject: [TD-000123] =?utf-8?" in raw
    arrived = message_from_bytes(raw, policy=policy.default)
    assert isinstance(arrived, EmailMessage)
    assert arrived["Subject"] == rendered.subject
    assert arrived.get_content_type() == "text/plain"
    assert arrived.get_content_charset() == "utf-8"
    assert arrived.get_content() == rendered.body
    assert "2026年10月23日 15時00分 (JST)" in arrived.get_content()
    assert arrived["From"] == FROM and arrived["To"] == TO
    assert arrived["Message-ID"] == "<TD-000123.7@example.net>"
    assert arrived["In-Reply-To"] == "<complaint-4711@mx.example.org>"
    assert arrived["References"] == "<complaint-4711@mx.example.org>"
    assert arrived["Auto-Submitted"] == "auto-generated"
    assert arrived["Content-Language"] == "ja"
    sent_at = parsedate_to_datetime(arrived["Date"])
    assert sent_at.utcoffset() == timedelta(hours=9)
    assert abs(datetime.now(JST) - sent_at) < timedelta(minutes=1)


def test_an_injected_header_in_the_url_never_becomes_one(smtp_server: StartServer) -> None:
    inbox = Inbox()
    rendered = notice(url="https://x.example/\r\nBcc: evil@attacker.example\r\n\r\nforged")
    send(message(rendered=rendered), smtp_server(inbox))

    [envelope] = inbox.envelopes
    assert envelope.rcpt_tos == [TO]
    arrived = message_from_bytes(envelope.content, policy=policy.default)
    assert "Bcc" not in arrived
    assert set(arrived.keys()) == {
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Auto-Submitted",
        "Content-Language",
        "Content-Type",
        "Content-Transfer-Encoding",
        "MIME-Version",
    }


@pytest.mark.parametrize(
    "to",
    [
        "yamada@subscriber.example\r\nBcc: evil@attacker.example",
        "yamada@subscriber.example, evil@attacker.example",
        "not an address",
        "",
    ],
)
def test_a_recipient_that_is_not_one_address_is_refused(to: str) -> None:
    with pytest.raises(ValueError):
        message(to=to)


def test_a_malformed_message_id_is_refused() -> None:
    with pytest.raises(ValueError, match="Message-ID"):
        build_message(notice(), TO, FROM, "TD-000123 7")


def test_a_permanent_refusal_is_not_temporary(smtp_server: StartServer) -> None:
    server = smtp_server(RefuseRecipients("550 5.1.1 <yamada.taro@subscriber.example>: unknown"))
    with pytest.raises(DeliveryError) as caught:
        send(message(), server)
    assert caught.value.temporary is False
    assert caught.value.code == 550
    assert "550 5.1.1" in str(caught.value) and "unknown" in str(caught.value)


def test_a_4xx_is_a_temporary_failure(smtp_server: StartServer) -> None:
    server = smtp_server(RefuseData("451 4.3.0 Try again later"))
    with pytest.raises(DeliveryError) as caught:
        send(message(), server)
    assert caught.value.temporary is True
    assert caught.value.code == 451
    assert "refused the message: 451 4.3.0 Try again later" in str(caught.value)


def test_a_recipient_refused_among_several_fails_the_delivery(smtp_server: StartServer) -> None:
    inbox = RefuseRecipients("550 5.7.1 relaying denied", frozenset({"other@elsewhere.example"}))
    mail = message()
    mail["Cc"] = "other@elsewhere.example"
    with pytest.raises(DeliveryError) as caught:
        send(mail, smtp_server(inbox))
    assert "other@elsewhere.example: 550 5.7.1 relaying denied" in str(caught.value)
    assert caught.value.temporary is False


def test_nothing_listening_is_a_delivery_error(closed_port: int) -> None:
    with pytest.raises(DeliveryError) as caught:
        send(message(), SmtpSettings(host="127.0.0.1", port=closed_port, timeout=5))
    assert f"127.0.0.1:{closed_port}" in str(caught.value)
    assert "refused" in str(caught.value).lower()
    assert caught.value.temporary is True


def test_a_silent_server_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(DeliveryError) as caught:
            send(message(), SmtpSettings(host="127.0.0.1", port=port, timeout=0.5))
    assert caught.value.temporary is True


def test_an_unconfigured_relay_is_an_error_not_a_silent_drop() -> None:
    with pytest.raises(DeliveryError, match="smtp.host") as caught:
        send(message(), SmtpSettings())
    assert caught.value.temporary is False


def test_starttls_required_but_not_offered_needs_an_operator(smtp_server: StartServer) -> None:
    server = smtp_server(Inbox()).model_copy(update={"starttls": True})
    with pytest.raises(DeliveryError, match="STARTTLS") as caught:
        send(message(), server)
    assert caught.value.temporary is False


@pytest.fixture
def tls_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1 that the client trusts (SSL_CERT_FILE is read by
    ssl.create_default_context); returns the server's TLS context."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def accept_only(login: str, password: str) -> Callable[..., AuthResult]:
    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: LoginPassword
    ) -> AuthResult:
        accepted = (data.login, data.password) == (login.encode(), password.encode())
        # handled=False: aiosmtpd itself answers a refusal with 535
        return AuthResult(success=accepted, handled=False)

    return authenticate


def tls_server(
    smtp_server: StartServer, tls: ssl.SSLContext, inbox: Inbox, password: str
) -> SmtpSettings:
    settings = smtp_server(
        inbox,
        tls_context=tls,
        require_starttls=True,
        authenticator=accept_only("notices", "s3cret"),
        auth_require_tls=True,
        auth_required=True,
    )
    return SmtpSettings(
        host=settings.host,
        port=settings.port,
        timeout=settings.timeout,
        starttls=True,
        username="notices",
        password=password,
    )


def test_starttls_and_login(smtp_server: StartServer, tls_certificate: ssl.SSLContext) -> None:
    inbox = Inbox()
    send(message(), tls_server(smtp_server, tls_certificate, inbox, "s3cret"))
    [envelope] = inbox.envelopes
    assert envelope.rcpt_tos == [TO]


def test_a_wrong_password_is_a_permanent_failure(
    smtp_server: StartServer, tls_certificate: ssl.SSLContext
) -> None:
    server = tls_server(smtp_server, tls_certificate, Inbox(), "wrong")
    with pytest.raises(DeliveryError, match="refused the login: 535") as caught:
        send(message(), server)
    assert caught.value.temporary is False
    assert "wrong" not in str(caught.value)


def test_an_untrusted_certificate_needs_an_operator(
    smtp_server: StartServer, tls_certificate: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = tls_server(smtp_server, tls_certificate, Inbox(), "s3cret")
    monkeypatch.delenv("SSL_CERT_FILE")
    with pytest.raises(DeliveryError, match="untrusted certificate") as caught:
        send(message(), server)
    assert caught.value.temporary is False


def test_half_a_login_is_a_configuration_error() -> None:
    with pytest.raises(ValidationError, match="together"):
        SmtpSettings(host="relay.example.net", username="notices")


def test_the_password_stays_out_of_reprs() -> None:
    settings = SmtpSettings(host="relay.example.net", username="notices", password="s3cret")
    assert "s3cret" not in repr(settings)
