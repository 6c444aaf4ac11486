"""Timestamps in signed headers, and the replay window.

Every parser reads one header value and fails closed: anything it cannot read exactly
becomes `VerificationError("malformed_timestamp")`, never a `ValueError` or an
`OverflowError`. `check_tolerance` then compares the result with the injected clock.
`iso_utc` formats the clock the way providers write their timestamps (for `sign()`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from connectors._base import VerificationError

__all__ = [
    "check_tolerance",
    "iso_utc",
    "parse_iso_timestamp",
    "parse_millis",
    "parse_rfc3339",
    "parse_timestamp",
]

_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def _digits(value: str, max_length: int) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > max_length:
        raise VerificationError("malformed_timestamp")
    return int(value)


def parse_timestamp(value: str) -> int:
    """Unix seconds from a header value, or `VerificationError("malformed_timestamp")`."""
    return _digits(value.strip(), 12)


def parse_millis(value: str) -> int:
    """Unix milliseconds (HubSpot) from a header value, or `VerificationError("malformed_timestamp")`."""
    return _digits(value, 15)


def parse_iso_timestamp(value: str, *, naive_is_utc: bool = True) -> float:
    """Unix seconds from an ISO 8601 header value, or `VerificationError("malformed_timestamp")`.

    A value without a UTC offset is read as UTC, or refused when `naive_is_utc` is false.
    """
    text = value.strip()
    if not text.isascii() or len(text) > 40 or not text[:4].isdigit():
        raise VerificationError("malformed_timestamp")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is None:
            if not naive_is_utc:
                raise ValueError("no offset")
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    except (ValueError, OverflowError, OSError):
        raise VerificationError("malformed_timestamp") from None


def parse_rfc3339(value: str) -> datetime:
    """An RFC 3339 timestamp (fractions up to nanoseconds) or `VerificationError`."""
    match = _RFC3339.fullmatch(value.strip())
    if match is None:
        raise VerificationError("malformed_timestamp")
    date, clock, fraction, zone = match.groups()
    micros = (fraction or "").ljust(6, "0")[:6]
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        return datetime.fromisoformat(f"{date}T{clock}.{micros}{zone}")
    except ValueError:
        raise VerificationError("malformed_timestamp") from None


def check_tolerance(timestamp: float, now: float, tolerance: int) -> None:
    """Two-sided replay window; a tolerance of 0 turns the check off."""
    if tolerance and abs(now - timestamp) > tolerance:
        raise VerificationError("stale_timestamp")


def iso_utc(now: float, timespec: str = "auto") -> str:
    """`now` (whole seconds) as ISO 8601 in UTC with a `Z`: `2023-11-14T22:13:20Z`."""
    return datetime.fromtimestamp(int(now), UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
