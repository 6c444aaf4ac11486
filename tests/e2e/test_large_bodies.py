"""A large JSON body does not stall a real `hookgate serve`: it is parsed in a worker
process (`[server] worker_parse_bytes`), so a concurrent small delivery keeps its latency
while bodies of ~10 MB are posted, and the large ones are stored whole."""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.served import Served, base_config, free_port, stripe_event, stripe_headers

pytestmark = pytest.mark.e2e


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    config = tmp_path / "hookgate.toml"
    text = base_config(tmp_path, port).replace(
        'connector = "stripe"\n', 'connector = "stripe"\nmax_body_bytes = 16777216\n', 1
    )
    config.write_text(text)
    gw = Served(tmp_path, config, port)
    yield gw
    gw.stop()


def large_event(items: int = 75_000) -> bytes:
    """A Stripe event of ~10 MB: many small objects, the parser's slowest kind of text."""
    lines = [
        {"id": f"li_{i}", "amount": i, "description": "x" * 40, "meta": {"k": [1, 2, 3]}}
        for i in range(items)
    ]
    return json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "type": "invoice.paid",
            "created": int(time.time()),
            "data": {"object": {"id": "in_big", "object": "invoice", "lines": lines}},
        }
    ).encode()


def small(client: httpx.Client, url: str) -> float:
    body = stripe_event()
    began = time.perf_counter()
    answer = client.post(f"{url}/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert answer.status_code == 200, answer.text
    return time.perf_counter() - began


def test_large_bodies_do_not_stall_concurrent_deliveries(served: Served) -> None:
    served.start()
    big = large_event()
    assert len(big) > 9_000_000
    with httpx.Client(timeout=60) as client:
        baseline = statistics.median(small(client, served.url) for _ in range(30))
        statuses: list[int] = []
        posting = threading.Event()

        def post_large() -> None:
            with httpx.Client(timeout=60) as own:
                for _ in range(4):
                    body = big.replace(b'"evt_', b'"evt_%d' % len(statuses), 1)
                    posting.set()
                    answer = own.post(
                        f"{served.url}/webhooks/stripe", content=body, headers=stripe_headers(body)
                    )
                    statuses.append(answer.status_code)

        poster = threading.Thread(target=post_large)
        poster.start()
        posting.wait()
        during: list[float] = []
        while poster.is_alive():
            during.append(small(client, served.url))
        poster.join()
    assert statuses == [200] * 4
    assert len(during) >= 10
    p50, mean = statistics.median(during), statistics.fmean(during)
    print(
        f"small delivery: {baseline * 1000:.1f} ms alone (p50); beside ~10 MB bodies p50 {p50 * 1000:.1f} ms,"
        f" mean {mean * 1000:.1f} ms, max {max(during) * 1000:.1f} ms ({len(during)} deliveries)"
    )
    # On the loop, each parse holds up every delivery that arrives meanwhile: the mean
    # goes to hundreds of milliseconds, though a median may still fall between two parses.
    assert mean < max(0.025, 4 * baseline), (baseline, sorted(during))
    assert p50 < max(0.015, 3 * baseline), (baseline, sorted(during))
    stored = served.wait_for_sink(
        lambda entries: sum(e["detail"]["payload"]["data"]["object"]["id"] == "in_big" for e in entries) == 4,
        timeout=60,
    )
    whole = [e for e in stored if e["detail"]["payload"]["data"]["object"]["id"] == "in_big"]
    assert (
        whole[0]["detail"]["payload"]["data"]["object"]["lines"] == json.loads(big)["data"]["object"]["lines"]
    )


def test_a_large_malformed_body_is_a_400_with_its_cause(served: Served) -> None:
    """Parsed in a worker, a body that is not JSON is refused as on the loop: 400, with
    the connector's cause in the log line, nothing stored."""
    served.start()
    body = b'{"id": "evt_1", "type": "invoice.paid", "data": ' + b"[1, " * 100_000
    with httpx.Client(timeout=60) as client:
        answer = client.post(f"{served.url}/webhooks/stripe", content=body, headers=stripe_headers(body))
        assert small(client, served.url) < 5  # and the gateway serves on
    assert answer.status_code == 400
    assert answer.json() == {"error": "malformed payload"}
    deadline = time.monotonic() + 5
    lines: list[dict[str, object]] = []
    while time.monotonic() < deadline and not lines:
        lines = [r for r in served.log_records() if r.get("event") == "request" and r.get("status") == 400]
        time.sleep(0.1)
    assert lines
    assert (lines[0]["cause"], lines[0]["cause_detail"]) == ("malformed", "invalid_json")
    assert served.stored_count() == 1  # the small one only
