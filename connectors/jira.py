"""Jira (Atlassian): admin webhooks signed with a secret, or Connect / OAuth app JWTs.

Two modes, chosen with `mode`:

* `hmac` (default): webhooks created in Jira's admin UI or REST API with a **secret**.
  Jira sends `X-Hub-Signature: sha256=<hex>`, HMAC-SHA256 of the raw body keyed with the
  secret (WebSub style; the header name has no `-256`).
* `jwt`: Atlassian Connect apps (`Authorization: JWT <token>` or `?jwt=`), HS256 with the
  tenant's `sharedSecret`, whose `qsh` claim must equal the hash of the canonical request
  (`METHOD&path&sorted-query`, the path relative to `app_base_url`); and OAuth 2.0 apps'
  dynamic webhooks (`Authorization: Bearer <token>`, HS256 with the client secret; `qsh`
  checked when present). `exp` is required and, like `iat`, allowed `tolerance_seconds`
  of clock skew. Only HS256 is accepted, so `alg: none` or RS256 tricks fail. The JWT
  does not cover the body: pair it with HTTPS.

Rotation: every secret in `secrets` is tried. Jira signs no timestamp in `hmac` mode, so
replay protection there is dedup only, on `X-Atlassian-Webhook-Identifier` (stable across
retries), else a hash of the body. The event type is the body's `webhookEvent`
(`jira:issue_created`), or `eventType` (Connect lifecycle events such as `installed`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Literal
from urllib.parse import parse_qs, quote, urlparse

from pydantic import Field

from connectors import (
    Connector,
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    secret_values,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import (
    DEFAULT_SIGNING_URL,
    check_event_type,
    check_hmac,
    encode_jwt,
    json_object,
    prefixed_signatures,
    stable_id,
    to_bytes,
    verify_jwt,
)

__all__ = ["DEFAULT_SIGNING_URL", "JiraConnector", "JiraOptions", "canonical_request", "query_string_hash"]

_PREFIX = "sha256="
_MAX_TOKEN = 8192


class JiraOptions(SecretsOptions):
    mode: Literal["hmac", "jwt"] = Field(
        "hmac", description="hmac: admin webhook secret; jwt: Connect sharedSecret / OAuth client secret"
    )
    tolerance_seconds: int = Field(90, ge=0, description="clock skew allowed on the JWT's exp and iat")
    app_base_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="jwt mode: the Connect app's baseUrl (qsh paths are relative)",
    )
    signing_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="jwt mode: URL sign() signs for (hookgate send-test); verification uses the called URL",
    )


class JiraConnector(Connector[JiraOptions]):
    name = "jira"
    summary = "Jira webhooks (admin secret X-Hub-Signature HMAC, or Connect/OAuth JWT with qsh)"

    def verify(self, request: WebhookRequest, now: float) -> None:
        if self.options.mode == "hmac":
            self._verify_hmac(request)
        else:
            self._verify_jwt(request, now)

    def _verify_hmac(self, request: WebhookRequest) -> None:
        header = request.headers.get("x-hub-signature", "").strip()
        if not header:
            raise VerificationError("missing_signature")
        candidates = prefixed_signatures(header, _PREFIX)
        check_hmac(secret_values(self.options.secrets), request.body, candidates)

    def _verify_jwt(self, request: WebhookRequest, now: float) -> None:
        token, needs_qsh = _token(request)
        claims = verify_jwt(
            token,
            secret_values(self.options.secrets),
            algorithms={"HS256"},
            now=now,
            leeway=self.options.tolerance_seconds,
            max_length=_MAX_TOKEN,
        )
        qsh = claims.get("qsh")
        if qsh is not None or needs_qsh:
            try:
                expected_qsh = query_string_hash(request.method, self._relative(request.url))
            except ValueError:
                raise VerificationError("malformed_url") from None
            if not isinstance(qsh, str) or not hmac.compare_digest(to_bytes(qsh), expected_qsh.encode()):
                raise VerificationError("bad_qsh")

    def _relative(self, url: str) -> str:
        base = self.options.app_base_url
        try:
            parsed = urlparse(url)
            base_path = urlparse(base).path.rstrip("/") if base else ""
        except ValueError:
            raise VerificationError("malformed_url") from None
        path = parsed.path
        if base_path:
            if not (path == base_path or path.startswith(base_path + "/")):
                raise VerificationError("bad_qsh")
            path = path[len(base_path) :]
        relative = path + (";" + parsed.params if parsed.params else "")
        return relative + ("?" + parsed.query if parsed.query else "")

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        event = json_object(request.body)
        raw_type = event.get("webhookEvent", event.get("eventType"))
        if raw_type is None:
            raise MalformedPayloadError("missing_field", "webhookEvent")
        delivery = request.headers.get("x-atlassian-webhook-identifier", "").strip()
        return [
            ProviderEvent(
                type=check_event_type(raw_type, "webhookEvent"),
                payload=event,
                dedup_key=delivery or sha256_of_parts(self.name, request.body),
                delivery_id=delivery or None,
                occurred_at=utc_from_timestamp(event.get("timestamp")),
            )
        ]

    def sign(self, body: bytes, now: float, *, url: str | None = None) -> SignedDelivery:
        """hmac mode: `X-Hub-Signature`. jwt mode: a Connect JWT for `url` (else
        `signing_url`, else the test kit's default URL)."""
        key = secret_values(self.options.secrets)[0]
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Atlassian-Webhook-Identifier": str(int(stable_id("", body, now)[:12], 16)),
            "X-Atlassian-Webhook-Retry": "0",
            "X-Atlassian-Webhook-Flow": "Primary",
        }
        if self.options.mode == "hmac":
            headers["X-Hub-Signature"] = _PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()
        else:
            url = url or self.options.signing_url or DEFAULT_SIGNING_URL
            claims = {
                "iss": "jira:10d2d4c4-8e3f-4b5a-9d38-3c4f1a2b7e61",
                "iat": int(now),
                "exp": int(now) + 180,
                "qsh": query_string_hash("POST", self._relative(url)),
            }
            headers["Authorization"] = "JWT " + encode_jwt(claims, key, "HS256")
        return SignedDelivery(body=body, headers=headers)

    def sample_body(self, now: float) -> bytes:
        millis = int(now * 1000)
        event = {
            "timestamp": millis,
            "webhookEvent": "jira:issue_created",
            "issue_event_type_name": "issue_created",
            "user": {
                "self": "https://acme.atlassian.net/rest/api/2/user?accountId=5b10ac8d82e05b22cc7d4ef5",
                "accountId": "5b10ac8d82e05b22cc7d4ef5",
                "displayName": "Jane Doe",
                "active": True,
                "timeZone": "Europe/Berlin",
                "accountType": "atlassian",
            },
            "issue": {
                "id": "10002",
                "self": "https://acme.atlassian.net/rest/api/2/10002",
                "key": "HOOK-3",
                "fields": {
                    "summary": "Webhook ingestion drops events under load",
                    "issuetype": {"id": "10001", "name": "Bug", "subtask": False},
                    "project": {"id": "10000", "key": "HOOK", "name": "Hookgate"},
                    "priority": {"id": "2", "name": "High"},
                    "status": {"id": "10000", "name": "To Do"},
                    "created": "2023-11-14T22:13:20.000+0000",
                },
            },
        }
        return json.dumps(event, indent=2).encode()


