"""A small test kit for connector authors; it needs no test framework.

    from connectors.testing import check_connector, signed_request, tamper

    connector = AcmeConnector.from_config({"secrets": ["s3cret"]})
    check_connector(connector, now=1_700_000_000)      # sign → verify → normalize, tampering

`signed_request` builds what the provider would send (through `connector.sign`), `tamper`
changes one byte of a request's body, and `check_connector` raises `AssertionError` with
a clear message when the round trip or the rejection of tampered/unauthenticated
deliveries does not hold.

Beyond the round trip, the same checks recur in every connector's tests; each takes the
connector (or how to build one) and how to sign a delivery, so the signer can be the
provider's SDK or a hand-written one rather than the connector's own `sign`:

    check_rotation(lambda *secrets: AcmeConnector.from_config({"secrets": secrets}),
                   lambda secret: acme_delivery(b"{}", secret), now)
    check_tolerance(connector, lambda at: acme_delivery(b"{}", timestamp=at), now, 300)
    check_malformed(connector, b"[]", b"{}", b"nope")
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from connectors import Connector, MalformedPayloadError, ProviderEvent, VerificationError, WebhookRequest
from connectors.toolkit import DEFAULT_SIGNING_URL, MAX_TYPE_LENGTH

__all__ = [
    "check_connector",
    "check_malformed",
    "check_rotation",
    "check_tolerance",
    "signed_request",
    "tamper",
]


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
    _expect_rejected(connector, WebhookRequest.build(request.body, url=request.url), now, "a bare delivery")
    if signs_body:
        _expect_rejected(connector, tamper(request), now, "a tampered delivery")
    return events


def check_rotation(
    connector: Callable[..., Connector],
    signed_with: Callable[[str], WebhookRequest],
    now: float,
    *,
    old: str = "old",
    new: str = "new",
    cause: str = "bad_signature",
) -> None:
    """Assert secret rotation: a delivery signed with the `old` secret verifies while both
    are configured, and is refused with `cause` once only the `new` one is.

    `connector(*secrets)` builds the connector with those secrets (`connector(new, old)`,
    then `connector(new)`); `signed_with(secret)` is a delivery signed with one of them.
    """
    request = signed_with(old)
    both = connector(new, old)
    try:
        both.verify(request, now)
    except VerificationError as exc:
        raise AssertionError(
            f"{type(both).__name__}: a delivery signed with the old secret failed verify() "
            f"while both secrets are configured: {exc.cause}"
        ) from exc
    _expect_rejected(connector(new), request, now, "a delivery signed with the old secret only", cause=cause)


def check_tolerance(
    connector: Connector,
    signed_at: Callable[[float], WebhookRequest],
    now: float,
    tolerance: float,
    *,
    cause: str = "stale_timestamp",
    step: float = 1,
) -> None:
    """Assert the replay window on both sides of `now`: deliveries signed `tolerance`
    seconds before and after verify; `tolerance + step` seconds before and after are
    refused with `cause`. `signed_at(timestamp)` is a delivery signed at that time."""
    name = type(connector).__name__
    for skew in (-tolerance, tolerance):
        try:
            connector.verify(signed_at(now + skew), now)
        except VerificationError as exc:
            raise AssertionError(
                f"{name}: a delivery signed {skew:+g} s away failed verify(): {exc}"
            ) from exc
    for skew in (-tolerance - step, tolerance + step):
        _expect_rejected(
            connector, signed_at(now + skew), now, f"a delivery signed {skew:+g} s away", cause=cause
        )


def check_malformed(connector: Connector, *bodies: bytes) -> None:
    """Assert that `normalize` refuses each body with `MalformedPayloadError` (a `400`),
    nothing else."""
    for body in bodies:
        try:
            events = connector.normalize(WebhookRequest.build(body))
        except MalformedPayloadError:
            continue
        raise AssertionError(f"{type(connector).__name__}: normalize() accepted {body!r}: {events!r}")


def _expect_rejected(
    connector: Connector, request: WebhookRequest, now: float, what: str, *, cause: str | None = None
) -> None:
    name = type(connector).__name__
    try:
        connector.verify(request, now)
    except VerificationError as exc:
        if cause is not None and exc.cause != cause:
            raise AssertionError(f"{name}: {what} was refused as {exc.cause}, not {cause}") from exc
        return
    raise AssertionError(f"{name}: {what} passed verify()")
