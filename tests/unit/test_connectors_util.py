"""Shared connector helpers."""

from __future__ import annotations

import hmac
import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors import MalformedPayloadError
from connectors._base import parse_json
from connectors.toolkit import hmac_digest

from ._support import FUZZ


@pytest.mark.parametrize("size", [0, 1, 2046, 2047, 2048, 4095, 10_000])
@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
def test_hmac_digest_equals_the_standard_library(size: int, algorithm: str) -> None:
    message = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert hmac_digest(b"key", message, algorithm) == hmac.digest(b"key", message, algorithm)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 == 1.0 is not enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


@FUZZ
@given(JSON_VALUES, st.booleans())
def test_parse_json_answers_what_the_standard_library_answers(value: Any, ascii_only: bool) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only, allow_nan=True).encode()
    assert same(parse_json(body), json.loads(body))


@pytest.mark.parametrize(
    "body",
    [
        b'{"amount": 123456789012345678901234567890}',  # beyond 64 bits: exact, not a float
        b'{"n": -9223372036854775809, "m": 18446744073709551616}',
        b'{"x": 0.1000000000000000055511151231257827}',
        b'{"a": 1, "a": 2}',
        b'{"s": "\\ud800"}',  # a lone surrogate
        '{"k": "v"}'.encode("utf-16"),
        b"\xef\xbb\xbf" + b'{"bom": true}',
        b"[" * 200 + b"]" * 200,
        b'{"e": 1e-400, "z": -0, "f": -0.0, "big": 1E5}',
    ],
)
def test_parse_json_agrees_where_orjson_differs(body: bytes) -> None:
    assert same(parse_json(body), json.loads(body))


@pytest.mark.parametrize("body", [b"", b"{", b'{"a": 1,}', b"\xff\xfe\x00", b'"\x01"', b"[" * 100_000])
def test_parse_json_refuses_what_the_standard_library_refuses(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        parse_json(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"v": NaN}',
        b'{"w": -Infinity}',
        b"[Infinity]",
        b'{"e": 1e400}',
        b"[-1E+999]",
        b'{"a": 1e400, "n": ' + b"9" * 30 + b"}",
    ],
)
def test_parse_json_refuses_numbers_no_float_holds(body: bytes) -> None:
    """Stored, they would become `null` (orjson) or `Infinity` (not JSON): a changed value."""
    with pytest.raises(MalformedPayloadError) as caught:
        parse_json(body)
    assert caught.value.cause == "non_finite_number"
