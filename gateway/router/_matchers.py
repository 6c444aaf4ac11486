"""One value test of a pattern: `"x"`, `{"prefix": …}`, `{"numeric": […]}`, ….

Each matcher is an immutable, hashable value (equal patterns share index entries) with
`test(leaf)`, the exact semantics for one scalar event leaf.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from gateway.router._values import IPAddress, Key, float_value, key_of, parse_ip

__all__ = [
    "AnythingBut",
    "AnythingButIgnoreCase",
    "AnythingButPrefix",
    "AnythingButSuffix",
    "AnythingButWildcard",
    "Cidr",
    "EqualsIgnoreCase",
    "Exact",
    "Exists",
    "Matcher",
    "Numeric",
    "Prefix",
    "PrefixIgnoreCase",
    "Suffix",
    "SuffixIgnoreCase",
    "Wildcard",
    "ignore_case_regex",
    "leaf_key",
    "wildcard_regex",
]


def leaf_key(value: Any) -> Key:
    """The key an exact or anything-but comparison uses: IP literals are normalized."""
    if type(value) is str:
        address = parse_ip(value)
        if address is not None:
            return address
    return key_of(value)


def ignore_case_regex(text: str) -> str:
    """Per pattern character, the event holds its lower- or upper-case form (Java, Locale.ROOT).

    Java walks UTF-16 units, so a character outside the BMP only matches itself. No full case
    folding: "STRASSE" does not equal "straße".
    """
    parts = []
    for char in text:
        if ord(char) > 0xFFFF:
            parts.append(re.escape(char))
            continue
        alternatives = sorted({char.lower(), char.upper()}, key=lambda s: (-len(s), s))
        if len(alternatives) == 1:
            parts.append(re.escape(alternatives[0]))
        else:
            parts.append("(?:" + "|".join(re.escape(a) for a in alternatives) + ")")
    return "".join(parts)


class WildcardSyntaxError(ValueError):
    pass


def wildcard_regex(text: str) -> str:
    """`*` is any run of characters, `\\*` a star, `\\\\` a backslash; `**` and other escapes are errors.

    Positions in messages count UTF-8 bytes of the quoted value, as event-ruler reports them.
    """
    data = ('"' + text + '"').encode()
    chunks: list[bytes] = []
    literal = bytearray()
    i = 0
    while i < len(data):
        byte = data[i]
        if byte == 0x2A:  # *
            if i + 1 < len(data) and data[i + 1] == 0x2A:
                raise WildcardSyntaxError(f"Consecutive wildcard characters at pos {i}")
            chunks.append(bytes(literal))
            literal.clear()
        elif byte == 0x5C:  # backslash
            if i + 1 < len(data) and data[i + 1] in (0x2A, 0x5C):
                literal.append(data[i + 1])
                i += 2
                continue
            raise WildcardSyntaxError(f"Invalid escape character at pos {i}")
        else:
            literal.append(byte)
        i += 1
    chunks.append(bytes(literal))
    inner = [c.decode(errors="surrogateescape") for c in chunks]
    inner[0] = inner[0][1:]
    inner[-1] = inner[-1][:-1]
    return ".*".join(re.escape(c) for c in inner)


def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.DOTALL)


@dataclass(frozen=True, slots=True)
class Exact:
    """An exact value: strings by text (IP literals by address), numbers by value."""

    key: Key

    def test(self, value: Any) -> bool:
        if isinstance(self.key, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return type(value) is str and parse_ip(value) == self.key
        return key_of(value) == self.key


@dataclass(frozen=True, slots=True)
class Prefix:
    text: str

    def test(self, value: Any) -> bool:
        return type(value) is str and value.startswith(self.text)


@dataclass(frozen=True, slots=True)
class Suffix:
    text: str

    def test(self, value: Any) -> bool:
        return type(value) is str and value.endswith(self.text)


@dataclass(frozen=True, slots=True)
class EqualsIgnoreCase:
    text: str
    regex: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", _compiled(ignore_case_regex(self.text)))

    def test(self, value: Any) -> bool:
        return type(value) is str and self.regex.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class PrefixIgnoreCase:
    text: str
    regex: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", _compiled(ignore_case_regex(self.text)))

    def test(self, value: Any) -> bool:
        return type(value) is str and self.regex.match(value) is not None


@dataclass(frozen=True, slots=True)
class SuffixIgnoreCase:
    text: str
    regex: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", _compiled(f"(?:{ignore_case_regex(self.text)})\\Z"))

    def test(self, value: Any) -> bool:
        return type(value) is str and self.regex.search(value) is not None


@dataclass(frozen=True, slots=True)
class Wildcard:
    text: str
    regex: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", _compiled(wildcard_regex(self.text)))

    def test(self, value: Any) -> bool:
        return type(value) is str and self.regex.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class Numeric:
    """A float64 range; `-inf`/`inf` stand for a missing bound. Only JSON numbers match."""

    low: float
    low_open: bool
    high: float
    high_open: bool

    def test(self, value: Any) -> bool:
        number = float_value(value)
        if number is None:
            return False
        if number < self.low or (self.low_open and number == self.low):
            return False
        return not (number > self.high or (self.high_open and number == self.high))


@dataclass(frozen=True, slots=True)
class Cidr:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network

    def test(self, value: Any) -> bool:
        if type(value) is not str:
            return False
        address: IPAddress | None = parse_ip(value)
        return address is not None and address.version == self.network.version and address in self.network


@dataclass(frozen=True, slots=True)
class Exists:
    """`{"exists": true}`: any scalar leaf, `null` and `""` included."""

    def test(self, value: Any) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class AnythingBut:
    """Any leaf whose key is not excluded; other JSON types always differ."""

    keys: frozenset[Key]

    def test(self, value: Any) -> bool:
        return leaf_key(value) not in self.keys


@dataclass(frozen=True, slots=True)
class AnythingButPrefix:
    texts: frozenset[str]

    def test(self, value: Any) -> bool:
        return type(value) is not str or not any(value.startswith(t) for t in self.texts)


@dataclass(frozen=True, slots=True)
class AnythingButSuffix:
    texts: frozenset[str]

    def test(self, value: Any) -> bool:
        return type(value) is not str or not any(value.endswith(t) for t in self.texts)


@dataclass(frozen=True, slots=True)
class AnythingButIgnoreCase:
    texts: frozenset[str]
    regexes: tuple[re.Pattern[str], ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        regexes = tuple(_compiled(ignore_case_regex(t)) for t in sorted(self.texts))
        object.__setattr__(self, "regexes", regexes)

    def test(self, value: Any) -> bool:
        return type(value) is not str or not any(r.fullmatch(value) for r in self.regexes)


@dataclass(frozen=True, slots=True)
class AnythingButWildcard:
    texts: frozenset[str]
    regexes: tuple[re.Pattern[str], ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        regexes = tuple(_compiled(wildcard_regex(t)) for t in sorted(self.texts))
        object.__setattr__(self, "regexes", regexes)

    def test(self, value: Any) -> bool:
        return type(value) is not str or not any(r.fullmatch(value) for r in self.regexes)


Matcher = (
    Exact
    | Prefix
    | Suffix
    | EqualsIgnoreCase
    | PrefixIgnoreCase
    | SuffixIgnoreCase
    | Wildcard
    | Numeric
    | Cidr
    | Exists
    | AnythingBut
    | AnythingButPrefix
    | AnythingButSuffix
    | AnythingButIgnoreCase
    | AnythingButWildcard
)
