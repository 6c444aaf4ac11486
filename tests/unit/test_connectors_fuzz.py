"""Fuzzing every catalogue case: whatever arrives, nothing but the contract comes out.

For every built-in connector (every case of `tests/catalogue.py`): `handshake()` answers
with a 2xx-4xx response, returns None or raises `VerificationError`; then `verify()`
succeeds or raises `VerificationError` with a short cause; never another exception. That
holds for arbitrary requests (any method, headers, body, query and URL), where moreover
nothing verifies and only credential-free handshakes answer 2xx, and for mutations of a
validly signed delivery or handshake (headers dropped, truncated, garbled or replaced,
body bytes flipped, cut or added, query changed), where a changed body never verifies
when the provider's scheme protects the body. normalize() on a verified delivery gives
well-formed events or raises `MalformedPayloadError`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import (
    Connector,
    ConnectorResponse,
    MalformedPayloadError,
    VerificationError,
    WebhookRequest,
)
from tests.catalogue import CATALOGUE, Case, Delivery, builtin_connectors

from ._support import NOW

#: Deterministic and quick: every case runs three tests of this many examples.
FUZZ = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
#: EventBridge's limit on a detail-type.
MAX_TYPE_LENGTH = 128
#: Every built-in connector, and every extra case: a connector without a case fails here.
BUILTIN = builtin_connectors()
KEYS = sorted(set(BUILTIN) | set(CATALOGUE))
URL = "https://hooks.example.com/webhooks/"


def case_of(key: str) -> Case:
    assert key in CATALOGUE, f"built-in connector {key!r} has no case in tests/catalogue.py"
    return CATALOGUE[key]


def url_of(case: Case) -> str:
    return URL + case.key


HEADER_NAMES = sorted(
    {
        name.lower()
        for case in CATALOGUE.values()
        if case.connector in BUILTIN
        for name, _ in case.deliver(NOW, url_of(case)).headers
    }
    | {
        "authorization", "content-type", "x-hub-signature", "webhook-id", "webhook-timestamp",
        "webhook-signature", "svix-id", "svix-timestamp", "svix-signature", "hmacsignature",
        "x-okta-verification-challenge", "x-twilio-webhooks-signature-settings",
        "x-hubspot-signature-version", "twitch-eventsub-message-type",
    }
)  # fmt: skip
PIECES = [
    "t=", "v1=", "v0=", "v1,", "v1a,", "v2,", "ts=", "h1=", "sha256=", "sha1=", "Basic ", "Bearer ",
    "JWT ", ",", ";", " ", "=", ":", ".", "|", "1700000000", "1700000000000", "-1", "99999999999999",
    "2023-11-14T22:13:20Z", "2023-11-14T22:13:20.123456789Z", "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59-23:59", "\u00b2", "\u0661", "AAAA", "====", "whsec_", "aG9va2dhdGU6cHcx",
    "0" * 64, "0" * 128, "\udcff", "\ud800", "\x00", "\u00e9", "application/x-www-form-urlencoded",
    "application/json", "payload=", "%7B", "{", "}", "eyJhbGciOiJIUzI1NiJ9", "v1", "v2", "v3",
    "key=x,algorithm=HMAC_SHA256", "algorithm=MD5", "SHA256withRSA",
    "https://api.paypal.com/v1/notifications/certs/CERT-1", "https://evil.example/v1/notifications/certs/",
    "webhook_callback_verification", "revocation", "notification",
]  # fmt: skip
QUERY_NAMES = [
    "hub.mode", "hub.verify_token", "hub.challenge", "challenge", "validationToken", "jwt",
    "bodySHA256", "token", "x",
]  # fmt: skip
BODY_KEYS = [
    "type", "id", "event", "action", "challenge", "plainToken", "payload", "events", "value",
    "clientState", "changeType", "signature", "timestamp", "token", "notificationItems",
    "NotificationRequestItem", "additionalData", "hmacSignature", "webhookTimestamp", "data",
    "object", "entry", "changes", "field", "subscription", "event_type", "event_id", "topic",
    "webhookEvent", "freshdesk_webhook", "triggered_event", "subscriptionType", "eventId",
]  # fmt: skip
WORDS = [
    "url_verification", "endpoint.url_validation", "subscribe", "page", "ping", "created",
    "AUTHORISATION", "true", "",
]  # fmt: skip

header_values = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6)), max_size=8).map("".join),
)
header_names = st.one_of(st.sampled_from(HEADER_NAMES), st.text(min_size=1, max_size=12))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(WORDS),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(BODY_KEYS), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode()))
queries = st.lists(st.tuples(st.sampled_from(QUERY_NAMES) | st.text(max_size=5), header_values), max_size=3)


@st.composite
def requests(draw: st.DrawFn, key: str) -> WebhookRequest:
    """An arbitrary request to the case's URL, or with an arbitrary URL."""
    query = draw(queries)
    url = draw(
        st.one_of(
            st.just(URL + key + ("?" + urlencode(query, errors="surrogatepass") if query else "")),
            st.just(""),
            st.text(max_size=30),
        )
    )
    return WebhookRequest.build(
        draw(bodies),
        draw(st.lists(st.tuples(header_names, header_values), max_size=6)),
        method=draw(st.sampled_from(["POST", "GET", "PUT", "PATCH"])),
        query=query,
        url=url,
    )


