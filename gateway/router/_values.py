"""Event and pattern values as the matcher sees them.

JSON numbers keep event-ruler's meaning: a number that is exactly a float64 (its shortest
decimal form has the same value as its text) compares by value; any other number is
compared by its text only and never matches `numeric` or `cidr`. IP address literals are
normalized for exact and anything-but comparison.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "BigNumber",
    "IPAddress",
    "Key",
    "Literal",
    "float_value",
    "key_of",
    "load_json",
    "parse_ip",
    "representable",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Literal(enum.Enum):
    """`true`, `false` and `null`: distinct from every number and string (`True != 1` here)."""

    TRUE = "true"
    FALSE = "false"
    NULL = "null"


class BigNumber:
    """A JSON number that is not exactly a float64: equal only to the same text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BigNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(("BigNumber", self.text))

    def __repr__(self) -> str:
        return self.text


# What an exact or anything-but match compares: strings, float64 values, big integers,
# BigNumber texts, literals and normalized IP addresses.
Key = str | float | int | BigNumber | Literal | IPAddress


def representable(text: str) -> float | None:
    """The float64 a JSON number's text stands for exactly, else None (event-ruler's rule)."""
    try:
        value = float(text)
        exact = Decimal(text)
    except (ValueError, InvalidOperation):
        return None
    if not math.isfinite(value):
        return None
    return value if Decimal(repr(value)) == exact else None


def _parse_float(text: str) -> float | BigNumber:
    value = representable(text)
    return BigNumber(text) if value is None else value


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_float=_parse_float, parse_constant=_reject_constant)


def load_json(text: str | bytes, object_pairs_hook: Any = None) -> Any:
    """Decode JSON keeping number precision; `NaN`/`Infinity` are rejected."""
    if isinstance(text, bytes | bytearray):
        text = text.decode()
    if object_pairs_hook is None:
        return _DECODER.decode(text)
    decoder = json.JSONDecoder(
        parse_float=_parse_float, parse_constant=_reject_constant, object_pairs_hook=object_pairs_hook
    )
    return decoder.decode(text)


def float_value(value: Any) -> float | None:
    """The float64 a leaf stands for when it can be compared numerically, else None."""
    kind = type(value)
    if kind is float:
        return value  # type: ignore[no-any-return]
    if kind is int:
        try:
            as_float = float(value)
        except OverflowError:
            return None
        return as_float if as_float == value else None
    return None


def key_of(value: Any) -> Key:
    """The exact-match key of a scalar leaf (without IP normalization)."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is bool:
        return Literal.TRUE if value else Literal.FALSE
    if value is None:
        return Literal.NULL
    if kind is int:
        as_float = float_value(value)
        return value if as_float is None else as_float
    return value  # type: ignore[no-any-return]


_IPV4 = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6 = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")


def looks_like_ip(text: str) -> bool:
    return _IPV4.fullmatch(text) is not None or _IPV6.fullmatch(text) is not None


def parse_ip(text: str) -> IPAddress | None:
    """The address an IPv4/IPv6 literal names (zero-padded IPv4 and any IPv6 spelling), else None.

    IPv4-mapped IPv6 addresses are their IPv4 address, as Java's `InetAddress` makes them.
    """
    if _IPV4.fullmatch(text):
        parts = [int(p) for p in text.split(".")]
        if any(p > 255 for p in parts):
            return None
        return ipaddress.IPv4Address(bytes(parts))
    if _IPV6.fullmatch(text):
        try:
            address = ipaddress.IPv6Address(text)
        except ValueError:
            return None
        return address.ipv4_mapped or address
    return None
