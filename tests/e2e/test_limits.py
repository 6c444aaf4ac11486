"""What a client may cost a real `hookgate serve`, under each of uvicorn's parsers: an
endless header is cut off at `max_header_bytes` (431, closed) while signed deliveries keep
their latency; too many header fields (431); a head or a body sent too slowly (408,
closed); connections beyond `max_connections` (503); bodies buffered unverified beyond
`max_buffered_body_bytes` (503)."""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.served import Served, base_config, free_port, stripe_event, stripe_headers

pytestmark = pytest.mark.e2e

PARSERS = ("httptools", "h11")


@pytest.fixture(params=PARSERS)
def limited(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Served]:
    """`hookgate serve` with the parser under test and short timeouts (the test may set more)."""
    monkeypatch.setenv("HOOKGATE_SERVER__HTTP_PARSER", request.param)
    monkeypatch.setenv("HOOKGATE_SERVER__HEADER_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("HOOKGATE_SERVER__BODY_TIMEOUT_SECONDS", "1")
    port = free_port()
    config = tmp_path / "hookgate.toml"
    config.write_text(base_config(tmp_path, port))
    gw = Served(tmp_path, config, port)
    yield gw
    gw.stop()


def raw(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def answer_of(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """What the server wrote before it closed (or `timeout` passed)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def deliver(client: httpx.Client, url: str) -> float:
    body = stripe_event()
    began = time.perf_counter()
    response = client.post(f"{url}/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert response.status_code == 200, response.text
    return time.perf_counter() - began


def test_an_endless_header_is_cut_off_while_deliveries_keep_their_latency(limited: Served) -> None:
    limited.start()
    with httpx.Client() as client:
        baseline = statistics.median(deliver(client, limited.url) for _ in range(20))
        outcomes: list[tuple[float, int, bytes]] = []

        def attack() -> None:
            sock = raw(limited.port)
            sock.sendall(b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nX-Big: ")
            began, sent = time.monotonic(), 0
            try:
                while time.monotonic() - began < 20:
                    sock.sendall(b"A" * 65536)
                    sent += 65536
            except OSError:
                pass
            outcomes.append((time.monotonic() - began, sent, answer_of(sock, 2)))
            sock.close()

        attackers = [threading.Thread(target=attack) for _ in range(4)]
        for thread in attackers:
            thread.start()
        during = [deliver(client, limited.url) for _ in range(20)]
        for thread in attackers:
            thread.join()
    assert len(outcomes) == 4
    for seconds, sent, answer in outcomes:
        assert seconds < 2, f"the connection stayed open {seconds:.1f} s"
        assert sent < 16 * 1_048_576  # cut off near 32 KiB (plus the sockets' buffers)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 431 ")
    assert statistics.median(during) < max(0.1, 10 * baseline), (baseline, during)
    assert max(during) < 2


def test_too_many_header_fields_answer_431(limited: Served) -> None:
    limited.start()
    fields = b"".join(b"X-N%d: a\r\n" % i for i in range(101))
    with raw(limited.port) as sock:
        sock.sendall(
            b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n" + fields + b"Content-Length: 2\r\n\r\n{}"
        )
        assert answer_of(sock).startswith(b"HTTP/1.1 431 ")
    assert limited.stored_count() == 0


def test_a_head_sent_too_slowly_is_closed_with_408(limited: Served) -> None:
    limited.start()
    with raw(limited.port) as sock:
        began = time.monotonic()
        sock.sendall(b"POST /webhooks/stripe HTTP/1.1\r\n")
        for i in range(20):  # one header line every 0.2 s, never the end of the head
            try:
                sock.sendall(b"X-Slow-%d: a\r\n" % i)
            except OSError:
                break
            time.sleep(0.2)
        answer = answer_of(sock, 2)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - began < 3


def test_a_body_sent_too_slowly_is_closed_with_408(limited: Served) -> None:
    limited.start()
    body = stripe_event()
    head = "".join(f"{k}: {v}\r\n" for k, v in stripe_headers(body).items())
    with raw(limited.port) as sock:
        began = time.monotonic()
        sock.sendall(
            f"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:10]
        )
        answer = answer_of(sock, 5)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in answer.lower()
    assert 0.9 < time.monotonic() - began < 3
    assert limited.stored_count() == 0


def test_connections_beyond_the_cap_answer_503(limited: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKGATE_SERVER__MAX_CONNECTIONS", "4")
    monkeypatch.setenv("HOOKGATE_SERVER__HEADER_TIMEOUT_SECONDS", "30")
    limited.start()
    idle = [raw(limited.port) for _ in range(4)]
    time.sleep(0.3)
    with raw(limited.port) as extra:
        assert answer_of(extra).startswith(b"HTTP/1.1 503 ")
    for sock in idle:
        sock.close()
    time.sleep(0.3)
    with httpx.Client() as client:
        deliver(client, limited.url)
        metrics = client.get(f"{limited.url}/metrics").text
    assert 'hookgate_connections_refused_total{reason="too_many_connections"} 1.0' in metrics


def test_bodies_buffered_beyond_the_budget_answer_503(
    limited: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOKGATE_SERVER__MAX_BUFFERED_BODY_BYTES", "60000")
    monkeypatch.setenv("HOOKGATE_SERVER__BODY_TIMEOUT_SECONDS", "30")
    limited.start()
    holder = raw(limited.port)
    holder.sendall(
        b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nStripe-Signature: t=1,v1=00\r\n"
        b"Content-Length: 60000\r\n\r\n" + b" " * 40000
    )
    time.sleep(0.5)
    with httpx.Client() as client:
        body = b" " * 30000
        refused = client.post(f"{limited.url}/webhooks/stripe", content=body, headers=stripe_headers(body))
        assert refused.status_code == 503
        holder.close()
        time.sleep(0.3)
        deliver(client, limited.url)


@pytest.mark.parametrize(
    "path", ["/api/v1/dead-letters/redrive", "/console/login"], ids=["admin-api", "console"]
)
def test_the_admin_side_reads_bodies_under_the_same_time_limits(limited: Served, path: str) -> None:
    token = "e2e-limits-admin-token-5c1d"
    limited.config.write_text(
        base_config(
            limited.tmp,
            limited.port,
            extra=f'\n[admin]\ntokens = [{{ name = "ops", token = "{token}", role = "admin" }}]\n',
        )
    )
    limited.start()
    with raw(limited.port) as sock:
        began = time.monotonic()
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{".encode()
        )
        answer = answer_of(sock, 5)
        took = time.monotonic() - began  # answered and closed
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in answer.lower()
    assert took < 4


def test_a_kept_alive_connection_counts_each_head_afresh(limited: Served) -> None:
    # Each request arrives whole in one piece, head and body: what the head limit counts
    # must start again with each request, not add up over the connection.
    limited.start()
    with httpx.Client() as client:
        for _ in range(40):
            event = json.loads(stripe_event())
            event["data"]["object"]["memo"] = "x" * 3000
            body = json.dumps(event).encode()
            answer = client.post(f"{limited.url}/webhooks/stripe", content=body, headers=stripe_headers(body))
            assert answer.status_code == 200, answer.text
