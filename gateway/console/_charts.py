"""The overview's charts as inline SVG, drawn on the server (no script, no library).

A chart is a row of stacked bars (accepted below, rejected above) per time bucket, with
a `<title>` per bar and a text summary beside it, so it reads without colour or sight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Bucket", "bars", "summary"]

_WIDTH, _HEIGHT, _GAP = 600, 120, 2


@dataclass(frozen=True, slots=True)
class Bucket:
    label: str
    accepted: int
    rejected: int


def summary(title: str, buckets: Sequence[Bucket]) -> str:
    """What the chart shows, in words: the totals and the rejection rate."""
    accepted = sum(b.accepted for b in buckets)
    rejected = sum(b.rejected for b in buckets)
    rate = rejected / (accepted + rejected) if accepted + rejected else 0.0
    return f"{title}: {accepted} accepted, {rejected} rejected ({rate:.0%} rejected)"


def bars(title: str, buckets: Sequence[Bucket]) -> Markup:
    """A stacked bar chart of `buckets` (accepted and rejected requests per bucket)."""
    peak = max((b.accepted + b.rejected for b in buckets), default=0) or 1
    width = (_WIDTH - _GAP * len(buckets)) / max(len(buckets), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" preserveAspectRatio="none" '
        f'role="img" aria-label="{escape(summary(title, buckets))}">'
    ]
    for i, bucket in enumerate(buckets):
        x = i * (width + _GAP)
        ok_h = _HEIGHT * bucket.accepted / peak
        bad_h = _HEIGHT * bucket.rejected / peak
        label = escape(f"{bucket.label}: {bucket.accepted} accepted, {bucket.rejected} rejected")
        parts.append(f"<g><title>{label}</title>")
        parts.append(
            f'<rect class="ok" x="{x:.1f}" y="{_HEIGHT - ok_h:.1f}" width="{width:.1f}" height="{ok_h:.1f}"/>'
        )
        parts.append(
            f'<rect class="bad" x="{x:.1f}" y="{_HEIGHT - ok_h - bad_h:.1f}" '
            f'width="{width:.1f}" height="{bad_h:.1f}"/></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
