"""Every parser that reads what outsiders send, and the one property each must keep.

Given any bytes, a parser returns its values or raises its domain's own parse error with a
message (``UnparseableDocument``, ``UploadRejected``, a ``RowError`` in its output, a
``FraudError``); any other exception is a crash. What it returns must be storable as it is: text
that encodes as UTF-8 (no lone surrogate, which neither database stores), aware times that
convert to UTC and survive the clock-skew arithmetic of attribution, ports that are ports.

Shared by the hypothesis tests (``tests/fuzz``) and the coverage-guided harness
(``bench/fuzz/run.py``): each ``Target`` reads raw bytes the way its caller does (a file read as
UTF-8 with replacement, a form post, an HTTP body) and checks what comes back.
"""

from __future__ import annotations

import io
import ipaddress
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl

import orjson

from tests.fuzz import seeds
from trustdesk.attribution.cgnat import parse_junos
from trustdesk.attribution.radius import merge_session, parse_detail
from trustdesk.attribution.records import RadiusRecord, RowError, SessionSummary
from trustdesk.attribution.registry_csv import parse_assignments, parse_sites, parse_subscribers
from trustdesk.cases.replies import read_reply
from trustdesk.fraud import features, lookups
from trustdesk.fraud.exceptions import FraudError
from trustdesk.fraud.hashing import Hasher
from trustdesk.fraud.order import parse_order, screen_age, screen_order
from trustdesk.intake.parse import keep_plausible_times, parse_document
from trustdesk.intake.received import find_origin
from trustdesk.intake.report import Report, UnparseableDocument
from trustdesk.intake.service import fingerprint_of
from trustdesk.intake.uploads import (
    DOCUMENT_ROLES,
    FILENAME_LIMIT,
    CheckedUpload,
    UploadRejected,
    check_document,
    check_mail,
)
from trustdesk.network.accesslog import read_access_log
from trustdesk.network.feeds import FEED_FORMATS, parse_cc_feed, parse_csam_list
from trustdesk.timeutil import JST
from trustdesk.web.complaint_forms import as_json_bytes, build

RELAYS = ("203.0.113.25", "203.0.113.26")  # the Example Net configuration's smarthosts
NOW = datetime(2026, 10, 20, 15, 0, tzinfo=JST)
# How far times are moved: fraud's longest velocity window back, attribution's skew forward.
BACK, FORWARD = timedelta(days=31), timedelta(minutes=10)
UPLOAD_LIMIT = 1024 * 1024
HASHER = Hasher("fuzz")

Shape = Literal["mail", "json", "lines", "binary", "form"]


class Crash(AssertionError):
    """A parser broke its property: what it returned cannot be stored, or it said nothing."""


@dataclass(frozen=True)
class Target:
    """A parser under fuzzing: how raw bytes reach it, and where mutation starts."""

    name: str
    check: Callable[[bytes], None]
    seeds: Callable[[], tuple[bytes, ...]]
    shape: Shape  # which structured mutations apply (tests/fuzz/mutations.py)
    tokens: tuple[bytes, ...] = ()  # words of the format: inserted by mutations, libFuzzer's dict


# --- what a value must be to be storable -------------------------------------------------------


def _said(exc: BaseException) -> None:
    if not str(exc).strip():
        raise Crash(f"{type(exc).__name__} without a message")


