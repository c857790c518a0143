"""Writing the resolver files: the two RPZ zones and the per-client opt-out files.

``export`` renders each file, compares it with what was last exported, and rewrites only the
files whose content changed — atomically (a temporary file in the same directory, fsync,
rename), so a resolver reloading at any moment reads the old file or the new one, never half.
A changed zone gets a greater SOA serial (``rpz.next_serial``), persisted in
``network_exports``. What changed is told by comparing with the file being replaced; for the
CSAM zone only as counts (seed 002 §28: its entries appear in no report). ``reload`` runs the
configured command (``unbound-control reload``, ``rndc reload``) after a change.

The opt-out files are computed from the registry at export time, so a RADIUS session that
started or stopped since the last export is reflected by the next one.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from trustdesk.attribution.addresses import address_key
from trustdesk.attribution.models import RadiusSession, StaticAssignment, Subscriber
from trustdesk.db import in_chunks
from trustdesk.network import csam, optout, rpz
from trustdesk.network import service as blocklists
from trustdesk.network.models import CsamChange, NetworkChange, ZoneExport
from trustdesk.privacy.service import record_access
from trustdesk.settings import IPNetwork, NetworkSettings

CC_ZONE = "cc.rpz"
CSAM_ZONE = "csam.rpz"
UNBOUND_OPTOUTS = "optout-unbound.conf"
BIND_OPTOUTS = "optout-bind.acl"
SAMPLE = 20  # names listed per file in a report; the rest are counted


class ReloadFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class FileChange:
    """One exported file: whether it was rewritten and what its content gained or lost."""

    name: str
    written: bool
    serial: int
    entries: int
    added: int = 0
    removed: int = 0
    added_sample: tuple[str, ...] = ()  # empty for the CSAM zone, whose names stay unsaid
    removed_sample: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.name,
            "changed": self.written,
            "serial": self.serial,
            "entries": self.entries,
            "added": self.added,
            "removed": self.removed,
            "added_sample": list(self.added_sample),
            "removed_sample": list(self.removed_sample),
        }


@dataclass(frozen=True)
class ExportReport:
    directory: str
    files: tuple[FileChange, ...]
    unreached: tuple[str, ...] = ()  # opted-out members the opt-out files reach no address of

    @property
    def changed(self) -> bool:
        return any(item.written for item in self.files)

    def as_json(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "changed": self.changed,
            "files": [item.as_json() for item in self.files],
            "warnings": [unreached_warning(member) for member in self.unreached],
        }


@dataclass(frozen=True)
class _Rendered:
    name: str
    digest: str
    entries: int
    chunks: Callable[[int], Iterator[str]]  # the file's text for a serial
    names: set[str]  # the names (or networks) the file acts on
    names_in: Callable[[str], set[str]]  # the names an earlier version of the file acts on
    secret: bool = False


def export(
    session: Session,
    out: Path,
    settings: NetworkSettings,
    provider_networks: Iterable[IPNetwork],
    now: datetime,
    actor: str,
) -> ExportReport:
    """Write what changed into ``out``; the caller commits the serials it recorded."""
    out.mkdir(parents=True, exist_ok=True)
    clients = client_networks(session, settings, provider_networks)
    optouts = _optouts(session, blocklists.opted_out_members(session), clients, now, actor)
    zones = (
        _zone_file(session, out, settings, CC_ZONE, _cc_content, secret=False, now=now),
        _zone_file(session, out, settings, CSAM_ZONE, _csam_content, secret=True, now=now),
    )
    networks = optouts.networks
    texts = (
        _text(UNBOUND_OPTOUTS, optout.unbound_snippet(networks, clients), networks),
        _text(BIND_OPTOUTS, optout.bind_acl(networks), networks),
    )
    files = zones + tuple(_write_if_changed(session, out, item, now) for item in texts)
    return ExportReport(str(out), files, optouts.unreached)


def unreached_warning(member: str) -> str:
    return (
        f"{member}: C&C blocking is off for this member, but no address of theirs is exported "
        "(no open session or static assignment within the resolvers' client networks now)"
    )


def client_networks(
    session: Session, settings: NetworkSettings, provider_networks: Iterable[IPNetwork]
) -> list[IPNetwork]:
    """The networks the resolvers serve: ``client_networks`` when configured, else what the
    registry shows subscribers asking from (``optout.client_ranges``)."""
    if settings.client_networks:
        return list(settings.client_networks)
    statics = {_network(prefix) for prefix in session.scalars(select(StaticAssignment.prefix))}
    return optout.client_ranges(provider_networks, statics, _pools_in_use(session))


def _pools_in_use(session: Session) -> list[IPNetwork]:
    """The inside pools some RADIUS session's address or delegated prefix lies in: one indexed
    range probe a pool, not a scan of the sessions. CGNAT inside addresses are found here too,
    through the sessions of the inside addresses that tie port blocks to members."""
    used = []
    for pool in optout.INSIDE_POOLS:
        low = address_key(pool.network_address)
        high = address_key(pool.broadcast_address)
        probes = (
            RadiusSession.address_key.between(low, high),
            RadiusSession.prefix_key.between(low, high),
        )
        if any(
            session.scalar(select(select(RadiusSession.id).where(probe).exists()))
            for probe in probes
        ):
            used.append(pool)
    return used


def optout_reach(
    session: Session,
    subscriber_id: str,
    settings: NetworkSettings,
    provider_networks: Iterable[IPNetwork],
    now: datetime,
    actor: str,
) -> list[IPNetwork]:
    """The networks an opt-out of ``subscriber_id`` would reach now: empty tells the operator
    at once that the switch changes nothing at the resolver until the member is online."""
    clients = client_networks(session, settings, provider_networks)
    return _optouts(session, {subscriber_id}, clients, now, actor).networks


def reload(command: list[str], timeout: float) -> str:
    """Run the resolver's reload command (no shell); its output, or ReloadFailed."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ReloadFailed(f"reload command {command[0]!r} could not run: {exc}") from exc
    if done.returncode != 0:
        raise ReloadFailed(
            f"reload command {' '.join(command)!r} exited {done.returncode}: "
            f"{(done.stderr or done.stdout).strip()[-500:]}"
        )
    return done.stdout.strip()


