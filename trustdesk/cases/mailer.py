"""Notices as e-mail, handed to the provider's SMTP relay.

The case workflows never send mail themselves (STYLE 3): a step queues a rendered notice and the
outbox delivers it after the commit, with ``build_message`` and ``send``. A notice is one UTF-8
text/plain message to one recipient, marked ``Auto-Submitted`` so that auto-responders stay
quiet while people can still reply (the reply finds its case by the reference in the subject).

``send`` turns every failure into ``DeliveryError`` saying what failed, with the relay's code and
text when it answered. ``temporary`` tells the outbox whether trying again later can succeed: a
4xx reply, or a relay that cannot be reached or drops the line. A 5xx refusal or a configuration
the relay does not support needs an operator instead.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from contextlib import suppress
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from trustdesk.cases.notices import RenderedNotice
from trustdesk.settings import SmtpSettings
from trustdesk.timeutil import JST

_MESSAGE_ID = re.compile(r"<?([^<>\s@]+@[^<>\s@]+)>?")
# What the relay refused, by the exception smtplib raises; the most specific class first.
_REFUSALS: tuple[tuple[type[smtplib.SMTPResponseException], str], ...] = (
    (smtplib.SMTPConnectError, "refused the connection"),
    (smtplib.SMTPHeloError, "refused EHLO"),
    (smtplib.SMTPAuthenticationError, "refused the login"),
    (smtplib.SMTPSenderRefused, "refused the sender"),
    (smtplib.SMTPDataError, "refused the message"),
    (smtplib.SMTPResponseException, "answered"),
)


class DeliveryError(Exception):
    """The relay did not accept a notice. ``temporary``: a later attempt may succeed;
    ``code``: the relay's reply code, when it gave one."""

    def __init__(self, message: str, *, temporary: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.code = code


def build_message(
    notice: RenderedNotice,
    to: str,
    from_address: str,
    message_id: str,
    in_reply_to: str | None = None,
) -> EmailMessage:
    """The notice as a message to exactly one recipient.

    Headers are set through the email package, which refuses CR or LF in a value and encodes a
    non-ASCII subject as RFC 2047 words; the body is base64 so that any relay carries it intact.
    ``in_reply_to`` threads the notice under the mail it answers. Raises ``ValueError`` for an
    address or Message-ID that is not one.
    """
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = to
    _one_address(message, "From")
    _one_address(message, "To")
    message["Subject"] = notice.subject
    message["Date"] = format_datetime(datetime.now(JST))
    message["Message-ID"] = _message_id(message_id)
    if in_reply_to is not None:
        message["In-Reply-To"] = _message_id(in_reply_to)
        message["References"] = _message_id(in_reply_to)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to notices
    message.set_content(notice.body, subtype="plain", charset="utf-8", cte="base64")
    message["Content-Language"] = notice.lang  # after set_content, which clears Content-*
    return message


def send(message: EmailMessage, smtp: SmtpSettings) -> None:
    """Hand ``message`` to the relay; returns only when the relay took it for every recipient.

    STARTTLS (verified against the system's trusted certificates) when ``smtp.starttls``; a
    login when ``smtp.username`` is set. Raises ``DeliveryError`` on any failure.
    """
    if smtp.host is None:
        raise DeliveryError("SMTP is not configured: set smtp.host", temporary=False)
    where = f"{smtp.host}:{smtp.port}"
    try:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    except OSError as exc:  # smtplib.SMTPException included
        raise _failure(exc, where) from exc
    try:
        refused = _submit(client, message, smtp)
    except OSError as exc:  # smtplib.SMTPException included
        raise _failure(exc, where) from exc
    finally:
        _hang_up(client)
    if refused:
        raise _refused(refused, where)


def _submit(
    client: smtplib.SMTP, message: EmailMessage, smtp: SmtpSettings
) -> dict[str, tuple[int, bytes]]:
    """The SMTP dialogue after the greeting; returns the recipients the relay refused."""
    client.ehlo()
    if smtp.starttls:
        client.starttls(context=ssl.create_default_context())
        client.ehlo()
    if smtp.username is not None and smtp.password is not None:
        client.login(smtp.username, smtp.password.get_secret_value())
    return client.send_message(message)


def _hang_up(client: smtplib.SMTP) -> None:
    """Say QUIT and close. The relay has accepted or refused the message by now, so a failing
    QUIT changes nothing, and raising would make the outbox send an accepted notice twice."""
    with suppress(smtplib.SMTPException, OSError):
        client.quit()
    client.close()


def _failure(exc: OSError, where: str) -> DeliveryError:
    """What failed, in words an operator can act on, and whether a retry can help.

    smtplib's exceptions are OSErrors too. Network trouble (refused, reset, timed out, the line
    dropped) may be gone at the next attempt; a certificate that fails verification or a relay
    without STARTTLS or AUTH stays so until an operator changes something.
    """
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryError(f"{where} presented an untrusted certificate: {exc}", temporary=False)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _refused(exc.recipients, where)
    if isinstance(exc, smtplib.SMTPResponseException):
        what = next(words for kind, words in _REFUSALS if isinstance(exc, kind))
        reply = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        return DeliveryError(
            f"{where} {what}: {reply}", temporary=_temporary(exc.smtp_code), code=exc.smtp_code
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected) or not isinstance(
        exc, smtplib.SMTPException
    ):
        return DeliveryError(f"connection to {where} failed: {exc}", temporary=True)
    return DeliveryError(f"{where} cannot take the notice: {exc}", temporary=False)


def _refused(recipients: dict[str, tuple[int, bytes]], where: str) -> DeliveryError:
    """Refused recipients: temporary only when every refusal was a 4xx."""
    codes = [code for code, _ in recipients.values()]
    replies = "; ".join(
        f"{rcpt}: {code} {_text(text)}" for rcpt, (code, text) in recipients.items()
    )
    return DeliveryError(
        f"{where} refused the recipient: {replies}",
        temporary=all(_temporary(code) for code in codes),
        code=codes[0],
    )


def _temporary(code: int) -> bool:
    """RFC 5321 §4.2.1: 4yz is a transient failure, 5yz a permanent one."""
    return 400 <= code < 500


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _one_address(message: EmailMessage, header: str) -> None:
    """A notice goes to one person from one mailbox: a list or a malformed address is a
    mistake (or an address field abused to add recipients), never something to send."""
    field = message[header]
    addresses = field.addresses
    if len(addresses) != 1 or field.defects or not addresses[0].domain:
        raise ValueError(f"{header}: {str(field)!r} is not a single e-mail address")


def _message_id(value: str) -> str:
    match = _MESSAGE_ID.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a Message-ID (local@domain)")
    return f"<{match.group(1)}>"