def storable_text(value: object, where: str) -> None:
    """Every string inside ``value`` encodes as UTF-8 (NUL is fine: the databases' types map
    it); times are aware and keep their meaning around attribution's clock skew."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise Crash(f"{where} holds text no database stores: {exc}") from None
    elif isinstance(value, datetime):
        storable_time(value, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            storable_text(key, where)
            storable_text(item, f"{where}.{key}")
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            storable_text(item, where)
    elif is_dataclass(value) and not isinstance(value, type):
        for field in fields(value):
            storable_text(getattr(value, field.name), f"{where}.{field.name}")


def storable_time(moment: datetime, where: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise Crash(f"{where} {moment!r} has no UTC offset")
    try:
        utc = moment.astimezone(UTC)
        moment.astimezone(JST), utc - BACK, utc + FORWARD  # noqa: B018 - what callers do
    except OverflowError as exc:
        raise Crash(f"{where} {moment.isoformat()} leaves the calendar in UTC: {exc}") from None


def _storable_report(report: Report) -> None:
    if not isinstance(report, Report):
        raise Crash(f"a parser returned {type(report).__name__}, not a Report")
    storable_text(report, "report")
    json.dumps(report.details, default=str)  # stored as JSON (intake.service._json_safe)
    fingerprint_of(report)
    if report.source_ip is not None:
        ipaddress.ip_address(report.source_ip)
    if report.source_port is not None and not 0 <= report.source_port <= 65535:
        raise Crash(f"source port {report.source_port} is no port")


def _rows(items: Iterable[object], kinds: tuple[type, ...], source: str) -> list[object]:
    """A registry parser's output: its row values, or ``RowError`` with a reason."""
    found = []
    for item in items:
        if isinstance(item, RowError):
            if not item.reason.strip() or item.source != source:
                raise Crash(f"a row error without a reason or its file: {item!r}")
            continue
        if not isinstance(item, kinds):
            raise Crash(f"a parser yielded {type(item).__name__}")
        storable_text(item, type(item).__name__)
        found.append(item)
    return found


def text_lines(data: bytes) -> list[str]:
    """Lines as the import commands read a file (UTF-8 with replacement, newline="")."""
    return list(io.StringIO(data.decode("utf-8", errors="replace"), newline=""))


# --- intake --------------------------------------------------------------------------------------


def document(data: bytes, filename: str | None = None) -> list[Report]:
    """``intake.parse_document`` and the time bounds intake keeps to (``keep_plausible_times``):
    the reports, or ``UnparseableDocument`` with its reason."""
    try:
        reports = keep_plausible_times(parse_document(data, filename, RELAYS), NOW)
    except UnparseableDocument as exc:
        _said(exc)
        return []
    if not reports:
        raise Crash("a document was read without error but holds no complaint")
    for report in reports:
        _storable_report(report)
    return reports


def reply(data: bytes) -> None:
    """``cases.replies.read_reply``: a mail's reply clues, or None; it never raises."""
    found = read_reply(data)
    if found is not None:
        storable_text(found, "reply")


def csv_document(data: bytes) -> None:
    """A Shadowserver file is named by its date and type, which the parser reads."""
    document(data, seeds.SHADOWSERVER_CSV)
    document(data, seeds.SHADOWSERVER_CSV + ".zip")


def received_chain(data: bytes) -> None:
    """``received.find_origin`` over header values, one a line; it never raises."""
    values = data.decode("utf-8", errors="surrogateescape").split("\n")
    origin = find_origin(values, RELAYS, {"victim.example"})
    if origin.ip is not None:
        ipaddress.ip_address(origin.ip)
    if origin.observed_at is not None and origin.observed_at.utcoffset() is not None:
        storable_time(origin.observed_at, "origin.observed_at")


FORM_KINDS = ("takedown", "spam", "abuse")


def public_form(data: bytes) -> None:
    """A public form's post: the fields become the JSON document intake reads
    (``web.complaint_forms.build``); a document the form accepts intake must read."""
    fields = dict(parse_qsl(data.decode("utf-8", errors="replace"), keep_blank_values=True))
    kind = fields.pop("form_kind", "")
    chosen = kind if kind in FORM_KINDS else FORM_KINDS[len(data) % 3]
    built = build(chosen, fields, {}, NOW)  # type: ignore[arg-type]
    if built.document is None:
        if not built.errors:
            raise Crash("the form refused its fields without saying which")
        return
    try:
        reports = keep_plausible_times(
            parse_document(as_json_bytes(built.document), None, RELAYS), NOW
        )
    except UnparseableDocument as exc:
        raise Crash(f"the {chosen} form accepted what intake refuses: {exc}") from None
    for report in reports:
        _storable_report(report)


