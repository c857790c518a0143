"""Hostile variants of valid documents, as hypothesis strategies.

A variant starts from a seed of the target's format (``tests/fuzz/seeds.py``) and takes one to
four mutations: generic ones that any file suffers (byte flips, truncation, insertions of the
format's own words and of NULs, surrogates and extreme times, huge fields, line-ending and
charset changes) and ones of its shape (header injection and deep MIME nesting for mail, a
changed value deep in a JSON document, odd zip archives, shuffled lines). Raw bytes come on top
(``raw``), for what no seed resembles.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from hypothesis import strategies as st

from tests.fuzz.targets import TIME_TOKENS, Target

HOSTILE: tuple[bytes, ...] = (
    b"\x00",
    b"\xff\xfe",
    b"\xed\xa0\x80",  # a surrogate written as UTF-8 (CESU-8)
    b"\\ud800",
    b"\x1b$B",  # ISO-2022-JP's shift without its return
    b"\r",
    b"\r\n\r\n",
    b"\xe2\x80\xa8",  # U+2028
    b"=?utf-7?B?K2RnQS0=?=",
    b"=?x-unknown?Q?=FF?=",
    b"%s%n",
    b"../../etc/passwd",
    "\u202e".encode(),  # right-to-left override
    *TIME_TOKENS,
)
LIMIT = 256 * 1024  # the largest variant: fields are huge, CI stays quick

Draw = Callable[..., Any]
Mutation = Callable[[Draw, bytes, tuple[bytes, ...]], bytes]


def _position(draw: Draw, data: bytes) -> int:
    return draw(st.integers(0, len(data)))


def flip_bytes(draw: Draw, data: bytes, tokens: tuple[bytes, ...]) -> bytes:
    if not data:
        return data
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        index = draw(st.integers(0, len(buffer) - 1))
        buffer[index] ^= draw(st.integers(1, 255))
    return bytes(buffer)


def truncate(draw: Draw, data: bytes, tokens: tuple[bytes, ...]) -> bytes:
    return data[: _position(draw, data)]


def insert_word(draw: Draw, data: bytes, tokens: tuple[bytes, ...]) -> bytes:
    """A word of the format or a hostile one, at a line start, after a separator, or anywhere."""
    word = draw(st.sampled_from(tokens + HOSTILE) | st.binary(max_size=16))
    lines = data.split(b"\n")
    where = draw(st.integers(0, len(lines) - 1))
    line = lines[where]
    cut = draw(
        st.sampled_from([0, len(line), *(i + 1 for i, c in enumerate(line) if c in b":,=;\"'")])
        | st.integers(0, len(line))
    )
    lines[where] = line[:cut] + word + line[cut:]
    return b"\n".join(lines)


def replace_value(draw: Draw, data: bytes, tokens: tuple[bytes, ...]) -> bytes:
    """A field's value (after ':', '=' or ',') replaced by a word or a hostile value."""
    lines = data.split(b"\n")
    where = draw(st.integers(0, len(lines) - 1))
    line = lines[where]
    separators = [i for i, c in enumerate(line) if c in b":=,"]
    if not separators:
        return data
    start = draw(st.sampled_from(separators)) + 1
    end = line.find(b",", start)
    end = len(line) if end < 0 else end
    lines[where] = line[:start] + draw(st.sampled_from(tokens + HOSTILE)) + line[end:]
    return b"\n".join(lines)