def outcome(case: Case, connector: Connector, request: WebhookRequest, now: float) -> tuple[str, int]:
    """What the gateway would do: ("handshake", status), ("refused", 401) or ("verified", 200)."""
    cause: str | None = None
    try:
        answer = connector.handshake(request, now)
        if answer is None:
            connector.verify(request, now)
    except VerificationError as exc:
        cause = exc.cause
    if cause is not None:
        assert cause.replace("_", "").isalpha(), cause
        return "refused", 401
    if answer is None:
        return "verified", 200
    assert isinstance(answer, ConnectorResponse), answer
    assert 200 <= answer.status < 500, f"{case.key}: handshake answered {answer.status}"
    assert isinstance(answer.body, bytes)
    answer.content_type.encode("latin-1")  # the edge sends it as a header
    return "handshake", answer.status


def signed_base(case: Case, handshake: bool) -> Delivery:
    if handshake and case.handshake is not None:
        return case.handshake(case.signer(), NOW, url_of(case))
    return case.deliver(NOW, url_of(case))


@pytest.mark.parametrize("key", KEYS)
def test_signed_deliveries_and_handshakes_are_the_mutation_baseline(key: str) -> None:
    case = case_of(key)
    connector = case.server()
    assert outcome(case, connector, signed_base(case, False).request(url_of(case)), NOW) == ("verified", 200)
    if case.handshake is not None:
        answer = connector.handshake(signed_base(case, True).request(url_of(case)), NOW)
        assert answer is not None
        assert (answer.status, answer.body) == (200, case.handshake_reply)


@pytest.mark.parametrize("key", KEYS)
@FUZZ
@given(data=st.data(), now=st.one_of(st.just(float(NOW)), st.floats(min_value=0, max_value=4e9)))
def test_arbitrary_requests(key: str, data: st.DataObject, now: float) -> None:
    case = case_of(key)
    request = data.draw(requests(key))
    result = outcome(case, case.server(), request, now)
    assert result != ("verified", 200), f"{key}: an arbitrary request verified"
    if result[0] == "handshake" and result[1] < 300:
        assert case.open_handshake, f"{key}: a handshake answered {result[1]} to an unauthenticated request"


MUTATIONS = [
    "drop", "replace", "truncate", "garble", "shadow", "flip_body", "cut_body", "grow_body",
    "query", "method",
]  # fmt: skip


