"""Which addresses skip the C&C zone (seed 002 §25-2-3), and the resolver files (pure)."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta

from trustdesk.network.optout import (
    INSIDE_POOLS,
    Optouts,
    Tenure,
    bind_acl,
    client_ranges,
    current_networks,
    networks_in,
    unbound_snippet,
)
from trustdesk.timeutil import JST

NOW = datetime(2026, 10, 21, 12, 0, tzinfo=JST)
HOUR = timedelta(hours=1)
CLIENTS = [ipaddress.ip_network("198.51.100.0/24"), ipaddress.ip_network("2001:db8:100::/40")]


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


def session(who: str | None, address: str, start: datetime, stop: datetime | None = None) -> Tenure:
    return Tenure(who, net(address), start, stop, dynamic=True)


def static(who: str, prefix: str, start: datetime, end: datetime | None = None) -> Tenure:
    return Tenure(who, net(prefix), start, end, dynamic=False)


def test_open_sessions_and_static_assignments_in_force_count() -> None:
    tenures = [
        session("C1", "198.51.100.10", NOW - HOUR),
        session("C1", "198.51.100.11", NOW - 3 * HOUR, NOW - 2 * HOUR),  # stopped
        static("C1", "198.51.100.64/30", NOW - 100 * HOUR),
        static("C1", "198.51.100.80/32", NOW - 100 * HOUR, NOW - HOUR),  # ended
        session("C1", "2001:db8:100:3b00::/56", NOW - HOUR),
        session("C2", "198.51.100.12", NOW - HOUR),  # not opted out
        session("C1", "198.51.100.13", NOW + HOUR),  # not yet
    ]
    assert current_networks(tenures, {"C1"}, NOW, CLIENTS).networks == [
        net("198.51.100.10/32"),
        net("198.51.100.64/30"),
        net("2001:db8:100:3b00::/56"),
    ]


def test_a_session_with_a_lost_stop_ends_when_another_takes_the_address() -> None:
    tenures = [
        session("C1", "198.51.100.10", NOW - 5 * HOUR),  # Stop never arrived
        session("C2", "198.51.100.10", NOW - HOUR, NOW - HOUR / 2),
    ]
    assert current_networks(tenures, {"C1"}, NOW, CLIENTS).networks == []
    assert current_networks(tenures[:1], {"C1"}, NOW, CLIENTS).networks == [net("198.51.100.10/32")]


def test_addresses_outside_the_resolvers_clients_are_never_exported() -> None:
    tenures = [session("C1", "192.0.2.7", NOW - HOUR), static("C1", "0.0.0.0/0", NOW - HOUR)]
    assert current_networks(tenures, {"C1"}, NOW, CLIENTS) == Optouts([], ("C1",))


def test_a_member_holding_no_client_address_is_named_unreached() -> None:
    """The switch is on but the resolver cannot tell the member's queries apart: offline,
    or asking from an address outside the client networks. Said, never silently dropped."""
    tenures = [
        session("C1", "198.51.100.10", NOW - HOUR),
        session("C2", "198.51.100.11", NOW - 3 * HOUR, NOW - 2 * HOUR),  # offline now
        session("C3", "100.64.2.10", NOW - HOUR),  # inside a CGNAT, not a client network here
    ]
    assert current_networks(tenures, {"C1", "C2", "C3", "C4"}, NOW, CLIENTS) == Optouts(
        [net("198.51.100.10/32")], ("C2", "C3", "C4")
    )


def test_client_ranges_take_the_registry_s_static_prefixes_and_inside_pools() -> None:
    """A CGNAT member asks from 100.64.0.0/10: with the pool among the clients, the member is
    both blocked (tagged) and able to opt out; unused pools are not opened."""
    clients = client_ranges(CLIENTS, [net("192.0.2.64/30")], [net("100.64.0.0/10")])
    assert clients == [
        net("100.64.0.0/10"),
        net("192.0.2.64/30"),
        net("198.51.100.0/24"),
        net("2001:db8:100::/40"),
    ]
    member = [session("C3", "100.64.2.10", NOW - HOUR)]
    assert current_networks(member, {"C3"}, NOW, clients) == Optouts([net("100.64.2.10/32")], ())
    assert net("10.0.0.0/8") in INSIDE_POOLS and net("10.0.0.0/8") not in clients


def test_the_unbound_snippet_tags_clients_and_the_opted_out_apart() -> None:
    text = unbound_snippet([net("198.51.100.10/32")], CLIENTS)
    assert text.splitlines()[1:] == [
        "server:",
        '    define-tag: "trustdesk_cc trustdesk_cc_optout"',
        '    access-control-tag: 198.51.100.0/24 "trustdesk_cc"',
        '    access-control-tag: 2001:db8:100::/40 "trustdesk_cc"',
        '    access-control-tag: 198.51.100.10/32 "trustdesk_cc_optout"',
    ]
    assert networks_in(text) == {"198.51.100.10/32"}


def test_the_bind_acl_is_valid_even_when_empty() -> None:
    assert 'acl "trustdesk-cc-optout" {\n    none;\n};' in bind_acl([])
    text = bind_acl([net("198.51.100.10/32"), net("2001:db8:100:3b00::/56")])
    assert "    198.51.100.10/32;\n    2001:db8:100:3b00::/56;\n" in text
    assert networks_in(text) == {"198.51.100.10/32", "2001:db8:100:3b00::/56"}