def canonical_request(method: str, relative_url: str) -> str:
    """Atlassian's canonical request `METHOD&/path&sorted-query` (the `jwt` param left out)."""
    parsed = urlparse(relative_url.lstrip("/"))
    uri = "/" + parsed.path.strip("/").replace("&", "%26")
    if parsed.params:
        uri += ";" + parsed.params
    params = parse_qs(parsed.query, keep_blank_values=True)
    pairs = sorted(
        (quote(k, "~"), ",".join(quote(v, "~") for v in sorted(values)))
        for k, values in params.items()
        if k != "jwt"
    )
    return f"{method.upper()}&{uri}&{'&'.join('='.join(p) for p in pairs)}"


def query_string_hash(method: str, relative_url: str) -> str:
    """The `qsh` claim: hex SHA-256 of the canonical request."""
    return hashlib.sha256(to_bytes(canonical_request(method, relative_url))).hexdigest()


def _token(request: WebhookRequest) -> tuple[str, bool]:
    """(token, whether a qsh claim is required): Connect JWTs need one, OAuth bearers not."""
    header = request.headers.get("authorization", "").strip()
    if header:
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() == "jwt" and value:
            return value, True
        if scheme.lower() == "bearer" and value:
            return value, False
        raise VerificationError("malformed_authorization")
    query_token = request.query_value("jwt")
    if query_token:
        return query_token, True
    raise VerificationError("missing_token")