def upload(data: bytes) -> None:
    """A file posted with a form: its name (up to a NUL) and its bytes, checked by content."""
    name, _, content = data.partition(b"\x00")
    filename = name.decode("utf-8", errors="surrogateescape")
    results: list[CheckedUpload] = []
    for role in DOCUMENT_ROLES:
        try:
            results.append(check_document(role, content, filename, UPLOAD_LIMIT))
        except UploadRejected as exc:
            _said(exc)
    try:
        results.append(check_mail(content, filename, UPLOAD_LIMIT))
    except UploadRejected as exc:
        _said(exc)
    for checked in results:
        stored = checked.filename
        storable_text(stored, "filename")
        if "/" in stored or "\\" in stored or len(stored) > FILENAME_LIMIT:
            raise Crash(f"unsafe stored file name {stored!r}")
        if any(ord(c) < 32 or ord(c) == 127 for c in stored):
            raise Crash(f"a control character in the stored name {stored!r}")


# --- attribution ---------------------------------------------------------------------------------


def registry_csv(data: bytes) -> None:
    lines = text_lines(data)
    for parse in (parse_subscribers, parse_assignments, parse_sites):
        _rows(parse(lines, "registry.csv"), (object,), "registry.csv")


def radius_detail(data: bytes) -> None:
    """Records of a detail file, and their merge per session (any order gives one summary)."""
    records = _rows(parse_detail(text_lines(data), "detail"), (RadiusRecord,), "detail")
    sessions: dict[str, SessionSummary] = {}
    for record in records:
        assert isinstance(record, RadiusRecord)
        merged = merge_session(sessions.get(record.session_key), record)
        storable_text(merged, "session")
        sessions[record.session_key] = merged


def cgnat_log(data: bytes) -> None:
    _rows(parse_junos(text_lines(data), "nat.log"), (object,), "nat.log")


# --- network -------------------------------------------------------------------------------------


def cc_feed(data: bytes) -> None:
    lines = text_lines(data)
    for fmt in FEED_FORMATS:
        for zone in (None, JST):
            _rows(parse_cc_feed(lines, "feed", fmt, zone), (object,), "feed")


def csam_list(data: bytes) -> None:
    _rows(parse_csam_list(text_lines(data), "csam"), (object,), "csam")


def access_log(data: bytes) -> None:
    lines = data.decode("utf-8", errors="replace").splitlines(keepends=True)
    for vhost in (None, "www.example.jp"):
        transfer = read_access_log(lines, "access.log", vhost)
        _rows(transfer.errors, (), "access.log")
        for (host, day), site_day in transfer.days.items():
            storable_text(host, "vhost")
            if not isinstance(day, date) or site_day.bytes_sent < 0:
                raise Crash(f"a day's total {day!r} {site_day!r}")
            storable_time(site_day.first_at, "first_at")


# --- fraud ---------------------------------------------------------------------------------------


def order(data: bytes) -> None:
    """An order as the score's body: refused with a ``FraudError`` or turned into the values
    the read asks about and the rules see (``fraud.scoring.steps`` without its database)."""
    try:
        document = orjson.loads(data)
    except ValueError:
        return  # BodyNotJSON
    try:
        found = parse_order(document)
        screen_order(found, NOW)
        screen_age(found, NOW, timedelta(days=7))
        values = features.normalise_order(found)
    except FraudError as exc:
        _said(exc)
        return
    hashes = {
        name: HASHER(features.KNOWN_KIND[name], value)
        for name, value in values.values().items()
        if value
    }
    question = lookups.parameters(found.ordered_at, hashes, 1000)
    context = features.build(found, values, features.Lookups())
    orjson.dumps(context)
    orjson.dumps(found.model_dump(mode="json"))
    storable_text(question, "read")


