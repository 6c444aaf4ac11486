"""Fuzzing every catalogue case: whatever arrives, nothing but the contract comes out.

For every built-in connector (every case of `tests/catalogue.py`): `handshake()` answers
with a 2xx-4xx response, returns None or raises `VerificationError`; then `verify()`
succeeds or raises `VerificationError` with a short cause; never another exception. That
holds for arbitrary requests (any method, headers, body, query and URL), where moreover
nothing verifies and only credential-free handshakes answer 2xx, and for mutations of a
validly signed delivery or handshake (headers dropped, truncated, garbled or replaced,
body bytes flipped, cut or added, query changed), where a changed body never verifies
when the provider's scheme protects the body. Any body the case signs (arbitrary bytes,
JSON, or the shapes its provider branches on), signed at any time, verifies then (unless
the provider signs a timestamp inside the body) and gives well-formed events or
`MalformedPayloadError` from normalize().

Per connector, where known: the causes `verify()` may give (`CAUSES`), what its handshake
may answer (`ANSWERS`; a connector without one never answers), and bodies shaped like its
provider's (`SHAPED`).
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import (
    Connector,
    ConnectorResponse,
    MalformedPayloadError,
    VerificationError,
    WebhookRequest,
)
from tests.catalogue import CATALOGUE, Case, Delivery, builtin_connectors, fixture

from ._fakes import NOW
from ._support import FUZZ as DETERMINISTIC

#: Deterministic and quick: every case runs three tests of this many examples.
FUZZ = settings(DETERMINISTIC, max_examples=60)
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


#: The causes each connector's `verify()` may give: any other is a bug. (A connector not
#: listed may give any short cause.)
SIGNATURE_CAUSES = frozenset({"missing_signature", "malformed_signature", "bad_signature"})
TIMESTAMP_CAUSES = frozenset({"missing_timestamp", "malformed_timestamp", "stale_timestamp"})
CREDENTIAL_CAUSES = frozenset(
    {"missing_credentials", "malformed_credentials", "bad_credentials", "missing_token", "bad_token"}
)
CAUSES: dict[str, frozenset[str]] = {
    "airtable": SIGNATURE_CAUSES,
    "authorize-net": SIGNATURE_CAUSES,
    "braintree": SIGNATURE_CAUSES | {"malformed_body", "malformed_header"},
    "cal-com": SIGNATURE_CAUSES,
    "bitbucket": SIGNATURE_CAUSES,
    "calendly": SIGNATURE_CAUSES | TIMESTAMP_CAUSES,
    "checkout-com": SIGNATURE_CAUSES,
    "easypost": SIGNATURE_CAUSES,
    "front": SIGNATURE_CAUSES | TIMESTAMP_CAUSES,
    "freshservice": CREDENTIAL_CAUSES,
    "gitlab": SIGNATURE_CAUSES
    | {"missing_token", "bad_token", "missing_header", "malformed_timestamp", "stale_timestamp"},
    "intercom": SIGNATURE_CAUSES,
    "lemon-squeezy": SIGNATURE_CAUSES,
    "linear": frozenset({"missing_signature", "bad_signature"}) | TIMESTAMP_CAUSES,
    "mux": SIGNATURE_CAUSES | TIMESTAMP_CAUSES,
    "notion": SIGNATURE_CAUSES,
    "nylas": SIGNATURE_CAUSES,
    "pagerduty": SIGNATURE_CAUSES,
    "plaid": frozenset(
        {"missing_token", "malformed_token", "unsupported_algorithm", "unknown_key", "bad_signature"}
    )
    | TIMESTAMP_CAUSES
    | {"bad_body_hash"},
    "sentry": SIGNATURE_CAUSES,
    "shared-secret": CREDENTIAL_CAUSES | {"malformed_token"},
    "shopify": SIGNATURE_CAUSES,
    "square": frozenset({"missing_signature", "missing_url", "bad_signature"}),
    "twilio": frozenset(
        {
            "missing_signature",
            "bad_signature",
            "bad_body_hash",
            "malformed_url",
            "malformed_body",
            "unsupported_algorithm",
        }
    ),
    "typeform": SIGNATURE_CAUSES,
    "webflow": SIGNATURE_CAUSES | TIMESTAMP_CAUSES,
    "zendesk": frozenset({"missing_signature", "bad_signature"}) | TIMESTAMP_CAUSES,
    # wave 2 (first half)
    "aws-sns": SIGNATURE_CAUSES
    | TIMESTAMP_CAUSES
    | {
        "missing_header",
        "malformed_message",
        "unsupported_signature_version",
        "unknown_topic",
        "bad_certificate_url",
        "certificate_unavailable",
        "bad_certificate",
        "bad_subscribe_url",
    },
    "chargebee": CREDENTIAL_CAUSES,
    "coinbase-commerce": SIGNATURE_CAUSES,
    "docusign": frozenset({"missing_signature", "bad_signature"}),
    "gocardless": SIGNATURE_CAUSES,
    "mandrill": frozenset({"missing_signature", "missing_url", "malformed_body", "bad_signature"}),
    "persona": SIGNATURE_CAUSES | TIMESTAMP_CAUSES,
    "pipedrive": CREDENTIAL_CAUSES,
    "postmark": CREDENTIAL_CAUSES,
    "razorpay": SIGNATURE_CAUSES,
    "recurly": SIGNATURE_CAUSES | TIMESTAMP_CAUSES,
    "telnyx": SIGNATURE_CAUSES | TIMESTAMP_CAUSES,
    "trello": frozenset({"missing_signature", "missing_url", "bad_signature"}),
    "vercel": SIGNATURE_CAUSES,
    "woocommerce": SIGNATURE_CAUSES,
    "workos": SIGNATURE_CAUSES | TIMESTAMP_CAUSES,
}
#: What each connector with a handshake may answer: the statuses, and the longest body (a
#: bounded echo). A connector not listed never answers a handshake.
ANSWERS: dict[str, tuple[frozenset[int], int]] = {
    "asana": (frozenset({200}), 0),
    "aws-sns": (frozenset({200, 400}), 64),
    "braintree": (frozenset({200}), 128),
    "discord": (frozenset({200, 204}), 1024),
    "dropbox": (frozenset({200, 400}), 256),
    "front": (frozenset({200}), 256),
    "mandrill": (frozenset({200}), 0),
    "meta": (frozenset({200, 400, 403}), 1024),
    "microsoft-graph": (frozenset({200, 400}), 1024),
    "monday": (frozenset({200}), 512),
    "notion": (frozenset({200}), 0),
    "nylas": (frozenset({200}), 256),
    "okta": (frozenset({200, 400}), 1024),
    "slack": (frozenset({200, 400}), 128),
    "trello": (frozenset({200}), 0),
    "twitch": (frozenset({200, 400}), 1024),
    "woocommerce": (frozenset({200}), 0),
    "xero": (frozenset({200, 401}), 0),
    "zoom": (frozenset({200, 400}), 1024),
}
#: Connectors whose `sign()` refuses (ValueError) a body their provider never sends; any
#: other signs whatever it is given.
REFUSES_TO_SIGN = frozenset({"microsoft-graph"})
#: When a connector's signed deliveries can verify at all: the catalogue's PayPal
#: certificate is valid from 2020 to 2045.
VALID_BETWEEN: dict[str, tuple[float, float]] = {"paypal": (1_577_836_800.0, 2_366_841_600.0)}


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _shaped() -> dict[str, st.SearchStrategy[bytes]]:
    """Bodies in the shapes each provider's connector branches on, and its fixtures."""
    some = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
    adyen_item = st.fixed_dictionaries(
        {},
        optional={
            "pspReference": st.text(max_size=5) | st.none(),
            "eventCode": st.sampled_from(["AUTHORISATION", ""]) | st.integers(),
            "amount": st.fixed_dictionaries(
                {}, optional={"value": st.integers() | st.text(max_size=3), "currency": st.text(max_size=3)}
            )
            | st.integers(),
            "success": st.booleans() | st.sampled_from(["true", "false"]),
            "additionalData": st.fixed_dictionaries(
                {}, optional={"hmacSignature": st.text(max_size=10) | st.integers()}
            )
            | st.none(),
        },
    )
    adyen = st.fixed_dictionaries(
        {},
        optional={
            "notificationItems": st.lists(
                st.fixed_dictionaries({"NotificationRequestItem": adyen_item}) | st.integers(), max_size=3
            )
        },
    )
    discord = st.builds(
        lambda t, e: {"type": t, **({"event": e} if e is not None else {})},
        st.integers(-1, 3) | st.booleans() | st.text(max_size=3),
        st.none() | st.integers() | st.dictionaries(st.just("type"), st.text(max_size=5)),
    )
    graph_item = st.dictionaries(
        st.sampled_from(["clientState", "changeType", "lifecycleEvent", "id"]),
        st.sampled_from(["other", ""]) | st.integers() | st.none(),
    )
    mailgun = st.fixed_dictionaries(
        {},
        optional={
            "signature": st.fixed_dictionaries(
                {},
                optional={
                    "timestamp": st.sampled_from([str(NOW), NOW, "x"]) | st.text(max_size=5) | st.floats(),
                    "token": st.text(max_size=5) | st.integers(),
                    "signature": st.sampled_from(["0" * 64]) | st.text(max_size=10),
                },
            )
            | st.integers()
        },
    )
    files = {
        "discord": ["application_authorized.json", "application_command.json", "events_ping.json"],
        "meta": ["whatsapp_messages.json", "page_batch.json"],
        "slack": ["app_mention.json", "url_verification.json"],
        "twitch": ["channel.follow.json", "webhook_callback_verification.json"],
        "xero": ["invoice.update.json", "intent_to_receive.json"],
        "zoom": ["meeting.started.json", "endpoint.url_validation.json"],
    }
    shapes: dict[str, st.SearchStrategy[Any]] = {
        "adyen": adyen,
        "discord": discord,
        "dropbox": st.just({"delta": {"users": [12345]}}),
        "linear": st.builds(lambda ms: {"type": "Issue", "action": "update", "webhookTimestamp": ms}, some),
        "mailgun": mailgun,
        "microsoft-graph": st.lists(graph_item | st.integers(), max_size=3).map(lambda v: {"value": v}),
        "slack": st.builds(
            lambda c: {"type": "url_verification", "challenge": c}, st.text(max_size=20) | st.integers()
        ),
        "twitch": st.builds(lambda c: {"challenge": c}, st.text(max_size=20) | st.integers()),
        "xero": st.builds(lambda e: {"events": e}, st.lists(st.integers(), max_size=2) | st.text(max_size=3)),
        "zoom": st.builds(
            lambda p: {"event": "endpoint.url_validation", "payload": p},
            st.dictionaries(st.just("plainToken"), st.text(max_size=20) | st.integers())
            | st.text(max_size=5),
        ),
    }
    return {
        name: shape.map(_json) | st.sampled_from([fixture(name, f) for f in files.get(name, [])] or [b""])
        for name, shape in shapes.items()
    }