ZoneSource = Callable[[Session, NetworkSettings], rpz.ZoneContent]


def _zone_file(
    session: Session,
    out: Path,
    settings: NetworkSettings,
    name: str,
    content: ZoneSource,
    secret: bool,
    now: datetime,
) -> FileChange:
    """Render and write the zone unless its basis is the one last exported."""
    basis = _basis(session, settings, secret)
    state = session.get(ZoneExport, name)
    if state is not None and state.basis == basis and (out / name).exists():
        return FileChange(name, False, state.serial, state.entries)
    change = _write_if_changed(
        session, out, _zone(name, content(session, settings), settings, secret), now
    )
    session.get_one(ZoneExport, name).basis = basis
    return change


def _basis(session: Session, settings: NetworkSettings, csam_zone: bool) -> str:
    """What a zone's content follows from: the last change of its list and the settings that
    shape its records. The same basis as the last export means the same file, so an export
    run every minute does not read a million domains to find that nothing changed."""
    if csam_zone:
        changes, target = select(func.max(CsamChange.id), func.count()), settings.csam_block_page
    else:
        kinds = NetworkChange.subject_kind.in_(("cc", "allow"))
        changes = select(func.max(NetworkChange.id), func.count()).where(kinds)
        target = settings.cc_walled_garden
    # The count as well as the last id: a transaction holding a lower id may commit later.
    last, count = session.execute(changes).one()
    return f"{last or 0}:{count}|{target or ''}|{settings.zone_ttl}|{settings.soa_contact}"


def _cc_content(session: Session, settings: NetworkSettings) -> rpz.ZoneContent:
    return rpz.cc_policy(
        blocklists.listed_domains(session),
        blocklists.allowed_domains(session),
        rpz.cname_target(settings.cc_walled_garden),
    )


def _csam_content(session: Session, settings: NetworkSettings) -> rpz.ZoneContent:
    return rpz.csam_policy(csam.blocked_hosts(session), rpz.cname_target(settings.csam_block_page))


def _zone(
    name: str, content: rpz.ZoneContent, settings: NetworkSettings, secret: bool
) -> _Rendered:
    def chunks(serial: int) -> Iterator[str]:
        header = rpz.ZoneHeader(serial, settings.zone_ttl, settings.soa_contact)
        return rpz.render(header, content)

    def names_in(text: str) -> set[str]:
        return rpz.triggers_in(text.splitlines())

    entries = len(content.blocked) + len(content.passthru)
    header = f"{settings.zone_ttl}|{settings.soa_contact}|"  # a new TTL is a new file too
    digest = hashlib.sha256((header + content.digest()).encode()).hexdigest()
    return _Rendered(name, digest, entries, chunks, content.triggers(), names_in, secret)


def _text(name: str, body: str, networks: list[IPNetwork]) -> _Rendered:
    digest = hashlib.sha256(body.encode()).hexdigest()
    members = {str(network) for network in networks}
    return _Rendered(
        name, digest, len(networks), lambda serial: iter([body]), members, optout.networks_in
    )


