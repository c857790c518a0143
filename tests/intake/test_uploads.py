"""Form uploads are told by their bytes, and their names can go nowhere (intake.uploads)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustdesk.intake.uploads import (
    FILENAME_LIMIT,
    UploadRejected,
    check_document,
    check_mail,
    document_type,
    safe_filename,
)


@given(st.text(max_size=400), st.sampled_from([".pdf", ".png", ".jpg", ".eml"]))
def test_a_safe_name_is_a_plain_base_name_with_the_contents_extension(
    name: str, extension: str
) -> None:
    safe = safe_filename(name, "file", extension)
    assert safe.endswith(extension) and len(safe) <= FILENAME_LIMIT
    assert "/" not in safe and "\\" not in safe and safe not in (".", "..")
    assert not safe.startswith(".")
    assert all(unicodedata.category(c)[0] != "C" for c in safe)


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (b"%PDF-1.7\n", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"\xff\xd8\xff\xdb", "image/jpeg"),
        (b"GIF89a", None),
        (b"<svg onload=alert(1)>", None),
        (b" %PDF-1.7", None),  # the magic must come first
    ],
)
def test_the_type_comes_from_the_magic_bytes(data: bytes, media_type: str | None) -> None:
    assert document_type(data) == media_type


def test_a_document_is_refused_by_content_not_by_name() -> None:
    with pytest.raises(UploadRejected) as refused:
        check_document("request_form", b"MZ\x90\x00 an executable", "scan.pdf", 1000)
    assert refused.value.code == "wrong_type"
    assert check_document("request_form", b"%PDF-1.4", "scan.html", 1000).filename == "scan.pdf"


@pytest.mark.parametrize(
    "data", [b"PK\x03\x04 zip", b"\x1f\x8b gzip", b"From: a@b\r\n\x00NUL", b"no header line"]
)
def test_a_mail_upload_is_header_text(data: bytes) -> None:
    with pytest.raises(UploadRejected):
        check_mail(data, "x.eml", 10_000)


def test_a_mail_upload_keeps_its_bytes() -> None:
    data = b"Received: from x\r\nSubject: \xe3\x81\x82\r\n\r\n\xff body"
    assert check_mail(data, "../x.txt", 10_000).content == data
    assert check_mail(data, "../x.txt", 10_000).filename == "x.eml"
