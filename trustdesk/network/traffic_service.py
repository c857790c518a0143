"""Traffic counters in the database, the restriction of sites over the limit, the daily report.

``import_file`` reads a web server access log (bytes per virtual host per JST day) or a
FreeRADIUS detail file (octet counters per session). A growing log is read on from where the
last import of it stopped, and the same content is never counted twice, so a cron job can
import every hour. A site that reached the daily limit (seed 002 §25-2) is reported like any
other machine report — a stored document and a complaint of kind ``traffic``, attributed to
the member who hosts the site — and the ``traffic`` case workflow restricts it with a notice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.attribution.models import HostedSite
from trustdesk.attribution.records import RowError
from trustdesk.attribution.service import Attributor
from trustdesk.cases import service as cases
from trustdesk.cases.models import Case, CaseComplaint
from trustdesk.cases.policy import Policy
from trustdesk.intake import service as intake
from trustdesk.intake.models import Complaint
from trustdesk.intake.report import Report
from trustdesk.network import radius_counters, traffic
from trustdesk.network.accesslog import read_access_log
from trustdesk.network.counters import jst_day
from trustdesk.network.domains import parents
from trustdesk.network.models import (
    SiteTransferDay,
    TrafficImport,
)
from trustdesk.privacy.service import record_access
from trustdesk.settings import Settings
from trustdesk.timeutil import JST, iso_jst

LogKind = Literal["auto", "access-log", "radius"]
LOG_KINDS: tuple[LogKind, ...] = ("auto", "access-log", "radius")
CHUNK = 1000


@dataclass
class TrafficImportReport:
    file: str
    kind: str
    skipped: str | None = None
    lines: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    days: list[str] = field(default_factory=list)
    sessions: int = 0
    restricted: list[str] = field(default_factory=list)  # case references opened or joined

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "kind": self.kind,
            "skipped": self.skipped,
            "lines": self.lines,
            "rejected": self.rejected,
            "errors": [str(error) for error in self.errors],
            "days": self.days,
            "sessions": self.sessions,
            "restricted": self.restricted,
        }


def import_file(
    session: Session,
    path: Path,
    settings: Settings,
    policy: Policy,
    now: datetime,
    actor: str,
    kind: LogKind = "auto",
    vhost: str | None = None,
) -> TrafficImportReport:
    """Read the new part of ``path`` into the counters; open restriction cases when a site's
    day reached the limit within ``policy.site_transfer_lookback_days``."""
    data = path.read_bytes()
    chosen = _detect(data) if kind == "auto" else kind
    report = TrafficImportReport(str(path), chosen)
    consumed = _complete_part(data, chosen)
    digest = hashlib.sha256(data[:consumed]).hexdigest()
    offset, report.skipped = _resume_point(session, str(path), data, consumed, digest)
    if report.skipped:
        return report
    first_line = data.count(b"\n", 0, offset) + 1
    text = data[offset:consumed].decode("utf-8", errors="replace").splitlines(keepends=True)
    if chosen == "radius":
        loaded = radius_counters.load(session, text, str(path), first_line)
        report.lines, report.errors, report.sessions = (
            loaded.records,
            loaded.errors,
            loaded.sessions,
        )
        report.rejected = len(loaded.errors)
        report.days = sorted(day.isoformat() for day in loaded.days)
    else:
        days = _import_access_log(session, text, str(path), first_line, vhost, report)
        report.restricted = _restrict_over_limit(session, days, settings, policy, now, actor)
    session.add(
        TrafficImport(
            source=str(path),
            kind=chosen,
            consumed=consumed,
            prefix_sha256=digest,
            imported_at=now,
            lines=report.lines,
            rejected=report.rejected,
        )
    )
    session.flush()
    return report


def _detect(data: bytes) -> LogKind:
    head = data[:8192]
    return "radius" if b"Acct-Status-Type" in head or b"Acct-Session-Id" in head else "access-log"


def _complete_part(data: bytes, kind: str) -> int:
    """Bytes up to the last complete line (RADIUS: the last complete record, when the file
    has a record separator), so a log still being written is read on next time."""
    if kind == "radius" and (end := data.rfind(b"\n\n")) >= 0:
        return end + 2
    return data.rfind(b"\n") + 1


def _resume_point(
    session: Session, source: str, data: bytes, consumed: int, digest: str
) -> tuple[int, str | None]:
    """Where to start reading, or why there is nothing to read (``digest``: of the part read
    now, ``data[:consumed]``)."""
    seen = session.scalars(
        select(TrafficImport.source).where(TrafficImport.prefix_sha256 == digest).limit(1)
    ).first()
    if seen is not None:
        return 0, f"already imported (as {seen})"
    last = session.scalars(
        select(TrafficImport)
        .where(TrafficImport.source == source)
        .order_by(TrafficImport.id.desc())
        .limit(1)
    ).first()
    if (
        last is not None
        and last.consumed <= consumed
        and hashlib.sha256(data[: last.consumed]).hexdigest() == last.prefix_sha256
    ):
        return last.consumed, None
    return 0, None


# --- web transfer -----------------------------------------------------------------------------


def _import_access_log(
    session: Session,
    lines: list[str],
    source: str,
    first_line: int,
    vhost: str | None,
    report: TrafficImportReport,
) -> set[date]:
    transfer = read_access_log(lines, source, vhost, first_line)
    report.lines, report.rejected, report.errors = (
        transfer.lines,
        transfer.rejected,
        transfer.errors,
    )
    keys = list(transfer.days)
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        existing = {
            (row.vhost, row.day): row
            for row in session.scalars(
                select(SiteTransferDay).where(
                    SiteTransferDay.vhost.in_({v for v, _ in chunk}),
                    SiteTransferDay.day.in_({d for _, d in chunk}),
                )
            )
        }
        for key in chunk:
            day = transfer.days[key]
            row = existing.get(key)
            if row is None:
                session.add(
                    SiteTransferDay(
                        vhost=key[0],
                        day=key[1],
                        bytes_sent=day.bytes_sent,
                        requests=day.requests,
                        first_at=day.first_at,
                        last_at=day.last_at,
                    )
                )
            else:
                row.bytes_sent += day.bytes_sent
                row.requests += day.requests
                row.first_at, row.last_at = (
                    min(row.first_at, day.first_at),
                    max(row.last_at, day.last_at),
                )
    session.flush()
    days = {day for _, day in keys}
    report.days = sorted(day.isoformat() for day in days)
    return days


@dataclass
class SiteTotal:
    site: str
    subscriber_id: str | None
    vhosts: list[str]
    bytes_sent: int = 0
    requests: int = 0
    last_at: datetime | None = None


def site_totals(session: Session, day: date) -> dict[str, SiteTotal]:
    """The day's transfer per hosted site: each virtual host counts for the hosted domain it
    is, or is under (www.example.jp for example.jp); a host we do not host counts alone."""
    rows = session.scalars(select(SiteTransferDay).where(SiteTransferDay.day == day)).all()
    hosted = _hosted_sites(session, {row.vhost for row in rows}, day)
    totals: dict[str, SiteTotal] = {}
    for row in rows:
        site, subscriber = hosted.get(row.vhost, (row.vhost, None))
        total = totals.setdefault(site, SiteTotal(site, subscriber, []))
        total.vhosts.append(row.vhost)
        total.bytes_sent += row.bytes_sent
        total.requests += row.requests
        total.last_at = max(filter(None, (total.last_at, row.last_at)))
    return totals


def _hosted_sites(session: Session, vhosts: set[str], day: date) -> dict[str, tuple[str, str]]:
    start = datetime.combine(day, time(0), tzinfo=JST)
    end = start + timedelta(days=1)
    names = {name for vhost in vhosts if "." in vhost for name in parents(vhost)}
    rows = session.execute(
        select(HostedSite.domain, HostedSite.subscriber_id).where(
            HostedSite.domain.in_(names),
            HostedSite.valid_from < end,
            (HostedSite.valid_to.is_(None)) | (HostedSite.valid_to > start),
        )
    ).all()
    by_domain = {row.domain: row.subscriber_id for row in rows}
    found = {}
    for vhost in vhosts:
        match = (
            next((name for name in parents(vhost) if name in by_domain), None)
            if "." in vhost
            else None
        )
        if match is not None:
            found[vhost] = (match, by_domain[match])
    return found


def _restrict_over_limit(
    session: Session,
    days: Iterable[date],
    settings: Settings,
    policy: Policy,
    now: datetime,
    actor: str,
) -> list[str]:
    """Seed 002 §25-2: report each hosted site over the limit on a recent day; the case
    workflow restricts it. Older days are left to the report."""
    earliest = jst_day(now) - timedelta(days=policy.site_transfer_lookback_days)
    opened = []
    for day in sorted(d for d in days if earliest <= d <= jst_day(now)):
        totals = site_totals(session, day)
        over = traffic.over_limit({site: t.bytes_sent for site, t in totals.items()}, policy)
        for site in over:
            if totals[site].subscriber_id is None:
                continue  # not a site we host: nobody to restrict
            case = _report_excess(session, totals[site], day, settings, policy, now, actor)
            if case is not None:
                opened.append(case.reference)
    return opened


def _excess(total: SiteTotal, day: date, policy: Policy) -> Report:
    measured = {
        "site": total.site,
        "day": day.isoformat(),
        "bytes_sent": total.bytes_sent,
        "requests": total.requests,
        "virtual_hosts": sorted(total.vhosts),
        "limit_bytes": policy.site_daily_transfer_limit_bytes,
    }
    return Report(
        kind="traffic",
        category="daily_transfer_limit",
        source_format="traffic-monitor",
        fingerprint=_fingerprint(total.site, day),
        evidence=json.dumps(measured, ensure_ascii=False, sort_keys=True),
        observed_at=total.last_at,
        domain=total.site,
        url=total.site,
        details=measured
        | {
            "information": f"{day.isoformat()} (JST): {total.bytes_sent:,} bytes in "
            f"{total.requests:,} requests; limit {policy.site_daily_transfer_limit_bytes:,} bytes"
        },
    )


def _report_excess(
    session: Session,
    total: SiteTotal,
    day: date,
    settings: Settings,
    policy: Policy,
    now: datetime,
    actor: str,
) -> Case | None:
    """Store the measurement as evidence and record it as a complaint about the site's holder;
    the same site and day twice is one complaint (and one case)."""
    report = _excess(total, day, policy)
    document = intake.store_document(
        session,
        report.evidence.encode(),
        f"traffic:{total.site}:{day}",
        now,
        settings.intake.max_document_bytes,
    )
    document.status = "parsed"
    attributor = Attributor(
        session, settings.provider, timedelta(seconds=settings.attribution.clock_skew_seconds)
    )
    outcome = intake.record(session, attributor, document.id, document.filename or "", report, now)
    record_access(
        session,
        actor=actor,
        action="attribute-traffic",
        subject=f"site {total.site}",
        now=now,
        reason="seed 002 §25-2: daily transfer limit",
        detail={"day": day.isoformat()},
    )
    if outcome.duplicate or outcome.complaint is None:
        return None
    return cases.on_complaint(session, outcome.complaint, policy, settings.provider, now, actor)


# --- the daily report ---------------------------------------------------------------------------


def report(
    session: Session, day: date, policy: Policy, now: datetime, actor: str, reason: str
) -> dict[str, Any]:
    """The day's traffic: sites against the §25-2 limit (with their restriction case), and the
    subscribers flagged under §25-3 with chart data against the median and mean. Reading
    per-subscriber traffic is reading communications data, hence the audit entry (§23)."""
    totals = site_totals(session, day)
    cases_by_site = _restriction_cases(session, list(totals), day)
    days = traffic.window(day, policy.heavy_user_window_days)
    daily = radius_counters.subscriber_totals(session, days)
    median, mean = traffic.day_statistics(daily.get(day, {}))
    heavy = traffic.heavy_users(daily, days, policy)
    record_access(
        session,
        actor=actor,
        action="traffic-report",
        subject=f"traffic {day.isoformat()}",
        now=now,
        reason=reason,
        detail={"flagged": [user.subscriber for user in heavy]},
    )
    return {
        "day": day.isoformat(),
        "site_limit_bytes": policy.site_daily_transfer_limit_bytes,
        "sites": [
            {
                "site": total.site,
                "subscriber_id": total.subscriber_id,
                "virtual_hosts": sorted(total.vhosts),
                "bytes": total.bytes_sent,
                "requests": total.requests,
                "last_at": iso_jst(total.last_at),
                "over_limit": total.bytes_sent >= policy.site_daily_transfer_limit_bytes,
                "case": cases_by_site.get(total.site),
            }
            for total in sorted(totals.values(), key=lambda t: (-t.bytes_sent, t.site))
        ],
        "subscribers": {
            "active": len([v for v in daily.get(day, {}).values() if v > 0]),
            "median_bytes": median,
            "mean_bytes": mean,
            "window": [d.isoformat() for d in days],
            "far_above": {
                "median_multiple": policy.heavy_user_median_multiple,
                "min_bytes_per_day": policy.heavy_user_min_bytes_per_day,
                "min_days": policy.heavy_user_min_days,
            },
        },
        "flagged_for_bandwidth_control": [user.as_json() for user in heavy],
    }


def heavy_users(session: Session, day: date, policy: Policy) -> list[traffic.HeavyUser]:
    """The §25-3 flags for ``day`` as values, for the SVG charts."""
    days = traffic.window(day, policy.heavy_user_window_days)
    return traffic.heavy_users(radius_counters.subscriber_totals(session, days), days, policy)


def _restriction_cases(session: Session, sites: list[str], day: date) -> dict[str, str]:
    """The case each site's excess of ``day`` went into, by reference."""
    prints = {
        intake.fingerprint_of(Report("traffic", "", "", _fingerprint(site, day), "")): site
        for site in sites
    }
    rows = session.execute(
        select(Complaint.fingerprint, Case)
        .join(CaseComplaint, CaseComplaint.complaint_id == Complaint.id)
        .join(Case, Case.id == CaseComplaint.case_id)
        .where(Complaint.fingerprint.in_(list(prints)))
    ).all()
    return {prints[fingerprint]: case.reference for fingerprint, case in rows}


def _fingerprint(site: str, day: date) -> tuple[str, ...]:
    """One excess per site and day: a second import of the same day is the same event."""
    return ("traffic", site, day.isoformat())
