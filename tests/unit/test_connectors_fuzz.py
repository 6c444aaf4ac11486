"""Fuzzing: whatever arrives, verify() succeeds or raises VerificationError, nothing else.

Likewise handshake() answers or returns None, and normalize() on a verified delivery gives
events or raises MalformedPayloadError.
"""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

import connectors
from connectors import (
    Connector,
    MalformedPayloadError,
    VerificationError,
    WebhookRequest,
)
from connectors.testing import signed_request

from ._support import FUZZ, NOW

_PUBLIC = (
    Ed25519PrivateKey.from_private_bytes(b"\x01" * 32)
    .public_key()
    .public_bytes(Encoding.Raw, PublicFormat.Raw)
)
CONFIGS: list[tuple[str, dict[str, object]]] = [
    ("stripe", {"secrets": ["whsec_a", "whsec_b"]}),
    ("github", {"secrets": ["It's a Secret to Everybody", "second"]}),
    ("freshdesk", {"username": "hookgate", "password": ["pw1", "pw2"]}),
    ("freshdesk", {"header_name": "X-Webhook-Token", "token": "t"}),
    ("freshdesk", {"query_param": "token", "token": "t"}),
    (
        "standard-webhooks",
        {
            "secrets": [
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "whpk_" + base64.b64encode(_PUBLIC).decode(),
                "whsk_" + base64.b64encode(b"\x02" * 32).decode(),
            ]
        },
    ),
    (
        "generic-hmac",
        {
            "secrets": ["s"],
            "signature_header": "X-Sig",
            "signature_prefix": "v1=",
            "signature_separator": ",",
        },
    ),
    (
        "generic-hmac",
        {
            "secrets": ["s"],
            "signature_header": "X-Sig",
            "encoding": "base64",
            "algorithm": "sha512",
            "signed_content": "id.timestamp.body",
            "id_header": "X-Id",
            "timestamp_header": "X-Ts",
            "type_header": "X-Type",
        },
    ),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CONFIGS)]

HEADER_NAMES = [
    "stripe-signature", "x-hub-signature-256", "x-github-event", "x-github-delivery",
    "authorization", "x-webhook-token", "content-type", "webhook-id", "webhook-timestamp",
    "webhook-signature", "svix-id", "svix-timestamp", "svix-signature", "x-sig", "x-id", "x-ts",
    "x-type",
]  # fmt: skip
PIECES = [
    "t=", "v1=", "v0=", "v1,", "v1a,", "v2,", "sha256=", "sha1=", "Basic ", "Bearer ", ",", " ",
    "=", ":", ".", "1700000000", "-1", "\u00b2", "\u0661", "AAAA", "====", "whsec_", "aG9va2dhdGU6cHcx",
    "0" * 64, "\udcff", "\ud800", "\x00", "\u00e9", "application/x-www-form-urlencoded",
    "payload=", "%7B", "{", "}",
]  # fmt: skip

header_values = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6)), max_size=8).map("".join),
)
header_names = st.one_of(st.sampled_from(HEADER_NAMES), st.text(min_size=1, max_size=12))
requests = st.builds(
    lambda method, body, headers, query: WebhookRequest.build(body, headers, method=method, query=query),
    method=st.sampled_from(["POST", "GET", "PUT"]),
    body=st.binary(max_size=200),
    headers=st.lists(st.tuples(header_names, header_values), max_size=6),
    query=st.lists(
        st.tuples(st.sampled_from(["token", "x"]) | st.text(max_size=5), header_values), max_size=3
    ),
)


def make(index: int) -> Connector:
    name, config = CONFIGS[index]
    return connectors.load(name).from_config(config)


def check_verify(connector: Connector, request: WebhookRequest, now: float) -> None:
    assert connector.handshake(request, now) is None
    cause = "ok"
    try:
        connector.verify(request, now)
    except VerificationError as exc:
        cause = exc.cause
    assert cause.replace("_", "").isalpha(), cause


@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=IDS)
@FUZZ
@given(request=requests, now=st.floats(min_value=0, max_value=4e9))
def test_arbitrary_requests(index: int, request: WebhookRequest, now: float) -> None:
    check_verify(make(index), request, now)


@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=IDS)
@FUZZ
@given(
    data=st.data(),
    body=st.binary(max_size=100),
    drop=st.booleans(),
    now=st.sampled_from([NOW, NOW + 299, NOW - 301, 0]),
)
def test_mutated_signed_requests(
    index: int, data: st.DataObject, body: bytes, drop: bool, now: float
) -> None:
    connector = make(index)
    request = signed_request(connector, body, now=NOW)
    items = list(request.headers.raw())
    if items:
        i = data.draw(st.integers(0, len(items) - 1))
        if drop:
            del items[i]
        else:
            items[i] = (items[i][0], data.draw(header_values))
    query = [(k, data.draw(header_values)) for k, _ in request.query]
    mutated = WebhookRequest.build(request.body, items, query=query)
    check_verify(connector, mutated, now)


@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=IDS)
@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(
                        [
                            "type",
                            "id",
                            "action",
                            "freshdesk_webhook",
                            "triggered_event",
                            "payload",
                            "timestamp",
                        ]
                    ),
                    inner,
                    max_size=4,
                )
            ),
            max_leaves=10,
        ).map(lambda v: json.dumps(v).encode()),
    ),
    form=st.booleans(),
)
def test_normalize_of_verified_bodies(index: int, body: bytes, form: bool) -> None:
    connector = make(index)
    request = signed_request(connector, body, now=NOW)
    if form:
        headers = [(k, v) for k, v in request.headers.raw() if k != "content-type"]
        headers.append(("content-type", "application/x-www-form-urlencoded"))
        request = WebhookRequest.build(request.body, headers, query=request.query)
    connector.verify(request, NOW)
    try:
        events = connector.normalize(request)
    except MalformedPayloadError as exc:
        events, cause = [], exc.cause
    else:
        cause = ""
    assert events or cause
    for event in events:
        assert isinstance(event.type, str)
        assert 0 < len(event.type) <= 128
        assert event.dedup_key
