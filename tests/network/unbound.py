"""A real Unbound resolver on a loopback port, serving test names from a local auth zone.

The RPZ files trustdesk exports are loaded exactly as a production resolver loads them; the
names they act on are served by an ``auth-zone`` used for recursion (RPZ QNAME triggers apply
before auth zones, after local zones), so no query leaves the machine.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

TEST_ZONE = """$TTL 60
@ SOA ns.test. hostmaster.test. 1 3600 600 86400 60
@ NS ns.test.
ns A 127.0.0.1
* A 192.0.2.10
evil A 192.0.2.1
*.evil A 192.0.2.1
good.evil A 192.0.2.2
csam A 192.0.2.3
*.csam A 192.0.2.3
garden A 192.0.2.99
"""


@dataclass(frozen=True)
class Answer:
    rcode: str
    addresses: tuple[str, ...]
    names: tuple[str, ...]  # CNAME targets in the answer


@dataclass
class Unbound:
    config: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def reload_command(self) -> list[str]:
        return ["unbound-control", "-c", str(self.config), "reload"]

    def query(self, name: str, client: str = "127.0.0.1", rdtype: str = "A") -> Answer:
        """Ask from ``client`` (a loopback address: the whole of 127.0.0.0/8 works on Linux)."""
        message = dns.message.make_query(name, rdtype)
        response = dns.query.udp(message, "127.0.0.1", port=self.port, source=client, timeout=3)
        addresses, names = [], []
        for rrset in response.answer:
            for item in rrset:
                if rrset.rdtype == dns.rdatatype.A:
                    addresses.append(item.to_text())
                elif rrset.rdtype == dns.rdatatype.CNAME:
                    names.append(item.to_text())
        return Answer(dns.rcode.to_text(response.rcode()), tuple(addresses), tuple(names))

    def soa_serial(self, zone: str) -> int:
        message = dns.message.make_query(zone, "SOA")
        response = dns.query.udp(message, "127.0.0.1", port=self.port, timeout=3)
        return int(response.answer[0][0].serial)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_CONFIG = """server:
    interface: 127.0.0.1@{port}
    port: {port}
    do-ip6: no
    username: ""
    chroot: ""
    directory: "{directory}"
    pidfile: "{directory}/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    module-config: "respip iterator"
    access-control: 127.0.0.0/8 allow
    local-zone: "test." nodefault
    include: "{zones}/optout-unbound.conf"
rpz:
    name: "csam.rpz."
    zonefile: "{zones}/csam.rpz"
    for-downstream: yes
rpz:
    name: "cc.rpz."
    zonefile: "{zones}/cc.rpz"
    tags: "trustdesk_cc"
    for-downstream: yes
auth-zone:
    name: "test."
    zonefile: "{directory}/test.zone"
    for-downstream: no
    for-upstream: yes
remote-control:
    control-enable: yes
    control-interface: "{directory}/control.sock"
    control-use-cert: no
"""


def start_unbound(directory: Path, zones: Path) -> Unbound:
    """Start ``unbound -d`` with the exported ``zones`` (csam.rpz first, cc.rpz limited to the
    clients tagged by optout-unbound.conf) and wait until it answers."""
    if shutil.which("unbound") is None or shutil.which("unbound-control") is None:
        message = "needs the Debian package unbound (apt-get install -y unbound)"
        if os.environ.get("TRUSTDESK_REQUIRE_UNBOUND"):
            pytest.fail(message)  # CI installs it: a missing resolver is a failure there
        pytest.skip(message)
    (directory / "test.zone").write_text(TEST_ZONE)
    for _attempt in range(5):
        # The port is free when probed, but it is in the ephemeral range: another process may
        # take it (UDP or TCP) before Unbound binds it; then start again on another.
        port = _free_port()
        config = directory / "unbound.conf"
        config.write_text(_CONFIG.format(port=port, directory=directory, zones=zones))
        log_path = directory / "unbound.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(["unbound", "-d", "-c", str(config)], stdout=log, stderr=log)
        server = Unbound(config, port, process)
        try:
            _wait_until_answering(server, log_path)
            return server
        except PortTaken:
            continue
    raise RuntimeError(f"unbound found no free port: {log_path.read_text(errors='replace')}")


class PortTaken(RuntimeError):
    """Unbound could not bind the port chosen for it."""


def _free_port() -> int:
    """A loopback port free for UDP and for TCP (Unbound listens on both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port


def _wait_until_answering(server: Unbound, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            text = log.read_text(errors="replace")
            if "Address already in use" in text:
                raise PortTaken(text)
            raise RuntimeError(f"unbound exited: {text}")
        try:
            server.query("ns.test")
            return
        except (OSError, dns.exception.Timeout):
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"unbound did not answer: {log.read_text(errors='replace')}")