SHAPED = _shaped()
HEADER_NAMES = sorted(
    {
        name.lower()
        for case in CATALOGUE.values()
        if case.connector in BUILTIN
        for name, _ in case.deliver(NOW, url_of(case)).headers
    }
    | {
        "authorization", "content-type", "x-hub-signature", "x-hub-signature-256", "webhook-id",
        "webhook-timestamp", "webhook-signature", "svix-id", "svix-timestamp", "svix-signature",
        "hmacsignature", "x-okta-verification-challenge", "x-twilio-webhooks-signature-settings",
        "x-hubspot-signature", "x-hubspot-signature-version", "x-hubspot-signature-v3",
        "x-hubspot-request-timestamp", "twitch-eventsub-message-type", "x-event-key", "x-api-key",
        "x-gitlab-token", "sentry-hook-resource", "sentry-hook-timestamp", "x-shopify-topic",
        "x-shopify-event-id", "x-slack-retry-num", "x-square-signature",
        "x-zendesk-webhook-invocation-id",
    }
)  # fmt: skip
PIECES = [
    "t=", "v1=", "v0=", "v0:", "v1,", "v1a,", "v2,", "v1,AAAA", "v1a,====", "ts=", "h1=", "ts=1700000000",
    "h1=00", "x=y", "sha256=", "sha1=", "Basic ", "Bearer ", "Bearer", "JWT ", "JWT e30.e30.", "Bearer a.b.c",
    ",", ";", " ", "=", ":", ".", "|", "1700000000", "1700000000000", "-1", "99999999999999",
    "2023-11-14T22:13:20Z", "2023-11-14T22:13:20.123456789Z", "2023-11-14T22:13:20", ".1234567891", "Z",
    "+01:00", "2023-11-14T22:13:20+01:00", "2023-11-14T22:13:20+99:00", "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "\u00b2", "\u0661", "AAAA", "====", "zz",
    "whsec_", "aG9va2dhdGU6cHcx", "0" * 64, "ab" * 32, "0" * 128, "\udcff", "\ud800", "\x00", "\u00e9",
    "application/x-www-form-urlencoded", "application/json", "payload=", "%7B", "{", "}",
    "eyJhbGciOiJIUzI1NiJ9", "v1", "v2", "v3", "key=x,algorithm=HMAC_SHA256", "algorithm=MD5",
    "SHA256withRSA", "https://api.paypal.com/v1/notifications/certs/CERT-1",
    "https://evil.example/v1/notifications/certs/", "webhook_callback_verification", "revocation",
    "notification", "url_verification", "endpoint.url_validation", "subscribe", "1158201444",
]  # fmt: skip
QUERY_NAMES = [
    "hub.mode", "hub.verify_token", "hub.challenge", "challenge", "validationToken", "jwt",
    "bodySHA256", "token", "key", "x",
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
#: URLs a connector that reads the URL must survive.
ODD_URLS = ["", "http://[::1", "https://h:x/"]
#: Any clock: near the signing time, 1970 to 2096, and far outside (negative, year 2286).
CLOCKS = st.one_of(st.just(float(NOW)), st.floats(min_value=0, max_value=4e9), st.floats(-1e12, 1e13))

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
queries = st.lists(st.tuples(st.sampled_from(QUERY_NAMES) | st.text(max_size=5), header_values), max_size=3)


def bodies(case: Case) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, arbitrary JSON, or a body shaped like the case's provider's."""
    common = st.binary(max_size=200) | json_values.map(_json)
    return common | SHAPED[case.connector] if case.connector in SHAPED else common


@st.composite
def requests(draw: st.DrawFn, case: Case) -> WebhookRequest:
    """An arbitrary request to the case's URL, or with an arbitrary URL."""
    query = draw(queries)
    own = url_of(case) + ("?" + urlencode(query, errors="surrogatepass") if query else "")
    url = draw(
        st.one_of(
            st.just(own),
            st.sampled_from([*ODD_URLS, url_of(case) + "?bodySHA256=ab", url_of(case) + "/x?jwt=a.b.c"]),
            st.text(max_size=30),
        )
    )
    return WebhookRequest.build(
        draw(bodies(case)),
        draw(st.lists(st.tuples(header_names, header_values), max_size=6)),
        method=draw(st.sampled_from(["POST", "GET", "PUT", "PATCH"])),
        query=query,
        url=url,
    )


def check_cause(case: Case, cause: str) -> None:
    """A short code, and one of the connector's own where they are listed."""
    assert cause.replace("_", "").isalpha(), cause
    if case.connector in CAUSES:
        assert cause in CAUSES[case.connector], f"{case.key}: unexpected cause {cause!r}"


def check_answer(case: Case, answer: ConnectorResponse) -> None:
    """A handshake answer the connector may give, that the edge can send as it is."""
    assert isinstance(answer, ConnectorResponse), answer
    statuses, longest = ANSWERS.get(case.connector, (frozenset(), 0))
    assert answer.status in statuses, f"{case.key}: handshake answered {answer.status}"
    assert 200 <= answer.status < 500, f"{case.key}: handshake answered {answer.status}"
    assert isinstance(answer.body, bytes)
    assert len(answer.body) <= longest, f"{case.key}: a {len(answer.body)}-byte handshake answer"
    answer.content_type.encode("latin-1")  # the edge sends it as a header


def outcome(case: Case, connector: Connector, request: WebhookRequest, now: float) -> tuple[str, int]:
    """What the gateway would do: ("handshake", status), ("refused", 401) or ("verified", 200)."""
    try:
        answer = connector.handshake(request, now)
        if answer is None:
            connector.verify(request, now)
    except VerificationError as exc:
        check_cause(case, exc.cause)
        return "refused", 401
    if answer is None:
        return "verified", 200
    check_answer(case, answer)
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
@given(data=st.data(), now=CLOCKS)
def test_arbitrary_requests(key: str, data: st.DataObject, now: float) -> None:
    case = case_of(key)
    request = data.draw(requests(case))
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
@given(
    data=st.data(),
    form=st.booleans(),
    now=st.just(float(NOW)) | st.floats(min_value=0, max_value=4e9),
    late=st.none() | st.just(float(NOW)) | st.floats(min_value=0, max_value=4e9),
)
def test_signed_bodies(key: str, data: st.DataObject, form: bool, now: float, late: float | None) -> None:
    """Any body signed at `now` verifies at `now` (checked `late`: verified or refused),
    and normalize() gives well-formed events or `MalformedPayloadError`."""
    case = case_of(key)
    json_body = json_values.map(case.fuzz_wrap or (lambda v: v)).map(_json)
    body = data.draw(st.binary(max_size=200) | json_body | SHAPED.get(case.connector, json_body))
    try:
        delivery = case.sign(body, now, url_of(case))
    except ValueError:
        assert case.connector in REFUSES_TO_SIGN, f"{key}: sign() refused a body"
        return  # a connector may refuse to sign what its provider never sends (documented)
    headers = list(delivery.headers)
    if form:
        headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    request = Delivery(delivery.method, delivery.body, tuple(headers), delivery.query).request(url_of(case))
    connector = case.server()
    checked_at = now if late is None else late
    result = outcome(case, connector, request, checked_at)
    start, end = VALID_BETWEEN.get(case.connector, (-math.inf, math.inf))
    if result[0] == "refused" and late is None and start <= now < end:
        # Mailgun reads its signature from the body as the content type says; Linear signs a
        # timestamp inside the body.
        assert form or not case.verifies_any_body, f"{key}: its own signed body failed"
    if result[0] == "handshake":
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
