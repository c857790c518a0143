"""Decoding the charsets Japanese mail uses: ISO-2022-JP (with Windows extensions), Shift_JIS
and cp932, EUC-JP, UTF-8, and undeclared 8-bit text (issue 2: "in any charset Japanese mail
uses"). Decoding never fails: what cannot be read becomes U+FFFD, never an exception.
"""

from __future__ import annotations

import codecs
import re

# Japanese mail declares charsets Python does not know, or knows only as a narrower codec: try the
# declared codec first, then its supersets (NEC/IBM extensions, JIS X 0212/0213).
_FAMILIES: dict[str, tuple[str, ...]] = {
    "iso2022_jp": ("iso2022_jp", "iso2022_jp_2", "iso2022_jp_ext", "iso2022_jp_2004", "cp50220"),
    "shift_jis": ("cp932", "shift_jis_2004", "shift_jis"),
    "cp932": ("cp932", "shift_jis_2004"),
    "euc_jp": ("euc_jp", "euc_jis_2004"),
}
_ALIASES = {
    "x-sjis": "shift_jis",
    "windows-31j": "cp932",
    "x-euc-jp": "euc_jp",
    "eucjp-ms": "euc_jp",
    "cp51932": "euc_jp",
    "cp50220": "iso2022_jp",
    "cp50221": "iso2022_jp",
    "iso-2022-jp-ms": "iso2022_jp",
}
_NOT_TEXT = frozenset(
    {"base64", "bz2", "hex", "quopri", "rot-13", "uu", "zlib", "undefined", "idna", "punycode"}
    | {"unicode_escape", "raw_unicode_escape"}
)
_UNDECLARED = ("utf-8", "cp932", "euc_jp")  # brief: undeclared 8-bit is tried in this order
# UTF-7 and UTF-16 parts can decode to unpaired surrogates, which no database stores as text
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _codecs_for(declared: str | None) -> list[str]:
    """Codecs to try for a declared charset, best first; [] when it names no text codec."""
    name = (declared or "").strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    if not name:
        return []
    try:
        canonical = codecs.lookup(name).name
    except (LookupError, ValueError):
        return []
    if canonical in _NOT_TEXT:
        return []
    return list(_FAMILIES.get(canonical, (canonical,)))


def _jis_to_cp932(data: bytes) -> bytes:
    """ISO-2022-JP as Windows mailers write it (CP50220: NEC and IBM characters such as ① and
    ㈱ in JIS X 0208 mode, which no Python codec reads) rewritten as cp932 bytes."""
    out = bytearray()
    double, kana = False, False
    index = 0
    while index < len(data):
        byte = data[index]
        if byte == 0x1B and data[index + 1 : index + 3] in _JIS_ESCAPES:
            double, kana = _JIS_ESCAPES[data[index + 1 : index + 3]]
            index += 3
        elif double and 0x21 <= byte <= 0x7E and index + 1 < len(data):
            out += _jis_pair_to_sjis(byte, data[index + 1])
            index += 2
        else:
            out.append(byte + 0x80 if kana and 0x21 <= byte <= 0x5F else byte)
            index += 1
    return bytes(out)


_JIS_ESCAPES = {b"$B": (True, False), b"$@": (True, False), b"(B": (False, False)}
_JIS_ESCAPES |= {b"(J": (False, False), b"(I": (False, True)}


def _jis_pair_to_sjis(first: int, second: int) -> bytes:
    """The JIS X 0208 row/cell to Shift_JIS arithmetic (JIS X 0208:1997 annex 1)."""
    lead = ((first + 1) >> 1) + (0x70 if first <= 0x5E else 0xB0)
    if first % 2:
        trail = second + (0x1F if second <= 0x5F else 0x20)
    else:
        trail = second + 0x7E
    return bytes((lead, trail & 0xFF))


def _decode(data: bytes, codec: str) -> str:
    if codec != "cp50220":
        return data.decode(codec)
    if not data.isascii():  # ISO-2022-JP is 7-bit: 8-bit bytes mean a mislabelled charset
        raise ValueError("8-bit bytes in ISO-2022-JP")
    return _jis_to_cp932(data).decode("cp932")


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Text of ``data`` in its declared charset, else in the charsets Japanese mail uses.

    Never raises: bytes no candidate can read are replaced (the raw document is kept anyway).
    """
    candidates = _codecs_for(declared)
    if not candidates and b"\x1b" in data and data.isascii():  # undeclared JIS: ISO-2022-JP
        candidates = list(_FAMILIES["iso2022_jp"])
    for name in [*candidates, *_UNDECLARED]:
        try:
            return _LONE_SURROGATE.sub("\ufffd", _decode(data, name))
        except (ValueError, LookupError):
            continue
    return _LONE_SURROGATE.sub(
        "\ufffd", data.decode(candidates[0] if candidates else "utf-8", errors="replace")
    )


def bytes_of(text: str) -> bytes:
    """Text back to bytes: the parser's surrogates become the bytes they stood for."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # other lone surrogates, e.g. from a UTF-7 part
        return text.encode("utf-8", "replace")
