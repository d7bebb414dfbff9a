"""What compiled rules call at request time: the client IP parsed once per distinct address, IP and integer
sets with fast membership, header names and URL decoding."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from urllib.parse import unquote_plus

from edgeplane.edge.request import EdgeRequest

__all__ = ["RUNTIME", "IPSet", "IntRanges", "address_key", "int_set", "ip_key"]

IPKey = tuple[int, int]
"""(IP version, address as an integer): what ``ip.src`` compiles to, cheap to compare and to hash."""


def address_key(address: IPv4Address | IPv6Address) -> IPKey:
    """The key of an address; an IPv4-mapped IPv6 address (``::ffff:1.2.3.4``) counts as its IPv4 address."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.version, int(address)


@lru_cache(maxsize=8192)
def ip_key(text: str) -> IPKey | None:
    """The key of the request's client address, ``None`` when it is not an IP (then it is in no set)."""
    try:
        return address_key(ipaddress.ip_address(text))
    except ValueError:
        return None


class IPSet:
    """Addresses and networks; membership costs one hash lookup per distinct prefix length in the set."""

    __slots__ = ("_nets", "_shifts")

    def __init__(self, networks: Iterable[IPv4Network | IPv6Network]) -> None:
        nets: set[tuple[int, int, int]] = set()
        shifts: dict[int, set[int]] = {4: set(), 6: set()}
        for network in networks:
            # An IPv4-mapped network (::ffff:10.0.0.0/104) is keyed as IPv4 with the same host-bit count.
            version, value = address_key(network.network_address)
            shift = network.max_prefixlen - network.prefixlen
            nets.add((version, shift, value >> shift))
            shifts[version].add(shift)
        self._nets = frozenset(nets)
        self._shifts = {version: tuple(sorted(s)) for version, s in shifts.items()}

    def __contains__(self, key: IPKey | None) -> bool:
        if key is None:
            return False
        version, value = key
        nets = self._nets
        for shift in self._shifts[version]:  # noqa: SIM110 - a plain loop: no generator per request
            if (version, shift, value >> shift) in nets:
                return True
        return False


class IntRanges:
    """Integers and inclusive ranges too wide to list in a frozenset."""

    __slots__ = ("_ranges", "_values")

    def __init__(self, values: frozenset[int], ranges: tuple[tuple[int, int], ...]) -> None:
        self._values = values
        self._ranges = ranges

    def __contains__(self, value: int) -> bool:
        if value in self._values:
            return True
        for low, high in self._ranges:  # noqa: SIM110 - a plain loop: no generator per request
            if low <= value <= high:
                return True
        return False


_MAX_EXPANDED = 4096


def int_set(values: Iterable[int], ranges: Iterable[tuple[int, int]]) -> frozenset[int] | IntRanges:
    """A frozenset (fastest) when the ranges are small enough to list, else an IntRanges."""
    values, ranges = frozenset(values), tuple(ranges)
    if sum(high - low + 1 for low, high in ranges) > _MAX_EXPANDED:
        return IntRanges(values, ranges)
    return values.union(*(range(low, high + 1) for low, high in ranges))


def header_names(request: EdgeRequest) -> list[str]:
    """``http.request.headers.names``: every header name, in arrival order (lower case, as ASGI gives them)."""
    return [name.decode("latin-1") for name, _ in request.all_headers]


def url_decode(text: str) -> str:
    """``url_decode()``: ``%XX`` sequences and ``+`` to their characters, as Cloudflare does."""
    return unquote_plus(text, errors="replace")


RUNTIME: dict[str, object] = {"_ip_key": ip_key, "_header_names": header_names, "_url_decode": url_decode}
"""The names compiled code finds as globals (fields and functions in ``fields`` refer to them)."""
