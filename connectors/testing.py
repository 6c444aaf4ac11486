"""A small test kit for connector authors; it needs no test framework.

    from connectors.testing import check_connector, signed_request, tamper

    connector = AcmeConnector.from_config({"secrets": ["s3cret"]})
    check_connector(connector, now=1_700_000_000)      # sign → verify → normalize, tampering

`signed_request` builds what the provider would send (through `connector.sign`), `tamper`
changes one byte of a request's body, and `check_connector` raises `AssertionError` with
a clear message when the round trip or the rejection of tampered/unauthenticated
deliveries does not hold.
"""

from __future__ import annotations

import time
from dataclasses import replace

from connectors import Connector, ProviderEvent, VerificationError, WebhookRequest
from connectors.toolkit import DEFAULT_SIGNING_URL, MAX_TYPE_LENGTH

__all__ = ["check_connector", "signed_request", "tamper"]


def signed_request(
    connector: Connector,
    body: bytes | None = None,
    *,
    now: float | None = None,
    url: str = DEFAULT_SIGNING_URL,
) -> WebhookRequest:
    """A request as the provider would send it: `body` (default `sample_body`) signed now."""
    now = time.time() if now is None else now
    if body is None:
        body = connector.sample_body(now)
    delivery = connector.sign(body, now)
    return WebhookRequest.build(
        delivery.body,
        list(delivery.headers.items()),
        method=delivery.method,
        query=delivery.query,
        url=url,
    )


def tamper(request: WebhookRequest) -> WebhookRequest:
    """The same request with one byte of the body changed (a byte added if it is empty)."""
    body = request.body
    if not body:
        return replace(request, body=b"\x00")
    i = len(body) // 2
    return replace(request, body=body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1 :])


def check_connector(
    connector: Connector,
    now: float,
    *,
    body: bytes | None = None,
    signs_body: bool = True,
) -> list[ProviderEvent]:
    """Assert the sign → verify → normalize round trip and the rejection of forgeries.

    Checks that a signed delivery verifies and normalizes into well-formed events; that
    the same body without the provider's headers and query is refused; and, unless the
    connector authenticates without protecting the body (`signs_body=False`), that a
    tampered body is refused. Returns the events for further assertions.
    """
    name = type(connector).__name__
    request = signed_request(connector, body, now=now)
    if connector.handshake(request, now) is not None:
        raise AssertionError(f"{name}: handshake() answered a signed delivery")
    try:
        connector.verify(request, now)
    except VerificationError as exc:
        raise AssertionError(f"{name}: its own signed delivery failed verify(): {exc}") from exc
    events = connector.normalize(request)
    if not events:
        raise AssertionError(f"{name}: normalize() returned no events")
    for event in events:
        if not (isinstance(event.type, str) and 0 < len(event.type) <= MAX_TYPE_LENGTH):
            raise AssertionError(f"{name}: event type {event.type!r} is not 1-{MAX_TYPE_LENGTH} characters")
        if not (isinstance(event.dedup_key, str) and event.dedup_key):
            raise AssertionError(f"{name}: event dedup_key {event.dedup_key!r} is empty")
    _expect_rejected(connector, WebhookRequest.build(request.body, url=request.url), now, "bare")
    if signs_body:
        _expect_rejected(connector, tamper(request), now, "tampered")
    return events


def _expect_rejected(connector: Connector, request: WebhookRequest, now: float, what: str) -> None:
    try:
        connector.verify(request, now)
    except VerificationError:
        return
    raise AssertionError(f"{type(connector).__name__}: a {what} delivery passed verify()")
