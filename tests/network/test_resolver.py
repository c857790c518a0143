"""The exported zones in a real Unbound (issue 6, Proof): what members' resolvers answer.

seed 002 §25-2-1: listed C&C domains and their subdomains are blocked without warning;
§25-2-3: a member who opted out resolves them, from the addresses the member holds now, and
nothing else changes for them — §28: CSAM-listed hosts stay blocked for everyone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import CONFIG, CliResult
from tests.network.unbound import Unbound, start_unbound

NOW = "2026-10-21T12:00:00+09:00"
LATER = "2026-10-21T13:00:00+09:00"


def _session(status: str, session_id: str, address: str, at: str, epoch: int) -> str:
    return (
        f'Wed Oct 21 11:00:00 2026\n\tAcct-Session-Id = "{session_id}"\n'
        f'\tAcct-Status-Type = {status}\n\tUser-Name = "sho@example.net"\n'
        f"\tFramed-IP-Address = {address}\n\tNAS-IP-Address = 203.0.113.2\n"
        f'\tEvent-Timestamp = "{at}"\n\tTimestamp = {epoch}\n\n'
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "zones").mkdir()
    return tmp_path


def _config(workspace: Path, extra: str = "") -> Path:
    """Example Net, with loopback as the resolver's clients and Unbound's reload command."""
    path = workspace / "trustdesk.toml"
    control = workspace / "unbound" / "unbound.conf"
    path.write_text(
        CONFIG.read_text()
        + f"""
[network]
client_networks = ["127.0.0.0/8"]
reload_command = ["unbound-control", "-c", "{control}", "reload"]
{extra}
"""
    )
    return path


@pytest.fixture
def listed(cli: Callable[..., CliResult], workspace: Path, examplenet: None) -> Path:
    """C&C feed, allowlist, CSAM list and member C2005 (sho@example.net) opted out, online
    at 127.0.0.2."""
    feed = workspace / "cc.txt"
    feed.write_text("# test feed\nevil.test\n")
    csam = workspace / "csam.txt"
    csam.write_text("http://csam.test/images/1.jpg\n")
    radius = workspace / "sessions.detail"
    radius.write_text(_session("Start", "S1", "127.0.0.2", "Oct 21 2026 11:00:00 JST", 1792548000))
    for args in (
        ("import", "cc", str(feed), "--source", "testfeed"),
        ("import", "csam", str(csam)),
        ("allow", "good.evil.test", "--reason", "our partner's service"),
        ("optout", "C2005", "on", "--reason", "member asked in the console"),
    ):
        assert cli("--now", NOW, "network", *args).exit_code == 0
    assert cli("import", "radius", str(radius)).exit_code == 0
    return _config(workspace)


def _export(
    cli: Callable[..., CliResult], workspace: Path, config: Path, now: str, *options: str
) -> CliResult:
    return cli(
        "--now",
        now,
        "network",
        "export",
        "--out",
        str(workspace / "zones"),
        *options,
        config=config,
    )


@pytest.fixture
def resolver(cli: Callable[..., CliResult], workspace: Path, listed: Path) -> Iterator[Unbound]:
    result = _export(cli, workspace, listed, NOW, "--no-reload")  # nothing is running yet
    assert result.exit_code == 0, result.output
    (workspace / "unbound").mkdir()
    server = start_unbound(workspace / "unbound", workspace / "zones")
    yield server
    server.stop()


def test_a_listed_domain_and_its_subdomains_answer_nxdomain(resolver: Unbound) -> None:
    assert resolver.query("evil.test").rcode == "NXDOMAIN"
    assert resolver.query("www.evil.test").rcode == "NXDOMAIN"
    assert resolver.query("a.b.evil.test").rcode == "NXDOMAIN"


def test_allowlisted_and_unlisted_names_resolve(resolver: Unbound) -> None:
    assert resolver.query("good.evil.test").addresses == ("192.0.2.2",)
    assert resolver.query("unlisted.test").addresses == ("192.0.2.10",)
    assert resolver.query("notevil.test").addresses == ("192.0.2.10",)


def test_a_csam_url_blocks_its_host_for_everyone(resolver: Unbound) -> None:
    assert resolver.query("csam.test").rcode == "NXDOMAIN"
    assert resolver.query("csam.test", client="127.0.0.2").rcode == "NXDOMAIN"
    # Only the host: the names under it are not on the list (seed 002 §28-2, as little as can be).
    assert resolver.query("other.csam.test").addresses == ("192.0.2.3",)


def test_an_opted_out_member_resolves_cc_names_but_not_csam(resolver: Unbound) -> None:
    assert resolver.query("evil.test", client="127.0.0.2").addresses == ("192.0.2.1",)
    assert resolver.query("www.evil.test", client="127.0.0.2").addresses == ("192.0.2.1",)
    assert resolver.query("csam.test", client="127.0.0.2").rcode == "NXDOMAIN"
    assert resolver.query("evil.test", client="127.0.0.3").rcode == "NXDOMAIN"


def test_a_new_session_of_the_member_is_let_through_after_the_next_export(
    cli: Callable[..., CliResult], workspace: Path, listed: Path, resolver: Unbound
) -> None:
    moved = workspace / "moved.detail"
    moved.write_text(
        _session("Stop", "S1", "127.0.0.2", "Oct 21 2026 12:30:00 JST", 1792553400)
        + _session("Start", "S2", "127.0.0.3", "Oct 21 2026 12:31:00 JST", 1792553460)
    )
    assert cli("import", "radius", str(moved)).exit_code == 0
    serial = resolver.soa_serial("cc.rpz")

    result = _export(cli, workspace, listed, LATER)

    assert result.exit_code == 0, result.output
    assert "+ 127.0.0.3/32" in result.output and "- 127.0.0.2/32" in result.output
    assert "reloaded" in result.output
    assert resolver.query("evil.test", client="127.0.0.3").addresses == ("192.0.2.1",)
    assert resolver.query("evil.test", client="127.0.0.2").rcode == "NXDOMAIN"
    assert resolver.soa_serial("cc.rpz") == serial  # the C&C zone itself did not change


def test_a_changed_list_reaches_the_resolver_with_a_greater_serial(
    cli: Callable[..., CliResult], workspace: Path, listed: Path, resolver: Unbound
) -> None:
    serial = resolver.soa_serial("cc.rpz")
    assert resolver.query("later.test").addresses == ("192.0.2.10",)
    assert (
        cli("--now", LATER, "network", "block", "later.test", "--reason", "CERT report").exit_code
        == 0
    )

    result = _export(cli, workspace, listed, LATER)

    assert result.exit_code == 0, result.output
    assert resolver.soa_serial("cc.rpz") > serial
    assert resolver.query("later.test").rcode == "NXDOMAIN"


def test_walled_garden_and_block_page_names_answer_instead_of_nxdomain(
    cli: Callable[..., CliResult], workspace: Path, listed: Path
) -> None:
    config = _config(
        workspace, 'cc_walled_garden = "garden.test"\ncsam_block_page = "garden.test."'
    )
    result = _export(cli, workspace, config, NOW, "--no-reload")
    assert result.exit_code == 0, result.output
    (workspace / "unbound").mkdir()
    server = start_unbound(workspace / "unbound", workspace / "zones")
    try:
        blocked, page = server.query("www.evil.test"), server.query("csam.test")
    finally:
        server.stop()
    assert blocked.names == ("garden.test.",) and blocked.addresses == ("192.0.2.99",)
    assert page.names == ("garden.test.",) and page.addresses == ("192.0.2.99",)
