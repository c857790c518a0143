"""Addresses as 16-byte keys, so that IPv4 and IPv6 share one indexed column on every database.

An IPv4 address is stored IPv4-mapped (``::ffff:a.b.c.d``) and its prefix length shifted by 96.
A prefix is stored as its network address plus length; looking up an address then means asking
for the address masked to each prefix length in use, an exact match the index answers directly.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_V4_MAPPED = 0xFFFF << 32
_ALL_ONES = (1 << 128) - 1


@lru_cache(maxsize=65536)
def parse_ip(text: str) -> IPAddress:
    """``ipaddress.ip_address``, remembered: a feed names the same addresses again and again."""
    return ipaddress.ip_address(text.strip())


@lru_cache(maxsize=65536)
def normalise_ip(text: str) -> str:
    """The canonical text of an address (``2001:db8::1``, ``192.0.2.1``); raises ValueError.

    An IPv4-mapped IPv6 address (``::ffff:192.0.2.1``) is the IPv4 host it maps, as intake
    reads it from complaints: the same host must get the same answer however it is written.
    """
    ip = parse_ip(text)
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return str(mapped or ip)


def _as_int128(ip: IPAddress) -> int:
    return _V4_MAPPED | int(ip) if ip.version == 4 else int(ip)


def address_key(text: str | IPAddress) -> bytes:
    """The 16-byte key of one address."""
    if isinstance(text, str):
        return _text_key(text)
    return _as_int128(text).to_bytes(16, "big")


@lru_cache(maxsize=65536)
def _text_key(text: str) -> bytes:
    return _as_int128(parse_ip(text)).to_bytes(16, "big")


def network_key(network: IPNetwork) -> tuple[bytes, int]:
    """The key of a prefix: its network address and its length in the 128-bit space."""
    length = network.prefixlen + (96 if network.version == 4 else 0)
    return address_key(network.network_address), length


def masked_keys(text: str, lengths: Iterable[int]) -> dict[int, bytes]:
    """The address masked to each prefix length (in the 128-bit space) that could contain it."""
    ip = parse_ip(text)
    value = _as_int128(ip)
    floor = 96 if ip.version == 4 else 0
    keys = {}
    for length in lengths:
        if floor <= length <= 128:
            mask = (_ALL_ONES << (128 - length)) & _ALL_ONES
            keys[length] = (value & mask).to_bytes(16, "big")
    return keys


class AddressSpace:
    """Networks as ranges of the 128-bit key space: is an address ours, in a few comparisons.

    Most addresses a feed names are not the provider's; telling so must cost less than the
    ``ipaddress`` containment test per network (issue 2 benchmark: skip them early).
    """

    def __init__(self, networks: Iterable[IPNetwork]) -> None:
        self._ranges: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        for network in networks:
            low = int(network.network_address)
            self._ranges[network.version].append((low, low + network.num_addresses - 1))

    def __contains__(self, text: str) -> bool:
        """Whether the address is in one of the networks of its own family (an IPv4-mapped
        IPv6 address is IPv6 here, as in ``ProviderSettings.owns``)."""
        ip = parse_ip(text)
        value = int(ip)
        return any(low <= value <= high for low, high in self._ranges[ip.version])