def huge_field(draw: Draw, data: bytes, tokens: tuple[bytes, ...]) -> bytes:
    """A slice repeated until the document is large (a long header, a row of a million)."""
    if not data:
        return data
    start = draw(st.integers(0, len(data) - 1))
    piece = data[start : start + draw(st.integers(1, 64))]
    times = draw(st.integers(2, LIMIT // len(piece)))
    return data[:start] + piece * times + data[start:]


def line_endings(draw: Draw, data: bytes, tokens: tuple[bytes, ...]) -> bytes:
    ending = draw(st.sampled_from([b"\r\n", b"\r", b"\n\n", b"\x85", b"\x0b"]))
    return data.replace(b"\r\n", b"\n").replace(b"\n", ending)


def reencode(draw: Draw, data: bytes, tokens: tuple[bytes, ...]) -> bytes:
    """The same text in another charset than the document says (or BOM-led UTF-16)."""
    codec = draw(
        st.sampled_from(["utf-16", "utf-16-be", "utf-7", "shift_jis", "euc_jp", "iso2022_jp"])
    )
    return data.decode("utf-8", "replace").encode(codec, "replace")


def shuffle_lines(draw: Draw, data: bytes, tokens: tuple[bytes, ...]) -> bytes:
    """Lines repeated, dropped or reordered (records out of order, a lost blank line)."""
    lines = data.split(b"\n")
    if not lines:
        return data
    indexes = draw(st.lists(st.integers(0, len(lines) - 1), max_size=2 * len(lines) + 2))
    return b"\n".join(lines[i] for i in indexes)


GENERIC: tuple[Mutation, ...] = (
    flip_bytes,
    truncate,
    insert_word,
    insert_word,
    replace_value,
    replace_value,
    huge_field,
    line_endings,
    reencode,
    shuffle_lines,
)

# --- mail ----------------------------------------------------------------------------------------

HEADER_NAMES = (
    b"Content-Type",
    b"Content-Transfer-Encoding",
    b"Content-Disposition",
    b"Received",
    b"From",
    b"Date",
    b"Message-ID",
    b"X-ARF",
    b"MIME-Version",
)


def inject_header(draw: Draw, data: bytes, tokens: tuple[bytes, ...]) -> bytes:
    """A header line at the top of the mail or of any part, with a hostile or folded value."""
    name = draw(st.sampled_from(HEADER_NAMES) | st.binary(min_size=1, max_size=12))
    value = draw(st.sampled_from(tokens + HOSTILE) | st.binary(max_size=40))
    fold = draw(st.sampled_from([b"", b"\n ", b"\r\n\t", b"\n"]))
    line = name + b": " + value + fold + draw(st.sampled_from(tokens + HOSTILE)) + b"\n"
    starts = [0] + [i + 2 for i in range(len(data)) if data[i : i + 2] == b"--"]
    where = draw(st.sampled_from(starts))
    if where:  # after the boundary line
        end = data.find(b"\n", where)
        where = len(data) if end < 0 else end + 1
    return data[:where] + line + data[where:]


def nest_mime(draw: Draw, data: bytes, tokens: tuple[bytes, ...]) -> bytes:
    """The mail wrapped in messages and multiparts, up to far deeper than anyone sends."""
    for depth in range(draw(st.integers(1, 40))):
        if draw(st.booleans()):
            data = b"Content-Type: message/rfc822\n\n" + data
        else:
            boundary = b"n%d" % depth
            data = (
                b"Content-Type: multipart/mixed; boundary=" + boundary + b"\n\n--" + boundary
                + b"\n" + data + b"\n--" + boundary + b"--\n"
            )  # fmt: skip
    return b"From: a@b.example\nMIME-Version: 1.0\n" + data


# --- JSON ----------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=40)
    | st.sampled_from([t.decode() for t in TIME_TOKENS] + ["\x00", "\ud800", "", " "]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=10,
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def change_json(draw: Draw, data: bytes, tokens: tuple[bytes, ...]) -> bytes:
    """One value of the document replaced, removed or buried in nesting, then written back."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):  # not JSON any more, or nested by an earlier change
        return data
    paths = _paths(document)
    path = draw(st.sampled_from(paths[1:] or paths))
    action = draw(st.sampled_from(["replace", "replace", "remove", "nest"]))
    ascii_only = draw(st.booleans())
    nested = ""
    if not path:
        document = draw(JSON_VALUES)
    else:
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        if action == "remove":
            del parent[path[-1]]
        elif action == "nest":  # written as text: json.dumps would recurse as deep
            depth = draw(st.integers(1, 3000))
            inner = json.dumps(parent[path[-1]], ensure_ascii=ascii_only)
            nested, parent[path[-1]] = "[" * depth + inner + "]" * depth, _NESTED
        else:
            parent[path[-1]] = draw(JSON_VALUES)
    text = json.dumps(document, ensure_ascii=ascii_only).replace(f'"{_NESTED}"', nested)
    return text.encode("utf-8", "surrogatepass")


_NESTED = "nested-by-the-fuzzer"


# --- form posts ----------------------------------------------------------------------------------


def change_field(draw: Draw, data: bytes, tokens: tuple[bytes, ...]) -> bytes:
    """One field of a form post set to a hostile value, or a field added or dropped."""
    fields = parse_qsl(data.decode("utf-8", "replace"), keep_blank_values=True)
    names = [name for name, _ in fields] + ["form_kind", "occurred_at", "ip", "host", "url"]
    name = draw(st.sampled_from(names))
    value = draw(
        st.sampled_from([t.decode("utf-8", "replace") for t in tokens + HOSTILE])
        | st.text(max_size=60)
    )
    kept = [(n, v) for n, v in fields if n != name]
    return urlencode(kept if draw(st.booleans()) and kept else [*kept, (name, value)]).encode()


# --- zip -----------------------------------------------------------------------------------------


def odd_zip(draw: Draw, data: bytes, tokens: tuple[bytes, ...]) -> bytes:
    """The document (or its CSV) in an odd archive: other methods, member names that climb
    out, folders, many members, a nested zip, 2 MiB from a few KiB, lying sizes, an encrypted
    flag, a cut end."""
    method = draw(
        st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, 14])
    )
    names = st.sampled_from(
        ["2026-10-20-scan_telnet-asn.csv", "../../x.csv", "/abs.csv", "dir/", "a\x00b.csv", "x"]
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in draw(st.lists(names, min_size=1, max_size=4, unique=True)):
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_LZMA if method == 14 else method
            content = draw(
                st.sampled_from([data, _zip_of(data), b"0" * (1 << 21)])  # a bomb in miniature
            )
            archive.writestr(info, content)
    archive_bytes = bytearray(buffer.getvalue())
    if draw(st.booleans()):  # lie about sizes, set flags (encrypted, data descriptor)
        for offset in (6, 18, 22):
            index = draw(st.integers(0, 3))
            if offset + index < len(archive_bytes):
                archive_bytes[offset + index] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        del archive_bytes[draw(st.integers(0, len(archive_bytes))) :]
    return bytes(archive_bytes)


def _zip_of(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("2026-10-20-inner.csv", data)
    return buffer.getvalue()


def mail_around(draw: Draw, data: bytes, tokens: tuple[bytes, ...]) -> bytes:
    """The document attached to a mail, as Shadowserver and XARF reporters send it."""
    from tests.fuzz.seeds import mail_with_attachment

    name = draw(st.sampled_from(["2026-10-20-scan_telnet-asn.csv.zip", "report.json", "x.csv"]))
    media = draw(st.sampled_from(["application/zip", "application/json", "text/csv"]))
    return mail_with_attachment(name, media, data)


SHAPED: dict[str, tuple[Mutation, ...]] = {
    "mail": (inject_header, inject_header, nest_mime),
    "json": (change_json, change_json, change_json, mail_around),
    "binary": (odd_zip, odd_zip, mail_around),
    "lines": (shuffle_lines,),
    "form": (change_field, change_field, change_field),
}


@st.composite
def variants(draw: Draw, target: Target) -> bytes:
    """A seed of ``target`` after one to four mutations."""
    data: bytes = draw(st.sampled_from(target.seeds()))
    mutations = GENERIC + SHAPED[target.shape]
    for _ in range(draw(st.integers(1, 4))):
        data = draw(st.sampled_from(mutations))(draw, data, target.tokens)[: 4 * LIMIT]
    return data


raw = st.binary(max_size=4096)
