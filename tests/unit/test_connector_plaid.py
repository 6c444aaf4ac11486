"""Plaid: the ES256 JWT in Plaid-Verification (PyJWT as oracle), keys fetched by kid and
cached, the body hash claim, tolerance."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.plaid import PlaidConnector, PlaidOptions
from connectors.testing import check_connector
from connectors.toolkit import Fetcher, FetchError, load_private_key
from tests.catalogue import PLAID_JWK, PLAID_KEY, PLAID_OTHER_KEY

from ._fakes import NOW
from ._support import fixture

KID = json.loads(PLAID_JWK)["kid"]
BODY = fixture("plaid", "sync_updates_available.json")


KEY_URL = "https://production.plaid.com/webhook_verification_key/get"
CREDENTIALS = {"client_id": "5f1a2b3c4d5e6f7a8b9c0d1e", "secret": "plaid-api-secret"}


class FakePlaid:
    """`POST /webhook_verification_key/get`, offline, as a `Fetcher`: the JWKs it knows,
    and the key ids asked for."""

    def __init__(self, *jwks: str) -> None:
        self.keys: dict[str, dict[str, Any]] = {json.loads(j)["kid"]: json.loads(j) for j in jwks}
        self.calls: list[str] = []
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, url: str, body: bytes | None = None) -> bytes:
        assert body is not None
        asked = json.loads(body)
        self.asked.append((url, asked))
        self.calls.append(asked["key_id"])
        if asked["key_id"] not in self.keys:
            raise FetchError("HTTPError")  # Plaid answers 400 INVALID_KEY_ID
        return json.dumps({"key": self.keys[asked["key_id"]], "request_id": "m8MDnv9okwxFNBV"}).encode()


def fetching(plaid: Fetcher, **options: Any) -> PlaidConnector:
    config = {"client_id": CREDENTIALS["client_id"], "api_secret": CREDENTIALS["secret"], **options}
    return PlaidConnector(PlaidOptions.model_validate(config), fetcher=plaid)


def token(body: bytes, *, key: str = PLAID_KEY, iat: float = NOW, kid: str = KID, alg: str = "ES256") -> str:
    private = load_private_key(key)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    claims = {"iat": iat, "request_body_sha256": hashlib.sha256(body).hexdigest()}
    return jwt.encode(claims, private, algorithm=alg, headers={"kid": kid})


def delivery(body: bytes = BODY, **kwargs: Any) -> WebhookRequest:
    return WebhookRequest.build(body, {"Plaid-Verification": token(body, **kwargs)})


def test_pyjwt_token_verifies_with_a_fetched_key_once() -> None:
    plaid = FakePlaid(PLAID_JWK)
    connector = fetching(plaid)
    connector.verify(delivery(), NOW)
    connector.verify(delivery(b"{}"), NOW + 1)
    assert plaid.calls == [KID]  # cached by key id
    assert plaid.asked == [(KEY_URL, {**CREDENTIALS, "key_id": KID})]


def test_keys_are_asked_of_the_configured_environment() -> None:
    plaid = FakePlaid(PLAID_JWK)
    fetching(plaid, environment="sandbox").verify(delivery(), NOW)
    assert [url for url, _ in plaid.asked] == ["https://sandbox.plaid.com/webhook_verification_key/get"]


@pytest.mark.parametrize("answer", [b"not json", b"[]", b'{"key": "x"}', b'{"key": {"kty": "EC"}}'])
def test_unusable_answers_are_no_key(answer: bytes) -> None:
    calls: list[str] = []

    def plaid(url: str, body: bytes | None = None) -> bytes:
        calls.append(url)
        return answer

    connector = fetching(plaid)
    for _ in range(2):
        with pytest.raises(VerificationError, match="unknown_key"):
            connector.verify(delivery(), NOW)
    assert calls == [KEY_URL]


def test_unknown_key_ids_are_fetched_once_and_refused() -> None:
    plaid = FakePlaid(PLAID_JWK)
    connector = fetching(plaid)
    for _ in range(3):
        with pytest.raises(VerificationError, match="unknown_key"):
            connector.verify(delivery(kid="not-a-key"), NOW)
    assert plaid.calls == ["not-a-key"]


def test_expired_keys_verify_nothing() -> None:
    expired = json.dumps({**json.loads(PLAID_JWK), "expired_at": 1700000000})
    with pytest.raises(VerificationError, match="unknown_key"):
        fetching(FakePlaid(expired)).verify(delivery(), NOW)


def test_pinned_keys_need_no_fetch_and_sign_makes_what_pyjwt_reads() -> None:
    connector = PlaidConnector.from_config({"verification_keys": [PLAID_JWK], "signing_key": PLAID_KEY})
    signed = connector.sign(BODY, NOW)
    req = WebhookRequest.build(signed.body, signed.headers)
    connector.verify(req, NOW)
    public = load_private_key(PLAID_KEY).public_key()
    claims = jwt.decode(signed.headers["Plaid-Verification"], public, algorithms=["ES256"])  # type: ignore[arg-type]
    assert claims["request_body_sha256"] == hashlib.sha256(BODY).hexdigest()
    assert jwt.get_unverified_header(signed.headers["Plaid-Verification"])["kid"] == KID


@pytest.mark.parametrize(
    ("request_", "cause"),
    [
        (WebhookRequest.build(BODY), "missing_token"),
        (WebhookRequest.build(BODY, {"Plaid-Verification": "a.b"}), "malformed_token"),
        (delivery(key=PLAID_OTHER_KEY), "bad_signature"),
        (delivery(iat=NOW - 301), "stale_timestamp"),
        (delivery(iat=NOW + 301), "stale_timestamp"),
        (WebhookRequest.build(b"{}", {"Plaid-Verification": token(BODY)}), "bad_body_hash"),
        (delivery(kid=""), "malformed_token"),
    ],
)
def test_refused(request_: WebhookRequest, cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        fetching(FakePlaid(PLAID_JWK)).verify(request_, NOW)
    assert exc.value.cause == cause


def test_only_es256() -> None:
    hs = jwt.encode({"iat": NOW}, "x" * 32, algorithm="HS256", headers={"kid": KID})
    plaid = FakePlaid(PLAID_JWK)
    with pytest.raises(VerificationError, match="unsupported_algorithm"):
        fetching(plaid).verify(WebhookRequest.build(BODY, {"Plaid-Verification": hs}), NOW)
    assert plaid.calls == []


def test_options_need_a_way_to_keys() -> None:
    with pytest.raises(ValidationError, match="client_id and api_secret"):
        PlaidConnector.from_config({})
    with pytest.raises(ValidationError, match=r"verification_keys\[0\]"):
        PlaidConnector.from_config({"verification_keys": ['{"kty": "EC"}']})


def test_fixture() -> None:
    [event] = fetching(FakePlaid(PLAID_JWK)).normalize(delivery())
    assert event.type == "TRANSACTIONS.SYNC_UPDATES_AVAILABLE"
    assert event.dedup_key == sha256_of_parts("plaid", BODY)


@pytest.mark.parametrize(
    "body", [b"[]", b"{}", b'{"webhook_type": "ITEM"}', b'{"webhook_type": 1, "webhook_code": "A"}']
)
def test_unusable_bodies(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        fetching(FakePlaid()).normalize(WebhookRequest.build(body))


def test_check_connector() -> None:
    connector = PlaidConnector.from_config({"verification_keys": [PLAID_JWK], "signing_key": PLAID_KEY})
    [event] = check_connector(connector, NOW)
    assert event.type == "TRANSACTIONS.SYNC_UPDATES_AVAILABLE"
