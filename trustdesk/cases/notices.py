"""Notices to subscribers and complainants, rendered from Jinja2 templates to plain-text mail.

Each notice is ``templates/<name>.<lang>.j2``: a ``subject`` block of fixed text and a body that
extends ``_layout.<lang>.j2``. The templates cite the seed clauses they carry out. Three rules
make a notice safe to send:

- **The complainant stays unnamed** (seed 000 (3): 申告者さまの情報は開示いたしません).
  ``NoticeContext`` holds nothing about the complainant except ``requester_name``, which the
  caller sets only when the requester consented to disclosure, and which only
  ``takedown.inquiry`` prints.
- **Outside text is inert.** The URL, the information, the reason, the evidence and the category
  are written by complainants or attackers: control and format characters are removed, one-line
  values stay on one line, and multi-line values are quoted with "> " so that no line of theirs
  starts at the margin. The subject is the template's fixed text and the case reference only.
- **A missing value is an error, never "None".** Values that are None or empty are left
  undefined, and ``StrictUndefined`` stops a template that needs one (``MissingNoticeValue``).
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from typing import TypeVar

from jinja2 import Environment, PackageLoader, StrictUndefined, UndefinedError

from trustdesk.cases.policy import Policy
from trustdesk.timeutil import to_jst

TEMPLATE_NAMES: frozenset[str] = frozenset(
    {
        "spam.report_demanded",
        "spam.suspended",
        "spam.penalty",
        "spam.annual_fee_exceeded",
        "spam.reinstated",
        "spam.terminated",
        "spam.resolved",
        "takedown.documents_returned",
        "takedown.supplement_requested",
        "takedown.inquiry",
        "takedown.taken_down",
        "takedown.taken_down_sender",
        "takedown.removed_by_sender",
        "takedown.no_action",
        "takedown.silence_warning",
        "abuse.ask_stop",
        "abuse.ask_settle",
        "abuse.ask_delete",
        "abuse.deleted",
        "abuse.suspended",
        "abuse.terminated",
        "abuse.resolved",
        "device.warning",
        "intake.receipt",
        "network.member_link",
        "traffic.restricted",
        "traffic.lifted",
    }
)
LANGUAGES: frozenset[str] = frozenset({"ja", "en"})

# Replies find their case by "[TD-000123]" in the subject, so the reference must be one token.
_CASE_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Control (CR, LF, ESC...), format (bidi overrides, zero-width) and lone surrogate characters.
_DROPPED = frozenset({"Cc", "Cf", "Cs"})
# Outside text is capped so that a complaint cannot make us send a megabyte of its choosing.
_INLINE_LIMIT = 2000
_QUOTED_LIMIT = 4000
_CUT_MARK = " [...]"
_QUOTE = "> "

# Bill kinds of trustdesk.cases.effects, as the subscriber reads them (seed 001 steps 2-5).
_CHARGE_LABELS: Mapping[str, Mapping[str, str]] = {
    "spam_damages": {
        "ja": "損害金（利用料金の前払い分）",
        "en": "Damages (fees billed in advance)",
    },
    "spam_handling": {
        "ja": "対応手数料（利用料金の前払い分）",
        "en": "Handling fee (fees billed in advance)",
    },
    "spam_penalty": {"ja": "違約金（追加の迷惑行為の報告）", "en": "Penalty for a further report"},
    "spam_penalty_handling": {
        "ja": "対応手数料（追加の迷惑行為の報告）",
        "en": "Handling fee for a further report",
    },
    "reconnection": {"ja": "再接続費用（税込）", "en": "Reconnection fee (tax included)"},
    "termination_handling": {
        "ja": "迷惑行為対応費用（利用料金の前払い分）",
        "en": "Handling cost (fees billed in advance)",
    },
}
# The rights a takedown request form names (intake.forms.TakedownRequest, seed 000).
_RIGHT_LABELS: Mapping[str, Mapping[str, str]] = {
    "defamation": {"ja": "名誉権（名誉毀損）", "en": "reputation (defamation)"},
    "privacy": {"ja": "プライバシー権", "en": "privacy"},
    "copyright": {"ja": "著作権", "en": "copyright"},
    "portrait": {"ja": "肖像権", "en": "portrait right"},
    "trademark": {"ja": "商標権", "en": "trademark"},
    "other": {"ja": "その他の権利", "en": "another right"},
}
# What cases.documents.check_takedown finds missing (seed 000 (1)-(2)), in English, and how a
# Japanese requester reads it; a phrase not listed here is shown as given, made inert.
_PROBLEMS_JA: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), words)
    for pattern, words in (
        (r"request form missing", "登録印を押印した送信防止措置依頼書がありません"),
        (r"request form not sealed", "送信防止措置依頼書に登録印が押印されていません"),
        (r"seal certificate missing", "印鑑登録証明書がありません"),
        (r"seal certificate issue date missing", "印鑑登録証明書の発行日が確認できません"),
        (
            r"seal certificate older than (\d+) months \(issued ([\d-]+)\)",
            r"印鑑登録証明書が発行から\1カ月を過ぎています（発行日: \2）",
        ),
        (
            r"seal certificate issued in the future \(([\d-]+)\)",
            r"印鑑登録証明書の発行日（\1）が正しくありません",
        ),
        (
            r"power of attorney missing: filed by an agent",
            "代理人によるお申し出ですが、委任状がありません",
        ),
        (r"URL missing", "掲載URLの記載がありません"),
        (r"information missing", "掲載情報の記載がありません"),
        (r"infringed right missing", "被侵害権利の記載がありません"),
        (r"reason missing", "侵害理由の記載がありません"),
        (r"name-disclosure choice missing", "情報発信者への氏名開示の可否の記載がありません"),
    )
)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class NoticeContext:
    """Everything a notice may say. The complainant's identity is deliberately absent."""

    provider_name: str
    abuse_mailbox: str
    case_reference: str
    recipient_name: str | None
    deadline_at: datetime | None
    kind: str
    category: str
    source_ip: str | None
    source_port: int | None
    observed_at: datetime | None
    url: str | None
    information: str | None
    infringed_right: str | None
    reason: str | None
    charges: tuple[tuple[str, int], ...] = ()
    total_billed_yen: int | None = None
    missing_documents: tuple[str, ...] = ()
    requester_name: str | None = None
    evidence_excerpt: str | None = None
    received_at: datetime | None = None  # when a complaint was filed (its receipt)
    link: str | None = None  # a member's own settings page (network.member_link)
    link_expires_at: datetime | None = None
    # The case's own policy: a notice states the periods and amounts the case runs under.
    policy: Policy = Policy()


