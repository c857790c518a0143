"""Recognising a reply to a notice among the mail that reaches the abuse address (pure).

Subscribers and requesters answer notices by replying to them. A reply names its case in two
ways, both put there by trustdesk: the case reference in the subject (``[TD-000123]``, kept by
every mail client's "Re:") and the notice's Message-ID in ``In-Reply-To`` / ``References``.
``read_reply`` reads only those clues; which case they lead to, and whether the sender is the
person the notice went to, is decided by ``cases.service`` against the outbox.

A feedback report (ARF, X-ARF: ``multipart/report`` or an ``X-ARF`` header) is never a reply:
it is a new complaint even if it quotes a notice. Anything that is not a mail is not a reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

from trustdesk.intake import mail
from trustdesk.intake.report import UnparseableDocument

_REFERENCE = re.compile(r"\[\s*TD-(\d{1,12})\s*\]", re.IGNORECASE)
_MESSAGE_ID = re.compile(r"<([^<>\s@]+@[^<>\s@]+)>")
TEXT_LIMIT = 20_000  # the console shows the reply; the raw mail is kept whole in any case


@dataclass(frozen=True)
class ReplyMail:
    """What a mail says about the notice it answers, and who sent it."""

    from_address: str | None  # lowercased; forgeable, so only a clue until checked
    subject: str
    message_id: str | None
    refers_to: tuple[str, ...]  # Message-IDs of In-Reply-To and References, as <local@domain>
    case_numbers: tuple[int, ...]  # from "[TD-000123]" in the subject
    text: str  # the readable text parts, for the console and the timeline

    @property
    def has_clues(self) -> bool:
        return bool(self.refers_to or self.case_numbers)


def might_be_reply(data: bytes) -> bool:
    """Whether ``data`` is a mail whose headers carry a reply's clues, read from the headers
    alone: intake asks this of every document, and most are complaints, not replies."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"{", b"[") or not mail.looks_like_mail(head):
        return False
    headers = BytesHeaderParser(policy=compat32).parsebytes(mail.strip_envelope_line(head))
    if _is_report(headers):
        return False
    clues = [mail.decode_words(str(value)) for value in headers.get_all("Subject", [])]
    clues += [
        str(value) for name in ("In-Reply-To", "References") for value in headers.get_all(name, [])
    ]
    return any(_REFERENCE.search(text) or _MESSAGE_ID.search(text) for text in clues)


def read_reply(data: bytes) -> ReplyMail | None:
    """The reply clues of ``data``, or None when it is not a mail or is a feedback report."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"{", b"[") or not mail.looks_like_mail(head):  # JSON: a web form
        return None
    try:
        msg = mail.parse_mail(head)
    except UnparseableDocument:
        return None
    if _is_report(msg):
        return None
    subject = mail.header(msg, "Subject") or ""
    refs = [
        f"<{found}>"
        for name in ("In-Reply-To", "References")
        for value in mail.raw_headers(msg, name)
        for found in _MESSAGE_ID.findall(value)
    ]
    own = mail.message_id(msg)
    return ReplyMail(
        from_address=_from_address(msg),
        subject=subject,
        message_id=f"<{own}>" if own else None,
        refers_to=tuple(dict.fromkeys(refs)),
        case_numbers=tuple(dict.fromkeys(int(n) for n in _REFERENCE.findall(subject))),
        text=_text(msg),
    )


def same_address(a: str | None, b: str | None) -> bool:
    """Mailbox equality as people mean it: case-insensitive, surrounding space ignored."""
    return bool(a and b) and a.strip().lower() == b.strip().lower()  # type: ignore[union-attr]


def _is_report(msg: Message) -> bool:
    return msg.get_content_type() == "multipart/report" or bool(mail.raw_headers(msg, "X-ARF"))


def _from_address(msg: Message) -> str | None:
    """The one address of From; a From with several (or none) identifies nobody."""
    values = mail.raw_headers(msg, "From")
    if len(values) != 1:
        return None
    try:
        addresses = [addr for _, addr in getaddresses(values) if "@" in addr]
    except RecursionError:  # "a:a:a:..." nests the stdlib's group parser once a colon
        return None
    return addresses[0].strip().lower() if len(addresses) == 1 else None


def _text(msg: Message) -> str:
    """The text/plain parts of the reply itself (not of attached messages), capped."""
    parts = [
        mail.part_text(part)
        for part in mail.top_parts(msg)
        if part.get_content_type() == "text/plain"
    ]
    text = "\n".join(parts).strip()
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + " [...]"
