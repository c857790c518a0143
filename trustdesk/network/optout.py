"""Which client addresses skip the C&C zone, and the resolver files that say so (pure).

Seed 002 §25-2-3: a member may switch the C&C blocking off, "other conditions unchanged". A
resolver sees client addresses, not members, so the switch becomes the set of addresses the
opted-out members hold *now*: the address or delegated prefix of each open RADIUS session, and
each static assignment in force. A dynamic address belongs to the most recent session that took
it (as in attribution, ``resolve.supersede``): an open session whose Stop was lost no longer
counts once another session has the address.

Only the C&C zone is switched off; the CSAM zone (seed 002 §28) applies to every client. Two
resolver files carry the set (issue 6): an Unbound snippet of ``access-control-tag`` lines, where
the C&C ``rpz:`` clause is limited to the tag every other client has, and a BIND ACL that picks
the view without the C&C zone. (Client-IP PASSTHRU triggers inside the C&C zone were tried and
left out: Unbound 1.17 still applies the zone's QNAME triggers after such a PASSTHRU.)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from trustdesk.timeutil import require_aware

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

UNBOUND_TAG = "trustdesk_cc"
UNBOUND_OPTOUT_TAG = "trustdesk_cc_optout"
BIND_ACL = "trustdesk-cc-optout"


@dataclass(frozen=True)
class Tenure:
    """A session's or static assignment's hold on an address or prefix."""

    subscriber_id: str | None
    network: IPNetwork
    held_from: datetime
    held_until: datetime | None  # exclusive; None while held
    dynamic: bool  # a RADIUS session (superseded by a later session of the same network)


# Address blocks no one reaches the resolver from except through the provider's own network
# (RFC 1918, RFC 6598 shared address space for CGNAT, RFC 4193 unique local): when the registry
# shows subscribers inside one, the whole block is a pool of the resolver's clients.
INSIDE_POOLS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(text)
    for text in ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)


def client_ranges(
    provider_networks: Iterable[IPNetwork],
    static_prefixes: Iterable[IPNetwork],
    pools_in_use: Iterable[IPNetwork],
) -> list[IPNetwork]:
    """The resolvers' clients when ``client_networks`` is not configured: the provider's
    networks, every static prefix it assigned, and each inside pool its subscribers' sessions
    use. A CGNAT member asks the resolver from an inside address (100.64.0.0/10), which the
    announced public networks do not contain; left out, such a member was neither blocked
    (no C&C tag) nor could opt out (the address was dropped)."""
    return _collapsed([*provider_networks, *static_prefixes, *pools_in_use])


@dataclass(frozen=True)
class Optouts:
    """What the opt-out files carry, and the opted-out members they reach no address of."""

    networks: list[IPNetwork]
    unreached: tuple[str, ...]  # opted out, yet holding no client address now


def current_networks(
    tenures: Iterable[Tenure], opted_out: set[str], now: datetime, clients: Iterable[IPNetwork]
) -> Optouts:
    """The networks opted-out members hold at ``now``, within the resolver's client networks.

    A network outside ``clients`` is dropped: the Unbound snippet allows every network it
    names, and must not open the resolver to addresses that are not our customers'. A member
    left with no network is named in ``unreached``: the switch is on, but the resolver cannot
    tell the member's queries apart (offline, or an address outside the client networks).
    """
    require_aware(now)
    latest: dict[IPNetwork, Tenure] = {}
    held: list[Tenure] = []
    for tenure in tenures:
        if tenure.held_from > now:
            continue
        if tenure.dynamic:
            known = latest.get(tenure.network)
            if known is None or tenure.held_from > known.held_from:
                latest[tenure.network] = tenure
        elif _holds(tenure, now) and tenure.subscriber_id in opted_out:
            held.append(tenure)
    held += [t for t in latest.values() if _holds(t, now) and t.subscriber_id in opted_out]
    allowed = list(clients)
    inside = [t for t in held if any(_within(t.network, client) for client in allowed)]
    reached = {t.subscriber_id for t in inside}
    return Optouts(_collapsed(t.network for t in inside), tuple(sorted(opted_out - reached)))


def unbound_snippet(optouts: list[IPNetwork], clients: Iterable[IPNetwork]) -> str:
    """``include:`` it in unbound.conf's ``server:`` section; give the C&C ``rpz:`` clause
    ``tags: "trustdesk_cc"``. Clients have that tag; opted-out addresses, the more specific
    element, have only the opt-out tag, so the C&C zone skips them and the CSAM zone does not."""
    lines = [
        f"# trustdesk: C&C blocking opt-outs (seed 002 §25-2-3): {len(optouts)} networks",
        "server:",
        f'    define-tag: "{UNBOUND_TAG} {UNBOUND_OPTOUT_TAG}"',
    ]
    lines += [f'    access-control-tag: {net} "{UNBOUND_TAG}"' for net in _collapsed(clients)]
    lines += [f'    access-control-tag: {net} "{UNBOUND_OPTOUT_TAG}"' for net in optouts]
    return "\n".join(lines) + "\n"


def networks_in(text: str) -> set[str]:
    """The opt-out networks an earlier Unbound snippet or BIND ACL names, to report changes."""
    found = set()
    for line in text.splitlines():
        words = line.replace(";", " ").split()
        if len(words) >= 3 and words[0] == "access-control-tag:" and UNBOUND_OPTOUT_TAG in words[2]:
            found.add(words[1])
        elif len(words) == 1 and "/" in words[0]:
            found.add(words[0])
    return found


def bind_acl(optouts: list[IPNetwork]) -> str:
    """``include`` it in named.conf; the view matching this ACL lists only the CSAM zone in its
    ``response-policy``, the default view both zones."""
    members = [f"    {net};" for net in optouts] or ["    none;"]
    return (
        "\n".join(
            [
                f"// trustdesk: C&C blocking opt-outs (seed 002 §25-2-3): {len(optouts)} networks",
                f'acl "{BIND_ACL}" {{',
                *members,
                "};",
            ]
        )
        + "\n"
    )


def _holds(tenure: Tenure, now: datetime) -> bool:
    return tenure.held_until is None or tenure.held_until > now


def _within(network: IPNetwork, client: IPNetwork) -> bool:
    return network.version == client.version and network.subnet_of(client)  # type: ignore[arg-type]


def _collapsed(networks: Iterable[IPNetwork]) -> list[IPNetwork]:
    """Sorted, duplicates and nested prefixes merged, IPv4 first."""
    items = list(networks)
    result: list[IPNetwork] = []
    for version in (4, 6):
        same = [net for net in items if net.version == version]
        result += list(ipaddress.collapse_addresses(same))  # type: ignore[type-var]
    return result
