"""RPZ rendering (pure): triggers and actions, the allowlist, SOA serials (RFC 1982)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from trustdesk.network.domains import is_within, parents
from trustdesk.network.rpz import (
    NXDOMAIN,
    ZoneHeader,
    cc_policy,
    cname_target,
    csam_policy,
    next_serial,
    render,
    triggers_in,
)

NOW = datetime(2026, 10, 20, 1, 0, tzinfo=UTC)


def test_a_zone_blocks_each_domain_and_everything_under_it() -> None:
    content = cc_policy(["evil.example", "c2.example.net"], [], NXDOMAIN)
    text = "".join(render(ZoneHeader(7, 300, "hostmaster.example.net"), content))
    assert text.splitlines()[1:] == [
        "$TTL 300",
        "@ SOA localhost. hostmaster.example.net. 7 3600 600 604800 300",
        "@ NS localhost.",
        "evil.example CNAME .",
        "*.evil.example CNAME .",
        "c2.example.net CNAME .",
        "*.c2.example.net CNAME .",
    ]


def test_a_walled_garden_rewrites_instead_of_nxdomain() -> None:
    content = cc_policy(["evil.example"], [], cname_target("garden.example.net"))
    assert list(content.records())[0] == "evil.example CNAME garden.example.net.\n"
    assert cname_target(None) == cname_target("") == "."


def test_the_allowlist_wins_over_every_feed() -> None:
    listed = ["example.net", "www.ours.example", "evil.example", "ok.evil.example"]
    content = cc_policy(listed, ["ours.example", "ok.evil.example"], NXDOMAIN)
    assert content.blocked == ("evil.example", "example.net")
    assert content.passthru == ("ok.evil.example",)  # inside a blocked domain: PASSTHRU
    assert "ok.evil.example CNAME rpz-passthru.\n" in list(content.records())


def test_names_under_a_blocked_domain_add_nothing() -> None:
    content = cc_policy(["a.evil.example", "evil.example", "b.c.evil.example"], [], NXDOMAIN)
    assert content.blocked == ("evil.example",)


def test_csam_hosts_are_blocked_alone() -> None:
    content = csam_policy(["img.example", "img.example", "a.img.example"], NXDOMAIN)
    assert list(content.records()) == ["img.example CNAME .\n", "a.img.example CNAME .\n"]


def test_the_digest_follows_the_content_and_ignores_order() -> None:
    one = cc_policy(["b.example", "a.example"], [], NXDOMAIN)
    assert one.digest() == cc_policy(["a.example", "b.example"], [], NXDOMAIN).digest()
    assert one.digest() != cc_policy(["a.example"], [], NXDOMAIN).digest()
    assert one.digest() != cc_policy(["b.example", "a.example"], [], "g.example.").digest()


def test_the_names_of_an_earlier_file_are_read_back() -> None:
    content = cc_policy(["evil.example", "ok.evil.example"], ["ok.evil.example"], NXDOMAIN)
    lines = "".join(render(ZoneHeader(1, 60, "h.example"), content)).splitlines()
    assert triggers_in(lines) == {"evil.example", "passthru:ok.evil.example"}


def test_serials_increase_even_within_one_second_and_across_the_wrap() -> None:
    first = next_serial(None, NOW)
    assert first == int(NOW.timestamp())
    assert next_serial(first, NOW) == first + 1
    assert next_serial(first + 5, NOW) == first + 6  # a clock set back never lowers it
    assert next_serial(2**32 - 1, datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)) == 0


labels = st.sampled_from(["a", "b", "c", "evil", "ok"])
names = st.lists(labels, min_size=2, max_size=4).map(lambda parts: ".".join(parts) + ".example")


@given(st.lists(names, max_size=30), st.lists(names, max_size=5))
def test_no_allowlisted_name_is_blocked_and_every_other_listed_one_is(
    listed: list[str], allowed: list[str]
) -> None:
    content = cc_policy(listed, allowed, NXDOMAIN)

    def answer(name: str) -> str:
        """How a resolver reads the zone: exact beats wildcard, longer wildcard wins."""
        for parent in parents(name):
            if parent in content.passthru:
                return "pass"
            if parent in content.blocked:
                return "block"
        return "pass"

    for name in set(listed) | set(allowed):
        allow = any(is_within(name, a) for a in allowed)
        assert answer(name) == ("pass" if allow else "block")
