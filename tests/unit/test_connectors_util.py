"""Shared connector helpers."""

from __future__ import annotations

import hmac

import pytest

from connectors._util import hmac_digest


@pytest.mark.parametrize("size", [0, 1, 2046, 2047, 2048, 4095, 10_000])
@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
def test_hmac_digest_equals_the_standard_library(size: int, algorithm: str) -> None:
    message = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert hmac_digest(b"key", message, algorithm) == hmac.digest(b"key", message, algorithm)