@dataclass(frozen=True)
class RenderedNotice:
    subject: str
    body: str
    template: str
    lang: str


class MissingNoticeValue(ValueError):
    """The template needs a value the context does not give, e.g. a demand without a deadline.

    Raised instead of sending a notice that says "None" or leaves the deadline out.
    """


def render(template: str, lang: str, context: NoticeContext) -> RenderedNotice:
    """The notice ``template`` in ``lang`` ("ja" or "en") for ``context``.

    Raises ``ValueError`` for an unknown template or language or a malformed case reference, and
    ``MissingNoticeValue`` (a ``ValueError``) when the template needs a value the context lacks.
    """
    if template not in TEMPLATE_NAMES:
        raise ValueError(f"unknown notice template {template!r}")
    if lang not in LANGUAGES:
        raise ValueError(f"no notices in language {lang!r}; choose one of ja, en")
    compiled = _environment().get_template(f"{template}.{lang}.j2")
    try:
        # The subject is fixed text: the policy's numbers, never outside text.
        subject_values = {"terms": _terms(context.policy)}
        fixed_subject = "".join(compiled.blocks["subject"](compiled.new_context(subject_values)))
        body = compiled.render(_values(context, lang))
    except UndefinedError as exc:
        raise MissingNoticeValue(
            f"notice {template} ({lang}) needs a value the context does not give: {exc.message}"
        ) from exc
    subject = f"[{_reference(context.case_reference)}] {' '.join(fixed_subject.split())}"
    return RenderedNotice(subject=subject, body=_tidy(body), template=template, lang=lang)


@cache
def _environment() -> Environment:
    """Built on first use, not at import; the templates are files of this package."""
    return Environment(
        loader=PackageLoader("trustdesk.cases", "templates"),
        undefined=StrictUndefined,
        autoescape=False,  # plain text: values are made inert in _values, not HTML-escaped
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # package files: compiled once, never stat'ed again per notice
    )


def _values(context: NoticeContext, lang: str) -> dict[str, object]:
    """The template's variables, formatted for ``lang`` and made inert.

    Named like the context's fields so that an error names the field to fill. None and empty
    values are left out: a template that needs one fails instead of printing nothing.
    """
    charges = tuple(
        (_label(_CHARGE_LABELS, kind, lang), _yen(amount, lang)) for kind, amount in context.charges
    )
    values: dict[str, object | None] = {
        "provider_name": _inline(context.provider_name),
        "abuse_mailbox": _inline(context.abuse_mailbox),
        "case_reference": _reference(context.case_reference),
        "recipient_name": _maybe(_inline, context.recipient_name),
        "deadline_at": _maybe(lambda moment: _deadline(moment, lang), context.deadline_at),
        "kind": _inline(context.kind),
        "category": _inline(context.category),
        "source_ip": _maybe(_address, context.source_ip),
        "source_port": context.source_port,
        "observed_at": _maybe(lambda moment: _moment(moment, lang), context.observed_at),
        "url": _maybe(_inline, context.url),
        "information": _maybe(_quoted, context.information),
        "infringed_right": _maybe(
            lambda code: _label(_RIGHT_LABELS, code, lang), context.infringed_right
        ),
        "reason": _maybe(_quoted, context.reason),
        "charges": charges,
        "charges_total": _yen(sum(amount for _, amount in context.charges), lang)
        if charges
        else None,
        "total_billed_yen": _maybe(lambda amount: _yen(amount, lang), context.total_billed_yen),
        "missing_documents": tuple(
            _problem(problem, lang) for problem in context.missing_documents
        ),
        "requester_name": _maybe(_inline, context.requester_name),
        "evidence_excerpt": _maybe(_quoted, context.evidence_excerpt),
        "received_at": _maybe(lambda moment: _moment(moment, lang), context.received_at),
        "link": _maybe(_inline, context.link),
        "link_expires_at": _maybe(lambda moment: _deadline(moment, lang), context.link_expires_at),
        "terms": _terms(context.policy),
    }
    return {name: value for name, value in values.items() if value not in (None, "", ())}


