"""Files attached to a public form: what each may be, told from its bytes (pure, no I/O).

Seed 000 (1) asks a takedown requester for the request form with the registered seal, a seal
certificate and, for an agent, a power of attorney: scans, so PDF, PNG or JPEG. A spam
complaint may come as the spam's ``.eml`` (seed 000: the full header and body). The type is
read from the content's magic bytes, never from the client's Content-Type or the file name,
both of which the sender chooses; the name is kept for the operator only after it has been
reduced to a plain base name whose extension matches the content, so that a saved download can
neither land outside its folder nor open as something else (``evil.html`` holding a PDF).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from trustdesk.intake.mail import looks_like_mail

Role = Literal["request_form", "seal_certificate", "power_of_attorney", "eml"]
DOCUMENT_ROLES: tuple[Role, ...] = ("request_form", "seal_certificate", "power_of_attorney")

# media type -> (magic prefix, extension)
DOCUMENT_TYPES: dict[str, tuple[bytes, str]] = {
    "application/pdf": (b"%PDF-", ".pdf"),
    "image/png": (b"\x89PNG\r\n\x1a\n", ".png"),
    "image/jpeg": (b"\xff\xd8\xff", ".jpg"),
}
MAIL_TYPE = "message/rfc822"
FILENAME_LIMIT = 120
# Other formats a mail upload must not be, whatever its name says.
_BINARY_MAGIC = (
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"7z\xbc\xaf",
    b"Rar!",
    *(m for m, _ in DOCUMENT_TYPES.values()),
)


class UploadRejected(ValueError):
    """A file the form cannot take; ``code`` names the reason for the form's message."""

    def __init__(self, code: Literal["empty", "too_large", "wrong_type"], detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class CheckedUpload:
    role: Role
    filename: str
    media_type: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def document_type(data: bytes) -> str | None:
    """The media type of a scanned document, from its first bytes, or None."""
    for media_type, (magic, _) in DOCUMENT_TYPES.items():
        if data.startswith(magic):
            return media_type
    return None


def check_document(role: Role, data: bytes, filename: str | None, limit: int) -> CheckedUpload:
    """A takedown document: a PDF, PNG or JPEG of at most ``limit`` bytes."""
    _check_size(data, limit)
    media_type = document_type(data)
    if media_type is None:
        raise UploadRejected("wrong_type", "the file is not a PDF, PNG or JPEG (by its content)")
    extension = DOCUMENT_TYPES[media_type][1]
    return CheckedUpload(role, safe_filename(filename, role, extension), media_type, data)


def check_mail(data: bytes, filename: str | None, limit: int) -> CheckedUpload:
    """A spam as ``.eml``: text that starts with a header field, with no NUL bytes and in no
    binary or archive format (nothing is ever unpacked)."""
    _check_size(data, limit)
    if data.startswith(_BINARY_MAGIC) or b"\x00" in data or not looks_like_mail(data):
        raise UploadRejected("wrong_type", "the file is not a mail (.eml) with its headers")
    return CheckedUpload("eml", safe_filename(filename, "message", ".eml"), MAIL_TYPE, data)


def _check_size(data: bytes, limit: int) -> None:
    if not data:
        raise UploadRejected("empty", "the file is empty")
    if len(data) > limit:
        raise UploadRejected("too_large", f"the file is over the limit of {limit} bytes")


def safe_filename(name: str | None, fallback: str, extension: str) -> str:
    """A base name without folders, control or format characters, ending in ``extension``."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(
        c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C"
    )
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = re.sub(r"\s+", " ", stem).strip(" .")[: FILENAME_LIMIT - len(extension)]
    return (stem or fallback) + extension
