"""The web console's pure parts: the troubleshooting hints it ships and its SVG charts."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.console._charts import Bucket, bars
from gateway.console.hints import hint_for, parse_troubleshooting

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_hints_are_the_troubleshooting_pages_tables() -> None:
    page = (ROOT / "docs" / "troubleshooting.md").read_text()
    shipped = json.loads((ROOT / "gateway" / "console" / "hints.json").read_text())
    assert shipped == parse_troubleshooting(page), (
        "gateway/console/hints.json is stale: python -m gateway.console.hints docs/troubleshooting.md"
    )
    assert {"unknown_source", "too_large", "verification_failed", "bad_signature", "stale_timestamp"} <= set(
        shipped
    )


def test_the_most_precise_cause_with_a_hint_wins() -> None:
    signature = hint_for("bad_signature", "verification_failed")
    assert signature is not None
    assert signature.cause == "bad_signature"
    assert "secret" in signature.fix
    assert "re-encoded body" in signature.reason
    stale = hint_for("stale_timestamp", "verification_failed")
    assert stale is not None
    assert "sync clocks" in stale.fix
    edge = hint_for(None, "too_large")
    assert edge is not None
    assert "max_body_bytes" in edge.fix
    fallback = hint_for("no_such_detail", "verification_failed")
    assert fallback is not None
    assert fallback.cause == "verification_failed"
    assert hint_for("no_such_cause", None) is None


def test_a_table_is_read_by_its_header_not_its_position() -> None:
    page = (
        "| cause | status | usual reason | fix |\n|---|---|---|---|\n"
        "| `a_cause`, `b_cause` | 401 | why | how |\n\n"
        "| other | table |\n|---|---|\n| `c_cause` | nothing |\n"
    )
    assert parse_troubleshooting(page) == {
        "a_cause": {"reason": "why", "fix": "how"},
        "b_cause": {"reason": "why", "fix": "how"},
    }


def test_a_chart_has_a_bar_per_bucket_scaled_to_the_peak_and_says_its_numbers_in_text() -> None:
    svg = bars("<stripe>", [Bucket("10:00", 3, 1), Bucket("10:05", 0, 0), Bucket("10:10", 8, 0)])
    assert svg.startswith('<svg class="chart"')
    assert 'aria-label="&lt;stripe&gt;: 11 accepted, 1 rejected (8% rejected)"' in svg
    assert svg.count("<title>") == 3
    assert "<title>10:00: 3 accepted, 1 rejected</title>" in svg
    # the peak bucket (8) fills the height (120): its accepted bar is full height
    assert '<rect class="ok" x="400.0" y="0.0" width="198.0" height="120.0"/>' in svg
    assert "<stripe>" not in svg


def test_an_empty_chart_draws_nothing_and_divides_by_nothing() -> None:
    svg = bars("quiet", [Bucket("10:00", 0, 0)])
    assert 'aria-label="quiet: 0 accepted, 0 rejected (0% rejected)"' in svg
