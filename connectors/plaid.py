"""Plaid: a JWT in `Plaid-Verification`, ES256, whose key is fetched by key id.

Every webhook carries `Plaid-Verification: <JWT>`. Its header names the algorithm (only
`ES256` is accepted, before any key is looked at) and the key id `kid`; the key is the
JWK that `POST /webhook_verification_key/get` returns for that id, with the account's
`client_id` and API secret. Keys are fetched through an injectable fetcher (tests run
offline; the gateway calls it in a worker thread) and cached by key id, misses too, so
forged key ids cannot make hookgate call Plaid again and again; a key Plaid marks expired
(`expired_at`) verifies nothing. Keys can also be pinned in the configuration
(`verification_keys`), which then needs no API credentials for those ids.

The claims: `iat` must be within `tolerance_seconds` of now (Plaid's guide: 5 minutes), and
`request_body_sha256` must be the hex SHA-256 of the raw body (compared in constant time).

Plaid gives a webhook no id: the dedup key is a hash of the body (a retry sends the same
bytes). The detail-type is `<webhook_type>.<webhook_code>` (`TRANSACTIONS.SYNC_UPDATES_AVAILABLE`,
`ITEM.ERROR`, ...).
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from pydantic import Field, SecretStr, field_validator, model_validator

from connectors import (
    Connector,
    ConnectorOptions,
    MalformedPayloadError,
    ProviderEvent,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    sha256_of_parts,
)
from connectors.toolkit import (
    FetchCache,
    Fetcher,
    FetchError,
    any_match,
    check_event_type,
    check_tolerance,
    encode_jwt,
    https_fetch,
    json_object,
    jwt_header,
    load_jwk,
    load_private_key,
    optional_type,
    to_bytes,
    verify_jwt,
)

__all__ = ["PlaidConnector", "PlaidOptions"]

#: How many key ids (found or not) the connector remembers.
_CACHE_SIZE = 64
_MAX_KID = 128


def _pinned(value: str) -> tuple[str, PublicKeyTypes]:
    try:
        jwk = json.loads(value)
    except ValueError:
        raise ValueError("not a JSON Web Key (JSON)") from None
    kid = jwk.get("kid") if isinstance(jwk, dict) else None
    if not isinstance(kid, str):
        raise ValueError("not a JSON Web Key with a kid")  # noqa: TRY004 - pydantic wants ValueError
    return kid, load_jwk(jwk)


class PlaidOptions(ConnectorOptions):
    client_id: str | None = Field(None, description="the Plaid client id (to fetch verification keys)")
    api_secret: SecretStr | None = Field(None, description="the Plaid API secret (to fetch keys)")
    environment: Literal["production", "sandbox"] = Field("production", description="the Plaid API host")
    verification_keys: list[str] = Field(
        default_factory=list, description="pinned verification keys: JWKs as JSON, each with its kid"
    )
    tolerance_seconds: int = Field(300, ge=0, description="how far iat may be from now, both directions")
    signing_key: SecretStr | None = Field(None, description="for sign() only: the ES256 private key (tests)")

    @field_validator("verification_keys")
    @classmethod
    def _jwks(cls, value: list[str]) -> list[str]:
        for i, jwk in enumerate(value):
            try:
                _pinned(jwk)
            except ValueError as exc:
                raise ValueError(f"verification_keys[{i}]: {exc}") from None
        return value

    @model_validator(mode="after")
    def _some_key(self) -> PlaidOptions:
        if not self.verification_keys and (self.client_id is None or self.api_secret is None):
            raise ValueError("needs client_id and api_secret (to fetch keys), or verification_keys")
        return self


class PlaidConnector(Connector[PlaidOptions]):
    name = "plaid"
    summary = "Plaid webhooks (ES256 JWT in Plaid-Verification, keys fetched by kid, body SHA-256)"
    fetches = True

    def __init__(self, options: PlaidOptions, *, fetcher: Fetcher = https_fetch) -> None:
        super().__init__(options)
        self.fetcher = fetcher
        self.key_url = f"https://{options.environment}.plaid.com/webhook_verification_key/get"
        pinned: dict[str, PublicKeyTypes | None] = dict(_pinned(jwk) for jwk in options.verification_keys)
        self._keys = FetchCache(_CACHE_SIZE, pinned=pinned)

    def key(self, kid: str) -> PublicKeyTypes | None:
        """The verification key of `kid`: pinned, cached, or fetched once (None: no usable key)."""
        try:
            return self._keys.get(kid, self._fetch_key)
        except FetchError:  # other keys are being fetched: refused now, not remembered
            return None

    def _fetch_key(self, kid: str) -> PublicKeyTypes | None:
        """The key Plaid's API (`/webhook_verification_key/get`) gives for `kid`, or None."""
        if self.options.client_id is None or self.options.api_secret is None:
            return None
        secret = self.options.api_secret.get_secret_value()
        asked = {"client_id": self.options.client_id, "secret": secret, "key_id": kid}
        try:
            jwk = json.loads(self.fetcher(self.key_url, json.dumps(asked).encode())).get("key")
            if not isinstance(jwk, dict) or jwk.get("expired_at") or jwk.get("alg", "ES256") != "ES256":
                return None
            return load_jwk(jwk)
        except Exception:  # noqa: BLE001 - any fetch or key failure is the same: no key
            return None

    def verify(self, request: WebhookRequest, now: float) -> None:
        token = request.headers.get("plaid-verification", "").strip()
        if not token:
            raise VerificationError("missing_token")
        header = jwt_header(token)
        if header.get("alg") != "ES256":
            raise VerificationError("unsupported_algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not 0 < len(kid) <= _MAX_KID:
            raise VerificationError("malformed_token")
        key = self.key(kid)
        if key is None:
            raise VerificationError("unknown_key")
        # The window is `tolerance_seconds` both ways (checked below); 0 turns it off.
        leeway = self.options.tolerance_seconds or 10**12
        claims = verify_jwt(token, [key], algorithms=("ES256",), now=now, require_expiry=False, leeway=leeway)
        iat = claims.get("iat")
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            raise VerificationError("missing_timestamp")
        check_tolerance(iat, now, self.options.tolerance_seconds)
        claimed = claims.get("request_body_sha256")
        digest = hashlib.sha256(request.body).hexdigest().encode()
        if not isinstance(claimed, str) or not any_match([digest], [to_bytes(claimed.lower())]):
            raise VerificationError("bad_body_hash")

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = json_object(request.body)
        kind, code = optional_type(payload, "webhook_type"), optional_type(payload, "webhook_code")
        if kind is None or code is None:
            raise MalformedPayloadError("missing_field", "webhook_type and webhook_code")
        event_type = check_event_type(f"{kind}.{code}", "webhook_type.webhook_code")
        return [ProviderEvent(event_type, payload, sha256_of_parts(self.name, request.body))]

    def _signing_key(self) -> tuple[str, PrivateKeyTypes]:
        if self.options.signing_key is None or not self._keys.pinned:
            raise ValueError("sign() needs signing_key and its public key in verification_keys")
        return next(iter(self._keys.pinned)), load_private_key(self.options.signing_key.get_secret_value())

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        kid, key = self._signing_key()
        claims = {"iat": int(now), "request_body_sha256": hashlib.sha256(body).hexdigest()}
        token = encode_jwt(claims, key, "ES256", kid=kid)
        return SignedDelivery(body, {"Content-Type": "application/json", "Plaid-Verification": token})

    def sample_body(self, now: float) -> bytes:
        webhook = {
            "webhook_type": "TRANSACTIONS",
            "webhook_code": "SYNC_UPDATES_AVAILABLE",
            "item_id": "wz666MBjYWTp2PDzzggYhM6oWWmBb",
            "initial_update_complete": True,
            "historical_update_complete": False,
            "environment": "production",
        }
        return json.dumps(webhook, indent=2).encode()