# --- the list ------------------------------------------------------------------------------------

MAIL_TOKENS = (
    b"Received: ",
    b"Content-Type: ",
    b"multipart/mixed; boundary=",
    b"message/rfc822",
    b"message/feedback-report",
    b"multipart/report; report-type=feedback-report",
    b"text/rfc822-headers",
    b"Content-Transfer-Encoding: base64",
    b"Content-Transfer-Encoding: quoted-printable",
    b"charset=iso-2022-jp",
    b"charset=utf-7",
    b"charset=x-unknown",
    b"=?utf-8?B?",
    b"=?iso-2022-jp?Q?",
    b"?=",
    b"Source-IP: ",
    b"Source-Port: ",
    b"Arrival-Date: ",
    b"Feedback-Type: abuse",
    b"X-ARF: YES",
    b"X-XARF: PLAIN",
    b"Source-Type: uri",
    b"filename*=utf-8''",
    b"from ",
    b" by ",
    b" with ESMTPA",
    b"(Authenticated sender: ",
    b"[IPv6:",
    b"Date: ",
    b"Message-ID: <",
)
TIME_TOKENS = (
    b"0001-01-01T00:00+14:00",
    b"9999-12-31T23:59:59-14:00",
    b"0001-01-01T00:00:00Z",
    b"9999-12-31T23:59:59.999999+00:00",
    b"Mon, 1 Jan 0001 00:00:00 +0900",
    b"Fri, 31 Dec 9999 23:59:59 -2359",
    b"253402300800",
    b"-1",
    b"99999999999999999999",
)
LINE_TOKENS = (b",", b'"', b"\r", b"\n", b"\x00", b"\t", b"=", b":", b"\xef\xbb\xbf", *TIME_TOKENS)

TARGETS: dict[str, Target] = {
    target.name: target
    for target in (
        Target("mail", document, seeds.mails, "mail", MAIL_TOKENS + TIME_TOKENS),
        Target("reply", reply, seeds.mails, "mail", MAIL_TOKENS),
        Target("xarf", document, seeds.xarf_documents, "json", MAIL_TOKENS + TIME_TOKENS),
        Target("shadowserver", csv_document, seeds.shadowserver_files, "binary", LINE_TOKENS),
        Target("form_json", document, seeds.form_documents, "json", TIME_TOKENS),
        Target("received", received_chain, seeds.received_chains, "lines", MAIL_TOKENS),
        Target("public_form", public_form, seeds.form_posts, "form", TIME_TOKENS),
        Target("upload", upload, seeds.uploads, "binary", (b"%PDF-", b"\x89PNG", b"/", b"..")),
        Target("registry_csv", registry_csv, seeds.registry_files, "lines", LINE_TOKENS),
        Target("radius", radius_detail, seeds.radius_details, "lines", LINE_TOKENS),
        Target("cgnat", cgnat_log, seeds.cgnat_logs, "lines", LINE_TOKENS),
        Target("cc_feed", cc_feed, seeds.cc_feeds, "lines", LINE_TOKENS),
        Target("csam_list", csam_list, seeds.csam_lists, "lines", LINE_TOKENS),
        Target("access_log", access_log, seeds.access_logs, "lines", LINE_TOKENS),
        Target("order", order, seeds.orders, "json", TIME_TOKENS),
    )
}


def every_seed() -> Iterator[tuple[str, bytes]]:
    for name, target in TARGETS.items():
        for seed in target.seeds():
            yield name, seed


def dictionary(target: Target) -> list[str]:
    """The target's tokens as libFuzzer dictionary lines (``"\\xNN"`` escapes)."""
    return ['"' + "".join(f"\\x{b:02x}" for b in token) + '"' for token in target.tokens]


def run(name: str, data: bytes) -> Any:
    return TARGETS[name].check(data)
