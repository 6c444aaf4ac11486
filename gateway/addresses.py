"""Who is calling: a request's client address (behind the proxies `[server] trusted_proxies`
names) and the per-source IP allowlists (`[sources.NAME] allowed_ips`).

    peer not a trusted proxy            the peer's address; forwarding headers are ignored
    peer a trusted proxy                the rightmost address of `Forwarded` (else of
                                        `X-Forwarded-For`) that is not a trusted proxy

Anybody can write a forwarding header, so it is read only from a proxy the configuration
trusts, and from the right: each trusted proxy appends the address it was called from, so
the first untrusted address from the right is the one the last trusted proxy saw. An entry
that is not an address (`unknown`, an obfuscated `_node`, garbage) ends the walk, and the
last trusted hop is the client.

An allowlist holds networks (`"203.0.113.0/24"`, `"2001:db8::1"`) and named sets
(`"@stripe"`, `"@github"`): the ranges a provider publishes for its webhooks, shipped in
`gateway/ipranges/` with the date they were taken, and never fetched at run time.
"""

from __future__ import annotations

import functools
import importlib.resources
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Allowlist", "ClientAddress", "Network", "named_sets", "parse_networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def named_sets() -> tuple[str, ...]:
    """The names of the shipped sets (`stripe`, `github`, …), sorted."""
    folder = importlib.resources.files("gateway") / "ipranges"
    return tuple(sorted(p.name.removesuffix(".txt") for p in folder.iterdir() if p.name.endswith(".txt")))


@functools.cache
def _named(name: str) -> tuple[Network, ...]:
    text = (importlib.resources.files("gateway") / "ipranges" / f"{name}.txt").read_text()
    return tuple(
        ipaddress.ip_network(line.strip()) for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def parse_networks(values: Iterable[str], *, named: bool = True) -> tuple[Network, ...]:
    """`values` as networks: CIDRs, single addresses and (when `named`) `@name` sets; a
    `ValueError` naming the first that is none of them."""
    networks: list[Network] = []
    for value in values:
        if named and value.startswith("@"):
            if value[1:] not in named_sets():
                raise ValueError(f"{value!r}: no such named set (shipped: @{', @'.join(named_sets())})")
            networks.extend(_named(value[1:]))
            continue
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            hint = " or @name" if named else ""
            raise ValueError(f"{value!r} is not an IP address or network (CIDR{hint})") from None
    return tuple(networks)


def _contains(networks: Sequence[Network], address: Address) -> bool:
    return any(address in network for network in networks)


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Allowlist:
    """The networks a source accepts requests from (empty: every address)."""

    networks: tuple[Network, ...] = ()

    def allows(self, client: str | None) -> bool:
        if not self.networks:
            return True
        address = _address(client) if client else None
        return address is not None and _contains(self.networks, address)


def _forwarded_for(value: str) -> list[str]:
    """The `for=` addresses of a `Forwarded` header (RFC 7239), in order; a hop without one
    is an empty string (it ends the walk)."""
    found = []
    for element in value.split(","):
        node = ""
        for pair in element.split(";"):
            key, _, raw = pair.strip().partition("=")
            if key.strip().lower() == "for":
                node = raw.strip().strip('"')
        if node.startswith("["):  # "[2001:db8::1]:4711"
            node = node[1 : node.find("]")] if "]" in node else ""
        elif node.count(":") == 1:  # "192.0.2.60:4711"
            node = node.partition(":")[0]
        found.append(node)
    return found


@dataclass(frozen=True, slots=True)
class ClientAddress:
    """Finds a request's client address from its peer and, behind `trusted` proxies, its
    forwarding headers."""

    trusted: tuple[Network, ...] = ()

    def of(self, peer: str | None, headers: Iterable[tuple[bytes, bytes]]) -> str | None:
        if not self.trusted or peer is None:
            return peer
        address = _address(peer)
        if address is None or not _contains(self.trusted, address):
            return peer
        forwarded: list[str] = []
        x_forwarded: list[str] = []
        for key, value in headers:
            if key == b"forwarded":
                forwarded.extend(_forwarded_for(value.decode("latin-1")))
            elif key == b"x-forwarded-for":
                x_forwarded.extend(part.strip() for part in value.decode("latin-1").split(","))
        hops = forwarded or x_forwarded
        client = peer
        for hop in reversed(hops):
            hop_address = _address(hop)
            if hop_address is None:
                break
            client = str(hop_address)
            if not _contains(self.trusted, hop_address):
                break
        return client

    def https(self, scope_scheme: str, peer: str | None, headers: Iterable[tuple[bytes, bytes]]) -> bool:
        """Whether the client reached the gateway over HTTPS: the connection's own scheme,
        or, from a trusted proxy, the scheme it forwards (`X-Forwarded-Proto`, or
        `Forwarded: proto=`)."""
        if scope_scheme == "https":
            return True
        address = _address(peer) if peer is not None else None
        if address is None or not _contains(self.trusted, address):
            return False
        for key, value in headers:
            text = value.decode("latin-1").lower()
            if key == b"x-forwarded-proto" and text.split(",")[0].strip() == "https":
                return True
            if key == b"forwarded" and "proto=https" in text.split(",")[0].replace(" ", ""):
                return True
        return False