def _write_if_changed(session: Session, out: Path, item: _Rendered, now: datetime) -> FileChange:
    state = session.get(ZoneExport, item.name)
    path = out / item.name
    if state is not None and state.digest == item.digest and path.exists():
        return FileChange(item.name, False, state.serial, item.entries)
    same_content = state is not None and state.digest == item.digest
    serial = state.serial if same_content and state else rpz.next_serial(_serial(state), now)
    before = item.names_in(path.read_text(encoding="utf-8")) if path.exists() else set()
    _write_atomically(path, item.chunks(serial))
    after = item.names
    if state is None:
        state = ZoneExport(name=item.name)
        session.add(state)
    state.serial, state.digest, state.entries, state.exported_at = (
        serial,
        item.digest,
        item.entries,
        now,
    )
    added, removed = sorted(after - before), sorted(before - after)
    shown = not item.secret
    return FileChange(
        item.name,
        True,
        serial,
        item.entries,
        len(added),
        len(removed),
        tuple(added[:SAMPLE]) if shown else (),
        tuple(removed[:SAMPLE]) if shown else (),
    )


def _serial(state: ZoneExport | None) -> int | None:
    return None if state is None else state.serial


def _write_atomically(path: Path, chunks: Iterable[str]) -> None:
    """Temporary file beside the target, fsync, rename over it, fsync the directory."""
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    )
    try:
        with handle:
            handle.writelines(chunks)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o644)  # the resolver runs as its own user
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _optouts(
    session: Session, members: set[str], clients: list[IPNetwork], now: datetime, actor: str
) -> optout.Optouts:
    """The networks opted-out members hold now (seed 002 §25-2-3), from sessions and static
    assignments. Reading sessions reads connection logs, hence the audit entry (§23)."""
    if not members:
        return optout.Optouts([], ())
    tenures = [*_static_tenures(session, members), *_session_tenures(session, members, now)]
    record_access(
        session,
        actor=actor,
        action="export-dns-optouts",
        subject="dns opt-outs",
        now=now,
        reason="seed 002 §25-2-3: resolver files for members who switched C&C blocking off",
        detail={"members": len(members)},
    )
    return optout.current_networks(tenures, members, now, clients)


def _static_tenures(session: Session, members: set[str]) -> list[optout.Tenure]:
    columns = (
        StaticAssignment.subscriber_id,
        StaticAssignment.prefix,
        StaticAssignment.valid_from,
        StaticAssignment.valid_to,
    )
    rows = [
        row
        for chunk in in_chunks(members)
        for row in session.execute(
            select(*columns).where(StaticAssignment.subscriber_id.in_(chunk))
        )
    ]
    return [
        optout.Tenure(row.subscriber_id, _network(row.prefix), row.valid_from, row.valid_to, False)
        for row in rows
    ]


def _session_tenures(session: Session, members: set[str], now: datetime) -> list[optout.Tenure]:
    """The members' open sessions, and every later session on the same addresses (which
    supersedes a session whose Stop was lost)."""
    columns = (
        Subscriber.subscriber_id,
        RadiusSession.framed_ip,
        RadiusSession.address_key,
        RadiusSession.framed_prefix,
        RadiusSession.prefix_key,
        RadiusSession.held_from,
        RadiusSession.stopped_at,
    )
    base = select(*columns).outerjoin(Subscriber, Subscriber.radius_user == RadiusSession.user_name)
    open_rows = [
        row
        for chunk in in_chunks(members)
        for row in session.execute(
            base.where(
                Subscriber.subscriber_id.in_(chunk),
                RadiusSession.held_from <= now,
                or_(RadiusSession.stopped_at.is_(None), RadiusSession.stopped_at > now),
            )
        )
    ]
    if not open_rows:
        return []
    earliest = min(row.held_from for row in open_rows)
    address_keys = {row.address_key for row in open_rows if row.address_key}
    prefix_keys = {row.prefix_key for row in open_rows if row.prefix_key}
    since = (RadiusSession.held_from > earliest, RadiusSession.held_from <= now)
    later = [
        row
        for key, keys in (
            (RadiusSession.address_key, address_keys),
            (RadiusSession.prefix_key, prefix_keys),
        )
        for chunk in in_chunks(keys)
        for row in session.execute(base.where(*since, key.in_(chunk)))
    ]
    tenures = []
    for row in {*open_rows, *later}:
        for network in _session_networks(row):
            tenures.append(
                optout.Tenure(row.subscriber_id, network, row.held_from, row.stopped_at, True)
            )
    return tenures


def _session_networks(row: Any) -> list[IPNetwork]:
    networks = []
    if row.framed_ip:
        networks.append(ipaddress.ip_network(row.framed_ip))
    if row.framed_prefix:
        networks.append(_network(row.framed_prefix))
    return networks


def _network(text: str) -> IPNetwork:
    return ipaddress.ip_network(text, strict=False)
