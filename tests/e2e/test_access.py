"""Who may call a real `hookgate serve`, and how often: per-source IP allowlists (403
`ip_not_allowed`, named provider sets), the client address behind `[server]
trusted_proxies` (forwarding headers honoured from those only, rightmost untrusted
address), and the token buckets per client and per source (429 `rate_limited` with
Retry-After; a failed verification costs its client more than a success)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.served import Served, base_config, free_port, stripe_event, stripe_headers

pytestmark = pytest.mark.e2e


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Served]:
    """`hookgate serve` on `base_config`, with `extra` settings appended (set before start)."""
    port = free_port()
    gw = Served(tmp_path, tmp_path / "hookgate.toml", port)
    # an admin token keeps the requests log
    admin = '[admin]\ntokens = [{ name = "ops", token = "admin-token-0123456789abcdef", role = "admin" }]\n'
    gw.config.write_text(base_config(tmp_path, port, extra=admin))
    yield gw
    gw.stop()


def configure(gw: Served, server: str = "", stripe: str = "") -> None:
    """Add `server` lines to `[server]` and `stripe` lines to `[sources.stripe]`."""
    text = gw.config.read_text()
    text = text.replace("max_body_bytes = 65536\n", f"max_body_bytes = 65536\n{server}\n", 1)
    text = text.replace('connector = "stripe"\n', f'connector = "stripe"\n{stripe}\n', 1)
    gw.config.write_text(text)


def post(
    client: httpx.Client, gw: Served, headers: dict[str, str] | None = None, *, forged: bool = False
) -> httpx.Response:
    body = stripe_event()
    signed = stripe_headers(body, secret="whsec_wrong" if forged else "whsec_e2e_test_secret_0123456789")
    return client.post(f"{gw.url}/webhooks/stripe", content=body, headers={**signed, **(headers or {})})


def logged(gw: Served, cause: str, count: int = 1, timeout: float = 5.0) -> list[tuple[int, str | None]]:
    """The requests log's (status, client) of the requests refused with `cause`, once there
    are `count` (the refused ones are written in batches, every second), oldest first."""
    deadline = time.monotonic() + timeout
    rows: list[tuple[int, str | None]] = []
    while time.monotonic() < deadline:
        with sqlite3.connect(gw.db) as conn:
            rows = conn.execute(
                "SELECT status, client FROM requests WHERE cause = ? ORDER BY id", (cause,)
            ).fetchall()
        if len(rows) >= count:
            return rows
        time.sleep(0.2)
    return rows


def test_an_address_outside_the_allowlist_is_refused_with_403(make: Served) -> None:
    configure(make, stripe='allowed_ips = ["203.0.113.0/24", "@stripe"]')
    make.start()
    with httpx.Client() as client:
        refused = post(client, make)
        allowed_github = client.post(
            f"{make.url}/webhooks/github", content=b"{}", headers={"X-GitHub-Event": "ping"}
        )
        metrics = client.get(f"{make.url}/metrics").text
    assert refused.status_code == 403
    assert refused.json() == {"error": "forbidden"}
    assert refused.headers["connection"] == "close"
    assert allowed_github.status_code == 401  # another source, no allowlist: verified as ever
    assert make.stored_count() == 0
    assert 'hookgate_requests_rejected_total{cause="ip_not_allowed",source="stripe"} 1.0' in metrics
    assert logged(make, "ip_not_allowed") == [(403, "127.0.0.1")]


def test_an_allowed_address_is_served(make: Served) -> None:
    configure(make, stripe='allowed_ips = ["127.0.0.0/8", "::1"]')
    make.start()
    with httpx.Client() as client:
        assert post(client, make).status_code == 200
    assert make.stored_count() == 1


def test_forwarding_headers_count_only_from_a_trusted_proxy(make: Served) -> None:
    """Untrusted, `X-Forwarded-For` is ignored; from a trusted proxy, its rightmost untrusted
    address is the client (allowlist and requests log alike)."""
    configure(make, stripe='allowed_ips = ["198.51.100.7"]')
    make.start()
    with httpx.Client() as client:  # the peer (127.0.0.1) is no proxy: the header is the caller's
        assert post(client, make, {"X-Forwarded-For": "198.51.100.7"}).status_code == 403
    make.stop()
    configure(make, server='trusted_proxies = ["127.0.0.1/32", "10.0.0.0/8"]')
    make.start()
    with httpx.Client() as client:
        # the client 198.51.100.7 went through 10.1.2.3 (trusted) and then this peer; what
        # it wrote itself to the left (a spoofed 203.0.113.9) does not count
        through = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7, 10.1.2.3"}
        assert post(client, make, through).status_code == 200
        assert (
            post(client, make, {"Forwarded": 'for=198.51.100.7;proto=https, for="10.1.2.3"'}).status_code
            == 200
        )
        spoofed = post(client, make, {"X-Forwarded-For": "198.51.100.7, 203.0.113.9"})
        assert spoofed.status_code == 403  # the rightmost untrusted address is 203.0.113.9
    assert make.stored_count() == 2
    assert logged(make, "ip_not_allowed", 2) == [(403, "127.0.0.1"), (403, "203.0.113.9")]


def test_a_client_beyond_its_bucket_is_refused_with_429(make: Served) -> None:
    configure(make, server="[server.rate_limits]\nclient = { rate = 1, burst = 5 }")
    make.start()
    with httpx.Client() as client:
        answers = [post(client, make) for _ in range(8)]
        statuses = [a.status_code for a in answers]
        metrics = client.get(f"{make.url}/metrics").text
    assert statuses[:5] == [200] * 5
    assert 429 in statuses[5:]
    limited = next(a for a in answers if a.status_code == 429)
    assert limited.json() == {"error": "too many requests, retry later"}
    assert int(limited.headers["retry-after"]) >= 1
    assert 'hookgate_requests_rate_limited_total{limit="client",source="stripe"}' in metrics
    assert 'hookgate_requests_rejected_total{cause="rate_limited",source="stripe"}' in metrics
    assert make.stored_count() == statuses.count(200)
    assert logged(make, "rate_limited")[0] == (429, "127.0.0.1")
    time.sleep(1.5)  # a token back: served again
    with httpx.Client() as client:
        assert post(client, make).status_code == 200


def test_failed_verifications_cost_more_than_successes(make: Served) -> None:
    configure(make, server="[server.rate_limits]\nclient = { rate = 0.1, burst = 10 }\nfailure_cost = 5")
    make.start()
    with httpx.Client() as client:
        forged = [post(client, make, forged=True).status_code for _ in range(3)]
        after = post(client, make).status_code
    # two forged requests take 10 tokens: the third, and a valid one after it, wait
    assert forged == [401, 401, 429]
    assert after == 429


def test_a_source_bucket_limits_every_client_together(make: Served) -> None:
    configure(make, stripe="rate_limit = { rate = 0.5, burst = 2 }")
    make.start()
    with httpx.Client() as client:
        stripe = [post(client, make).status_code for _ in range(3)]
        github = client.post(f"{make.url}/webhooks/github", content=b"{}", headers={"X-GitHub-Event": "ping"})
        metrics = client.get(f"{make.url}/metrics").text
    assert stripe == [200, 200, 429]
    assert github.status_code == 401  # its own bucket
    assert 'hookgate_requests_rate_limited_total{limit="source",source="stripe"} 1.0' in metrics


def test_rate_limits_can_be_turned_off(make: Served) -> None:
    configure(make, server="[server.rate_limits]\nenabled = false\nclient = { rate = 0.1, burst = 1 }")
    make.start()
    with httpx.Client() as client:
        assert [post(client, make).status_code for _ in range(5)] == [200] * 5
