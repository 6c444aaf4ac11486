"""The resilience point, measured on real `hookgate serve` processes: a consumer that
takes seconds per event does not slow the webhook, and still gets every event exactly
once, without a retry. `bench/resilience.py` at a small size (3 s per event instead of
30, 20 deliveries/s for 3 s instead of 50/s for 20 s); its full size is a benchmark."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parents[2] / "bench" / "resilience.py"
#: 3 s per event instead of 30; 20 deliveries/s for 3 s instead of 50/s for 20 s.
SCALED = ("--rate", "20", "--duration", "3", "--delay", "3", "--concurrency", "20")


def test_a_slow_consumer_neither_slows_the_webhook_nor_loses_or_repeats_events() -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), *SCALED],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    sent = summary["deliveries_per_server"]
    assert sent == 20 + 60  # a second of warm-up, then 3 s at 20/s
    # Every consumer got every event of its server, once.
    assert summary["received"] == {"/baseline/fast": sent, "/slow/fast": sent, "/slow/slow": sent}, summary
    assert (summary["duplicates"], summary["missing"]) == (0, 0), summary
    # The slow target's attempts all succeeded the first time: no retry, no dead letter.
    assert (summary["retries"], summary["dead"], summary["max_attempts"]) == (0, 0, 1), summary
    delivered = {"bus/payments/fast:delivered": sent, "bus/payments/slow:delivered": sent}
    assert summary["queues"]["slow"] == delivered, summary
    # The webhook is answered as fast as without the slow consumer (same moments, same machine).
    assert summary["p99_ratio"] <= 1.5, summary
    assert summary["ok"], summary["problems"]
    assert run.returncode == 0