@pytest.mark.parametrize("key", KEYS)
@FUZZ
@given(
    data=st.data(),
    handshake=st.booleans(),
    mutations=st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3),
    shift=st.sampled_from([0, 1, -1, 59, -61, 299, -301, 601, -1801, -NOW, 2e9]),
)
def test_mutated_signed_requests(
    key: str, data: st.DataObject, handshake: bool, mutations: list[str], shift: float
) -> None:
    case = case_of(key)
    base = signed_base(case, handshake)
    headers = list(base.headers)
    body, query, method = base.body, list(base.query), base.method
    for mutation in mutations:
        i = data.draw(st.integers(0, max(len(headers) - 1, 0)))
        if mutation in ("drop", "replace", "truncate", "garble", "shadow") and headers:
            name, value = headers[i]
            if mutation == "drop":
                del headers[i]
            elif mutation == "replace":
                headers[i] = (name, data.draw(header_values))
            elif mutation == "truncate":
                headers[i] = (name, value[: data.draw(st.integers(0, max(len(value) - 1, 0)))])
            elif mutation == "garble" and value:
                j = data.draw(st.integers(0, len(value) - 1))
                headers[i] = (name, value[:j] + data.draw(st.characters()) + value[j + 1 :])
            else:  # "shadow": another value first, the signed one after it
                headers.insert(i, (name, data.draw(header_values)))
        elif mutation == "flip_body" and body:
            j = data.draw(st.integers(0, len(body) - 1))
            body = body[:j] + bytes([body[j] ^ data.draw(st.integers(1, 255))]) + body[j + 1 :]
        elif mutation == "cut_body" and body:
            body = body[: data.draw(st.integers(0, len(body) - 1))]
        elif mutation == "grow_body":
            body += data.draw(st.binary(min_size=1, max_size=8))
        elif mutation == "query":
            query = [(k, data.draw(header_values)) for k, _ in query] + data.draw(queries)
        elif mutation == "method":
            method = data.draw(st.sampled_from(["GET", "PUT", "POST"]))
    url = URL + key + ("?" + urlencode(query, errors="surrogatepass") if query else "")
    request = WebhookRequest.build(body, headers, method=method, query=query, url=url)
    result = outcome(case, case.server(), request, NOW + shift)
    signed_body = bool(base.body) and case.signs_body and case.tamper_at is None  # not a GET handshake
    if body != base.body and signed_body and not case.open_handshake:
        assert result[0] == "refused" or result[1] >= 300, f"{key}: a changed body was accepted: {result}"


@pytest.mark.parametrize("key", KEYS)
@FUZZ
@given(value=json_values, raw=st.binary(max_size=200), use_raw=st.booleans(), form=st.booleans())
def test_normalize_of_verified_bodies(key: str, value: Any, raw: bytes, use_raw: bool, form: bool) -> None:
    case = case_of(key)
    if case.fuzz_wrap is not None:
        value = case.fuzz_wrap(value)
    body = raw if use_raw else json.dumps(value).encode()
    try:
        delivery = case.sign(body, NOW, url_of(case))
    except ValueError:
        return  # a connector may refuse to sign what its provider never sends (documented)
    headers = list(delivery.headers)
    if form:
        headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    request = Delivery(delivery.method, delivery.body, tuple(headers), delivery.query).request(url_of(case))
    connector = case.server()
    answer = connector.handshake(request, NOW)
    if answer is not None:
        assert 200 <= answer.status < 500
        return
    try:
        connector.verify(request, NOW)
    except VerificationError:
        # Mailgun reads its signature from the body as the content type says.
        assert form or not case.verifies_any_body, f"{key}: its own signed delivery failed verify()"
        return
    try:
        events = connector.normalize(request)
    except MalformedPayloadError as exc:
        events, cause = [], exc.cause
    else:
        cause = ""
    assert events or cause
    for event in events:
        assert isinstance(event.type, str)
        assert 0 < len(event.type) <= MAX_TYPE_LENGTH
        assert isinstance(event.dedup_key, str)
        assert event.dedup_key