def _terms(policy: Policy) -> dict[str, int]:
    """The policy's periods and amounts as the notices state them (policy.toml may change any)."""
    return {
        "spam_reply_hours": policy.spam_reply_hours,
        "spam_billed_months": policy.spam_damages_months + policy.spam_handling_months,
        "spam_damages_months": policy.spam_damages_months,
        "spam_handling_months": policy.spam_handling_months,
        "takedown_inquiry_days": policy.takedown_inquiry_days,
        "takedown_election_inquiry_days": policy.takedown_election_inquiry_days,
        "seal_certificate_valid_months": policy.seal_certificate_valid_months,
        "site_daily_transfer_limit_mb": policy.site_daily_transfer_limit_bytes // 2**20,
    }


def _maybe(convert: Callable[[T], R], value: T | None) -> R | None:
    return None if value is None else convert(value)


def _printable(line: str) -> str:
    """``line`` without control, format or surrogate characters (tabs kept): those could end a
    header line, reorder what the reader sees (bidi overrides) or hide text (zero-width)."""
    if line.isprintable():  # the usual case, checked in C: no Cc, Cf or Cs character at all
        return line
    return "".join(c for c in line if c == "\t" or unicodedata.category(c) not in _DROPPED)


def _lines(text: str) -> list[str]:
    """Split on every line break Python knows (CR, LF, NEL, U+2028...), then clean each line."""
    return [_printable(line).rstrip() for line in text.splitlines()]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + _CUT_MARK


def _inline(text: str) -> str:
    """Outside text on one line: line breaks and tabs become spaces, so the value cannot start
    a line of its own (no "Bcc:" line, no fake signature)."""
    pieces = (line.replace("\t", " ").strip() for line in _lines(text))
    return _cut(" ".join(piece for piece in pieces if piece), _INLINE_LIMIT)


def _quoted(text: str) -> str:
    """Outside text of several lines, each behind "> ", as mail quotes what others wrote."""
    lines = _lines(_cut(text, _QUOTED_LIMIT))
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join((_QUOTE + line).rstrip() for line in lines)


def _label(labels: Mapping[str, Mapping[str, str]], code: str, lang: str) -> str:
    """The reader's words for a known code; an unknown one is shown as given, made inert."""
    known = labels.get(code)
    return known[lang] if known else _inline(code)


def _problem(text: str, lang: str) -> str:
    """A missing document or detail of a takedown request, in the requester's language."""
    plain = _inline(text)
    if lang == "en":
        return plain[:1].upper() + plain[1:]
    for pattern, words in _PROBLEMS_JA:
        match = pattern.fullmatch(plain)
        if match:
            return match.expand(words)
    return plain


def _reference(value: str) -> str:
    if not _CASE_REFERENCE.fullmatch(value):
        raise ValueError(f"case reference {value!r} cannot go in a subject: use e.g. TD-000123")
    return value


def _address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError as exc:
        raise ValueError(f"source_ip {value!r} is not an IP address") from exc


def _deadline(moment: datetime, lang: str) -> str:
    """A deadline in JST to the minute. Periods in days end at 24:00 of their last day (Civil
    Code Art. 141, SPEC "Counting periods"), so 00:00 is written as 24:00 of the day before,
    the day the reader counts as the last one."""
    local = to_jst(moment)
    day, hour = local.date(), local.hour
    if local.time() == time(0):
        day, hour = day - timedelta(days=1), 24
    if lang == "ja":
        return f"{day.year}年{day.month}月{day.day}日 {hour:02d}時{local.minute:02d}分 (JST)"
    return f"{day.isoformat()} {hour:02d}:{local.minute:02d} JST"


def _moment(moment: datetime, lang: str) -> str:
    """When the abuse was seen, in JST to the second: seed 000 asks for the JST time, and a
    dynamic address may change hands within a minute."""
    local = to_jst(moment)
    if lang == "ja":
        return (
            f"{local.year}年{local.month}月{local.day}日 "
            f"{local.hour:02d}時{local.minute:02d}分{local.second:02d}秒 (JST)"
        )
    return f"{local:%Y-%m-%d %H:%M:%S} JST"


def _yen(amount: int, lang: str) -> str:
    """Whole yen with thousands separators: 6,600円 / 6,600 yen (seed 002 §12: no fractions)."""
    return f"{amount:,}円" if lang == "ja" else f"{amount:,} yen"


def _tidy(body: str) -> str:
    """At most one blank line in a row, and one final newline, whatever sections were left out."""
    return re.sub(r"\n{3,}", "\n\n", body).strip("\n") + "\n"
