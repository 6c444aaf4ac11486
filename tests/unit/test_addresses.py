"""The client address behind trusted proxies, and allowlists with the shipped named sets."""

from __future__ import annotations

import ipaddress
import re
from importlib.resources import files

import pytest

from gateway.addresses import Allowlist, ClientAddress, named_sets, parse_networks

PROXIES = ClientAddress(parse_networks(["10.0.0.0/8", "127.0.0.1"], named=False))


def headers(**values: str) -> list[tuple[bytes, bytes]]:
    return [(k.replace("_", "-").encode(), v.encode()) for k, v in values.items()]


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert ClientAddress().of("192.0.2.1", headers(x_forwarded_for="198.51.100.1")) == "192.0.2.1"


def test_an_untrusted_peers_forwarding_headers_are_ignored() -> None:
    assert PROXIES.of("192.0.2.1", headers(x_forwarded_for="198.51.100.1")) == "192.0.2.1"


@pytest.mark.parametrize(
    ("value", "client"),
    [
        ("198.51.100.1", "198.51.100.1"),
        ("203.0.113.9, 198.51.100.1, 10.1.1.1", "198.51.100.1"),  # the left part is the client's
        ("10.2.2.2, 10.1.1.1", "10.2.2.2"),  # every hop trusted: the farthest one
        ("unknown, 10.1.1.1", "10.1.1.1"),  # not an address: the last trusted hop
        ("", "127.0.0.1"),
        ("2001:db8::5", "2001:db8::5"),
    ],
)
def test_x_forwarded_for_from_a_trusted_proxy_is_read_from_the_right(value: str, client: str) -> None:
    assert PROXIES.of("127.0.0.1", headers(x_forwarded_for=value)) == client


def test_several_x_forwarded_for_fields_are_one_list() -> None:
    raw = [(b"x-forwarded-for", b"198.51.100.1"), (b"x-forwarded-for", b"10.1.1.1, 203.0.113.9")]
    assert PROXIES.of("127.0.0.1", raw) == "203.0.113.9"


@pytest.mark.parametrize(
    ("value", "client"),
    [
        ('for=198.51.100.1;proto=https, for="10.1.1.1"', "198.51.100.1"),
        ('for="[2001:db8::5]:4711"', "2001:db8::5"),
        ('for="192.0.2.60:8080";by=10.0.0.1', "192.0.2.60"),
        ("for=_hidden, for=10.1.1.1", "10.1.1.1"),
        ("proto=https", "127.0.0.1"),
    ],
)
def test_forwarded_is_read_like_x_forwarded_for_and_wins(value: str, client: str) -> None:
    both = headers(forwarded=value, x_forwarded_for="203.0.113.66")
    assert PROXIES.of("127.0.0.1", both) == client


def test_named_sets_ship_with_their_date_and_parse() -> None:
    assert {"github", "stripe"} <= set(named_sets())
    stripe = Allowlist(parse_networks(["@stripe"]))
    assert stripe.allows("3.18.12.63")
    assert not stripe.allows("192.0.2.1")
    github = Allowlist(parse_networks(["@github"]))
    assert github.allows("140.82.115.251")
    assert github.allows("2606:50c0::1")
    for name in named_sets():
        text = (files("gateway") / "ipranges" / f"{name}.txt").read_text()
        assert re.search(r"Taken \d{4}-\d{2}-\d{2}\.", text), f"{name} does not say when it was taken"
        assert re.search(r"https://", text), f"{name} does not say where it was taken from"


def test_an_allowlist_takes_addresses_and_networks() -> None:
    allow = Allowlist(parse_networks(["203.0.113.0/24", "2001:db8::1", "192.0.2.7"]))
    assert allow.allows("203.0.113.200")
    assert allow.allows("2001:db8::1")
    assert allow.allows("192.0.2.7")
    assert not allow.allows("192.0.2.8")
    assert not allow.allows(None)
    assert not allow.allows("not-an-address")
    assert Allowlist().allows(None)  # empty: everybody


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["@nobody"], "no such named set"),
        (["300.1.1.1"], "not an IP address or network"),
        (["10.0.0.0/33"], "not an IP address or network"),
    ],
)
def test_bad_entries_are_named(values: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_networks(values)


def test_trusted_proxies_take_no_named_sets() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        parse_networks(["@github"], named=False)
    assert parse_networks(["10.0.0.1/8"], named=False) == (ipaddress.ip_network("10.0.0.0/8"),)


def test_https_is_the_connection_s_or_what_a_trusted_proxy_forwards() -> None:
    clients = ClientAddress(parse_networks(["10.0.0.0/8"], named=False))
    proto = [(b"x-forwarded-proto", b"https")]
    assert clients.https("https", "203.0.113.9", [])
    assert clients.https("http", "10.1.2.3", proto)
    assert clients.https("http", "10.1.2.3", [(b"forwarded", b"for=203.0.113.9;proto=https")])
    assert not clients.https("http", "203.0.113.9", proto)  # not a trusted proxy: its word is not taken
    assert not clients.https("http", "10.1.2.3", [(b"x-forwarded-proto", b"http")])
    assert not ClientAddress().https("http", "127.0.0.1", proto)
