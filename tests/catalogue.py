"""The connector catalogue: a working test configuration for every built-in connector.

`CATALOGUE` maps a case key to a `Case`. Every registry name has a main case under its own
name; a few connectors have extra cases (`<name>_<variant>`) for a second mode worth
proving (Jira JWTs, GitLab signing tokens, Twilio JSON bodies, each way a token-based
connector takes its credential, ...). The key doubles as the source name in the
end-to-end configuration.

A case holds:

* `options`: the source's config keys as `hookgate.toml` would hold them, secrets in the
  form the provider's dashboard shows (asymmetric providers: only public material);
* `signer_options`: what only the sending side has (private keys for SendGrid, Discord,
  PayPal and Standard Webhooks v1a); `forged`: the same kind of credential, but wrong;
* `body(now)`: the delivery body, normally a fixture from `tests/fixtures/<provider>/`;
* `detail_types`: the detail-type of each event the body normalizes to, in order;
* `signs_body`: False where the provider's scheme leaves the body unprotected (a token,
  HTTP Basic, a clientState, a JWT without a body hash, Mailgun's timestamp + token);
  `tamper_at`: where a one-byte change must be refused when only some fields are signed;
* `stale_by`: how far in the past to sign so the signed timestamp is out of tolerance
  (None: the provider signs no timestamp);
* `signs_url`: the provider signs the URL it calls, so deliveries are signed for the
  exact URL the gateway reconstructs from `[server] public_url`;
* `handshake`: a valid handshake request and `handshake_reply`, the exact answer body;
  `open_handshake`: the handshake needs no credential (a plain, bounded echo).

Keys are fixed (derived from constants) except PayPal's RSA key, generated once per
test run.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import urlencode

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from cryptography.x509.oid import NameOID

import connectors
from connectors import Connector, SignedDelivery, WebhookRequest
from tests.unit._fakes import NOW

__all__ = ["CATALOGUE", "Case", "Delivery", "builtin_connectors", "cases_of", "fixture"]

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture(provider: str, name: str) -> bytes:
    """The raw bytes of `tests/fixtures/<provider>/<name>`."""
    return (FIXTURES / provider / name).read_bytes()


def builtin_connectors() -> list[str]:
    """Registry names of the connectors shipped in the `connectors` package."""
    return [n for n in connectors.available() if connectors.load(n).__module__.startswith("connectors.")]


# --- keys -------------------------------------------------------------------------------


def _seed(label: str) -> bytes:
    return hashlib.sha256(b"hookgate catalogue " + label.encode()).digest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _ed25519(label: str) -> tuple[str, str]:
    """(public key hex, private seed hex), as Discord's Developer Portal shows a key."""
    seed = _seed(label)
    public = (
        Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    return public.hex(), seed.hex()


def _whsk(label: str) -> tuple[str, str]:
    """(whpk_ public key, whsk_ secret key) of Standard Webhooks v1a."""
    seed = _seed(label)
    public = (
        Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    return "whpk_" + _b64(public), "whsk_" + _b64(seed)


def _p256(label: str) -> tuple[str, str]:
    """(base64 DER public key as SendGrid shows it, base64 DER PKCS#8 private key)."""
    key = ec.derive_private_key(int.from_bytes(_seed(label), "big") >> 2, ec.SECP256R1())
    public = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    private = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    return _b64(public), _b64(private)


def _es256_jwk(label: str, kid: str) -> tuple[str, str]:
    """(the public key as a JWK with `kid`, as Plaid serves it; base64 DER private key)."""
    key = ec.derive_private_key(int.from_bytes(_seed(label), "big") >> 2, ec.SECP256R1())
    numbers = key.public_key().public_numbers()
    jwk = {
        "alg": "ES256",
        "crv": "P-256",
        "kid": kid,
        "kty": "EC",
        "use": "sig",
        "x": base64.urlsafe_b64encode(numbers.x.to_bytes(32, "big")).decode().rstrip("="),
        "y": base64.urlsafe_b64encode(numbers.y.to_bytes(32, "big")).decode().rstrip("="),
        "created_at": 1560466150,
        "expired_at": None,
    }
    return json.dumps(jwk), _b64(key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption()))


@functools.cache
def _paypal(label: str) -> tuple[str, str]:
    """(self-signed certificate PEM, RSA private key PEM), made once per test run."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"messageverificationcerts.{label}")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(_seed(label)[:8], "big"))
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2045, 1, 1, tzinfo=UTC))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    return cert.public_bytes(Encoding.PEM).decode(), pem


def _ed25519_b64(label: str) -> tuple[str, str]:
    """(public key, private seed), base64, as Telnyx shows a public key."""
    public, seed = _ed25519(label)
    return _b64(bytes.fromhex(public)), _b64(bytes.fromhex(seed))


def _whsec(label: str) -> str:
    return "whsec_" + _b64(_seed(label)[:24])


# --- deliveries -------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """What a provider sends: method, body, headers and query (the URL is the caller's)."""

    method: str
    body: bytes
    headers: tuple[tuple[str, str], ...]
    query: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, signed: SignedDelivery) -> Delivery:
        return cls(signed.method, signed.body, tuple(signed.headers.items()), signed.query)

    def target(self, url: str) -> str:
        """`url` with this delivery's query, as the provider calls it."""
        return url + ("?" + urlencode(self.query) if self.query else "")

    def request(self, url: str) -> WebhookRequest:
        """The request the gateway hands the connector for a call to `url`."""
        return WebhookRequest.build(
            self.body, self.headers, method=self.method, query=self.query, url=self.target(url)
        )


_BUILT: dict[tuple[str, str], Connector] = {}


class _UrlSigner(Protocol):
    def sign(self, body: bytes, now: float, *, url: str | None = None) -> SignedDelivery: ...


Handshake = Callable[[Connector, float, str], Delivery]


@dataclass(frozen=True)
class Case:
    """A working configuration of one connector and how to send it deliveries."""

    connector: str
    options: Mapping[str, Any]
    body: Callable[[float], bytes]
    detail_types: tuple[str, ...]
    forged: Mapping[str, Any]
    variant: str = ""
    signer_options: Mapping[str, Any] = field(default_factory=dict)
    signs_body: bool = True
    tamper_at: bytes | None = None
    stale_by: int | None = None
    signs_url: bool = False
    handshake: Handshake | None = None
    handshake_reply: bytes = b""
    open_handshake: bool = False
    #: False where `sign()` alone cannot make an arbitrary body verify (Linear signs a
    #: timestamp inside the body); `fuzz_wrap` shapes fuzzed JSON values for such cases.
    verifies_any_body: bool = True
    fuzz_wrap: Callable[[Any], Any] | None = None

    @property
    def key(self) -> str:
        """The case's name in `CATALOGUE`, and its source name in the gateway."""
        return f"{self.connector}_{self.variant}" if self.variant else self.connector

    def build(self, role: str, options: Mapping[str, Any]) -> Connector:
        """A connector with `options`, made once per case and role (parsing keys is slow)."""
        made = _BUILT.get((self.key, role))
        if made is None:
            made = _BUILT[self.key, role] = connectors.load(self.connector).from_config(options)
        return made

    def server(self) -> Connector:
        """The connector as the gateway configures it (no private keys)."""
        return self.build("server", self.options)

    def signer(self, *, forged: bool = False) -> Connector:
        """The provider's side: private keys, or the wrong credential when `forged`."""
        if forged:
            return self.build("forged", {**self.options, **self.signer_options, **self.forged})
        return self.build("signer", {**self.options, **self.signer_options})

    def sign(self, body: bytes, now: float, url: str, *, forged: bool = False) -> Delivery:
        """`body` signed at `now` for a delivery to `url` (the URL matters to URL signers)."""
        signer = self.signer(forged=forged)
        if self.signs_url:
            return Delivery.of(cast(_UrlSigner, signer).sign(body, now, url=url))
        return Delivery.of(signer.sign(body, now))

    def deliver(self, now: float, url: str, *, forged: bool = False) -> Delivery:
        """The case's body signed at `now`: what the provider would send at that time."""
        return self.sign(self.body(now), now, url, forged=forged)

    def tamper(self, delivery: Delivery) -> Delivery:
        """The delivery with one byte of the body changed (inside `tamper_at` if set)."""
        body = delivery.body
        i = len(body) // 2 if self.tamper_at is None else body.index(self.tamper_at)
        changed = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1 :]
        return Delivery(delivery.method, changed, delivery.headers, delivery.query)


def cases_of(name: str) -> list[Case]:
    """The cases of one connector, main case first."""
    return sorted((c for c in CATALOGUE.values() if c.connector == name), key=lambda c: c.variant)


# --- bodies and handshakes --------------------------------------------------------------


def _file(provider: str, name: str) -> Callable[[float], bytes]:
    return lambda _now: fixture(provider, name)


def _linear_body(now: float) -> bytes:
    """Linear signs `webhookTimestamp` (ms) inside the body: the fixture, sent at `now`."""
    text = fixture("linear", "issue.create.json")
    return re.sub(rb'"webhookTimestamp": \d+', b'"webhookTimestamp": %d' % int(now * 1000), text)


def _linear_wrap(value: Any) -> Any:
    stamp = {"webhookTimestamp": NOW * 1000}
    return {**value, **stamp} if isinstance(value, dict) else {"data": value, **stamp}


def _graph_wrap(value: Any) -> Any:
    return {"value": [value if isinstance(value, dict) else {"changeType": value}]}


def _signed_handshake(provider: str, name: str) -> Handshake:
    def build(signer: Connector, now: float, url: str) -> Delivery:
        return Delivery.of(signer.sign(fixture(provider, name), now))

    return build


def _get(query: dict[str, str], headers: dict[str, str] | None = None) -> Handshake:
    def build(signer: Connector, now: float, url: str) -> Delivery:
        return Delivery("GET", b"", tuple((headers or {}).items()), tuple(query.items()))

    return build


def _graph_validation(signer: Connector, now: float, url: str) -> Delivery:
    query = (("validationToken", "Validation: Testing client application reachability for subscription"),)
    return Delivery("POST", b"", (("Content-Type", "text/plain; charset=utf-8"),), query)


def _woocommerce_ping(signer: Connector, now: float, url: str) -> Delivery:
    """The unsigned ping WooCommerce posts when a webhook is saved as active."""
    return Delivery("POST", b"webhook_id=12", (("Content-Type", "application/x-www-form-urlencoded"),))


def _mandrill_check(signer: Connector, now: float, url: str) -> Delivery:
    """The `HEAD` request Mandrill sends to a new webhook's URL."""
    return Delivery("HEAD", b"", ())


def _trello_check(signer: Connector, now: float, url: str) -> Delivery:
    """The `HEAD` request Trello sends to a new webhook's callback URL."""
    return Delivery("HEAD", b"", ())


def _post(body: bytes, headers: dict[str, str]) -> Handshake:
    def build(signer: Connector, now: float, url: str) -> Delivery:
        return Delivery("POST", body, tuple(headers.items()))

    return build


def _front_challenge(signer: Connector, now: float, url: str) -> Delivery:
    signed = Delivery.of(signer.sign(fixture("front", "inbound_received.json"), now))
    return Delivery("POST", signed.body, (*signed.headers, ("X-Front-Challenge", "kZ3rP0vQ8sYw")))


def _braintree_reply() -> bytes:
    public, private = BRAINTREE_PAIR.split(":")
    key = hashlib.sha1(private.encode()).digest()  # noqa: S324 - Braintree's scheme
    return f"{public}|{hmac.new(key, BRAINTREE_CHALLENGE.encode(), 'sha1').hexdigest()}".encode()


_ZOOM_PLAIN = b"qgg8vlvZRS6UYooatFL8Aw"


def _zoom_reply() -> bytes:
    encrypted = hmac.new(ZOOM_SECRET.encode(), _ZOOM_PLAIN, "sha256").hexdigest()
    return json.dumps(
        {"plainToken": _ZOOM_PLAIN.decode(), "encryptedToken": encrypted}, separators=(",", ":")
    ).encode()


# --- the catalogue ----------------------------------------------------------------------

ZOOM_SECRET = "zHmV3QmSQmK2wXl6dPq8Yg"
META_VERIFY_TOKEN = "meta-verify-token-1a2b3c"
OKTA_SECRET = "okta-hook-secret-5f1e0c2d9b"
DISCORD_PUBLIC, DISCORD_SEED = _ed25519("discord")
DISCORD_OTHER_PUBLIC, DISCORD_OTHER_SEED = _ed25519("discord-forged")
SENDGRID_PUBLIC, SENDGRID_PRIVATE = _p256("sendgrid")
SENDGRID_OTHER_PUBLIC, SENDGRID_OTHER_PRIVATE = _p256("sendgrid-forged")
ASANA_SECRET = "b537207f20cbfa02357cf448134da559"
BRAINTREE_PAIR = "x7w9kq4bz3v2yn6m:3c0a7e5f9d1b8a4c6e2f0d9b7a5c3e1f"
BRAINTREE_CHALLENGE = "38f4a0b6c1d2e3f40a5b"
MONDAY_CHALLENGE = b'{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}'
PLAID_JWK, PLAID_KEY = _es256_jwk("plaid", "6c5516e1-92dc-479e-a8ff-5a51992e0001")
PLAID_OTHER_JWK, PLAID_OTHER_KEY = _es256_jwk("plaid-forged", "6c5516e1-92dc-479e-a8ff-5a51992e0001")
WHPK, WHSK = _whsk("standard-webhooks")
WHPK_OTHER, WHSK_OTHER = _whsk("standard-webhooks-forged")
SNS_CERT_URL = (
    "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"
)
TELNYX_PUBLIC, TELNYX_SEED = _ed25519_b64("telnyx")
TELNYX_OTHER_PUBLIC, TELNYX_OTHER_SEED = _ed25519_b64("telnyx-forged")


def _catalogue() -> dict[str, Case]:
    paypal_cert, paypal_key = _paypal("paypal.com")
    sns_cert, sns_key = _paypal("sns.amazonaws.com")
    other_sns_key = _paypal("forged-sns.example")[1]
    other_cert, other_key = _paypal("forged.example")
    cases = [
        Case(
            "adyen",
            {"secrets": [_seed("adyen").hex().upper()]},
            _file("adyen", "notification.json"),
            ("AUTHORISATION",),
            forged={"secrets": [_seed("adyen-forged").hex().upper()]},
            # Adyen signs pspReference, references, amount, eventCode and success per item.
            tamper_at=b"7914073381342284",
        ),
        Case(
            "airtable",
            {"secrets": [_b64(_seed("airtable")[:32])]},
            _file("airtable", "notification.json"),
            ("webhook.notification",),
            forged={"secrets": [_b64(_seed("airtable-forged")[:32])]},
        ),
        Case(
            "asana",
            {"secrets": [ASANA_SECRET]},
            _file("asana", "events.json"),
            ("task.changed", "story.added"),
            forged={"secrets": ["0537207f20cbfa02357cf448134da559"]},
            handshake=_post(b"", {"X-Hook-Secret": ASANA_SECRET}),
            open_handshake=True,
        ),
        Case(
            "authorize-net",
            {"secrets": [_seed("authorize-net").hex().upper() * 2]},
            _file("authorize-net", "authcapture.created.json"),
            ("net.authorize.payment.authcapture.created",),
            forged={"secrets": [_seed("authorize-net-forged").hex().upper() * 2]},
        ),
        Case(
            "bitbucket",
            {"secrets": ["bitbucket-webhook-secret"]},
            _file("bitbucket", "repo_push.json"),
            ("repo:push",),
            forged={"secrets": ["not-the-secret"]},
        ),
        Case(
            "braintree",
            {"secrets": [BRAINTREE_PAIR]},
            _file("braintree", "subscription_charged_successfully.xml"),
            ("subscription_charged_successfully",),
            forged={"secrets": ["x7w9kq4bz3v2yn6m:0c0a7e5f9d1b8a4c6e2f0d9b7a5c3e1f"]},
            handshake=_get({"bt_challenge": BRAINTREE_CHALLENGE}),
            handshake_reply=_braintree_reply(),
            open_handshake=True,
        ),
        Case(
            "cal-com",
            {"secrets": ["cal-webhook-secret-7Hq2"]},
            _file("cal-com", "booking.created.json"),
            ("BOOKING_CREATED",),
            forged={"secrets": ["cal-webhook-secret-0000"]},
        ),
        Case(
            "calendly",
            {"secrets": ["WXk1c1Nxd0J0U2h6b0p5c0xWQ3p6cVRm"]},
            _file("calendly", "invitee.created.json"),
            ("invitee.created",),
            forged={"secrets": ["b3RoZXItc2lnbmluZy1rZXk"]},
            stale_by=360,
        ),
        Case(
            "checkout-com",
            {"secrets": ["b3c9a2e4-5d6f-4a1b-8c7d-9e0f1a2b3c4d"]},
            _file("checkout-com", "payment_approved.json"),
            ("payment_approved",),
            forged={"secrets": ["00000000-5d6f-4a1b-8c7d-9e0f1a2b3c4d"]},
        ),
        Case(
            "clerk",
            {"secrets": [_whsec("clerk")]},
            _file("clerk", "user.created.json"),
            ("user.created",),
            forged={"secrets": [_whsec("clerk-forged")]},
            stale_by=600,
        ),
        Case(
            "discord",
            {"secrets": [DISCORD_PUBLIC]},
            _file("discord", "application_command.json"),
            ("interaction.application_command",),
            signer_options={"signing_keys": [DISCORD_SEED]},
            forged={"signing_keys": [DISCORD_OTHER_SEED], "secrets": [DISCORD_PUBLIC, DISCORD_OTHER_PUBLIC]},
            stale_by=600,
            handshake=_signed_handshake("discord", "interaction_ping.json"),
            handshake_reply=b'{"type":1}',
        ),
        Case(
            "discord",
            {"secrets": [DISCORD_PUBLIC]},
            _file("discord", "application_authorized.json"),
            ("APPLICATION_AUTHORIZED",),
            variant="events",
            signer_options={"signing_keys": [DISCORD_SEED]},
            forged={"signing_keys": [DISCORD_OTHER_SEED], "secrets": [DISCORD_PUBLIC, DISCORD_OTHER_PUBLIC]},
            stale_by=600,
        ),
        Case(
            "dropbox",
            {"secrets": ["q8x2fk3n7t1m5wz"]},
            _file("dropbox", "list_folder.json"),
            ("list_folder",),
            forged={"secrets": ["not2the7secret9"]},
            handshake=_get({"challenge": "w7Yq2ZxOe3Rk"}),
            handshake_reply=b"w7Yq2ZxOe3Rk",
            open_handshake=True,
        ),
        Case(
            "easypost",
            {"secrets": ["sécret-easypost-webhook"]},
            _file("easypost", "tracker.updated.json"),
            ("tracker.updated",),
            forged={"secrets": ["secret-easypost-webhook"]},
        ),
        Case(
            "freshdesk",
            {"username": "hookgate", "password": "fd-basic-password"},
            _file("freshdesk", "ticket_created.json"),
            ("ticket_action:created",),
            forged={"password": "wrong-password"},
            signs_body=False,
        ),
        Case(
            "freshdesk",
            {"header_name": "X-Webhook-Token", "token": ["fd-token-new", "fd-token-old"]},
            _file("freshdesk", "status_changed.json"),
            ("status:changed",),
            forged={"token": "fd-token-wrong"},
            variant="header",
            signs_body=False,
        ),
        Case(
            "freshdesk",
            {"query_param": "token", "token": "fd-query-token"},
            _file("freshdesk", "ticket_created.json"),
            ("ticket_action:created",),
            forged={"token": "fd-query-wrong"},
            variant="query",
            signs_body=False,
        ),
        Case(
            "freshservice",
            {"username": "hookgate", "password": "fs-basic-password"},
            _file("freshservice", "ticket_created.json"),
            ("ticket.created",),
            forged={"username": "someone-else"},
            signs_body=False,
        ),
        Case(
            "freshservice",
            {"header_name": "X-Api-Key", "token": "fs-header-token"},
            _file("freshservice", "ticket_created.json"),
            ("ticket.created",),
            forged={"token": "fs-header-wrong"},
            variant="header",
            signs_body=False,
        ),
        Case(
            "freshservice",
            {"query_param": "token", "token": "fs-query-token"},
            _file("freshservice", "ticket_created.json"),
            ("ticket.created",),
            forged={"token": "fs-query-wrong"},
            variant="query",
            signs_body=False,
        ),
        Case(
            "front",
            {"secrets": ["front-app-secret-4c1e9d"]},
            _file("front", "inbound_received.json"),
            ("inbound_received",),
            forged={"secrets": ["front-app-secret-000000"]},
            stale_by=600,
            handshake=_front_challenge,
            handshake_reply=b"kZ3rP0vQ8sYw",
        ),
        Case(
            "generic-hmac",
            {
                "secrets": ["generic-secret-1", "generic-secret-0"],
                "signature_header": "X-Signature",
                "encoding": "base64",
                "algorithm": "sha512",
                "signed_content": "id.timestamp.body",
                "id_header": "X-Webhook-Id",
                "timestamp_header": "X-Webhook-Timestamp",
                "type_field": "type",
            },
            _file("shared-secret", "order.shipped.json"),
            ("order.shipped",),
            forged={"secrets": ["generic-secret-2"]},
            stale_by=600,
        ),
        Case(
            "generic-hmac",
            {
                "secrets": ["s1", "s0"],
                "signature_header": "X-Sig",
                "signature_prefix": "v1=",
                "signature_separator": ",",
                "type_header": "X-Event",
                "default_type": "order.shipped",
            },
            _file("shared-secret", "order.shipped.json"),
            ("order.shipped",),
            forged={"secrets": ["s2"]},
            variant="body",
        ),
        Case(
            "github",
            {"secrets": ["It's a Secret to Everybody", "the previous secret"]},
            _file("github", "pull_request.opened.json"),
            ("pull_request.opened",),
            forged={"secrets": ["It's a Secret to Nobody"]},
        ),
        Case(
            "gitlab",
            {"secrets": ["gitlab-secret-token"]},
            _file("gitlab", "merge_request.json"),
            ("Merge Request Hook",),
            forged={"secrets": ["gitlab-wrong-token"]},
            signs_body=False,
        ),
        Case(
            "gitlab",
            {"secrets": ["gitlab-secret-token"], "signing_secrets": [_whsec("gitlab")]},
            _file("gitlab", "push.json"),
            ("Push Hook",),
            forged={"signing_secrets": [_whsec("gitlab-forged")]},
            variant="both",
            stale_by=600,
        ),
        Case(
            "gitlab",
            {"signing_secrets": [_whsec("gitlab")]},
            _file("gitlab", "push.json"),
            ("Push Hook",),
            forged={"signing_secrets": [_whsec("gitlab-forged")]},
            variant="signed",
            stale_by=600,
        ),
        Case(
            "hubspot",
            {"secrets": ["3d6b7a0e-9c1f-4b2a-8e5d-hubspot-app-secret"]},
            _file("hubspot", "contact.batch.json"),
            ("contact.propertyChange", "contact.creation"),
            forged={"secrets": ["another-client-secret"]},
            stale_by=600,
            signs_url=True,
        ),
        Case(
            "intercom",
            {"secrets": ["intercom-client-secret"]},
            _file("intercom", "conversation.user.created.json"),
            ("conversation.user.created",),
            forged={"secrets": ["intercom-other-secret"]},
        ),
        Case(
            "jira",
            {"secrets": ["jira-admin-webhook-secret"]},
            _file("jira", "issue_created.json"),
            ("jira:issue_created",),
            forged={"secrets": ["jira-wrong-secret"]},
        ),
        Case(
            "jira",
            {"secrets": ["jira-connect-shared-secret"], "mode": "jwt"},
            _file("jira", "issue_created.json"),
            ("jira:issue_created",),
            forged={"secrets": ["jira-connect-other-secret"]},
            variant="jwt",
            signs_body=False,  # the JWT covers method, path and query, not the body
            stale_by=600,  # exp = iat + 180, plus 90 s of leeway
            signs_url=True,
        ),
        Case(
            "lemon-squeezy",
            {"secrets": ["lemon-signing-secret-91"]},
            _file("lemon-squeezy", "order_created.json"),
            ("order_created",),
            forged={"secrets": ["lemon-signing-secret-00"]},
        ),
        Case(
            "linear",
            {"secrets": ["lin_wh_Hc9yQm7Vd2Ks0Rt5Lp8Xb3Nz"]},
            _linear_body,
            ("Issue.create",),
            forged={"secrets": ["lin_wh_other"]},
            stale_by=120,
            verifies_any_body=False,
            fuzz_wrap=_linear_wrap,
        ),
        Case(
            "mailgun",
            {"secrets": ["key-3ax6xnjp29jd6fds4gc373sgvjxteol0"]},
            _file("mailgun", "delivered.json"),
            ("delivered",),
            forged={"secrets": ["key-00000000000000000000000000000000"]},
            signs_body=False,  # Mailgun signs timestamp + token, not the event data
            stale_by=1800,
        ),
        Case(
            "meta",
            {"secrets": ["9f86d081884c7d659a2feaa0c55ad015"], "verify_tokens": META_VERIFY_TOKEN},
            _file("meta", "page_batch.json"),
            ("page.feed", "page.feed", "page.messaging"),
            forged={"secrets": ["0f86d081884c7d659a2feaa0c55ad015"]},
            handshake=_get(
                {
                    "hub.mode": "subscribe",
                    "hub.challenge": "1158201444",
                    "hub.verify_token": META_VERIFY_TOKEN,
                }
            ),
            handshake_reply=b"1158201444",
        ),
        Case(
            "microsoft-graph",
            {"secrets": ["secretClientValue"]},
            _file("microsoft-graph", "created.json"),
            ("created", "updated"),
            forged={"secrets": ["anotherClientValue"]},
            signs_body=False,  # clientState authenticates; nothing protects the body
            handshake=_graph_validation,
            handshake_reply=b"Validation: Testing client application reachability for subscription",
            open_handshake=True,
            fuzz_wrap=_graph_wrap,
        ),
        Case(
            "monday",
            {"secrets": ["monday-signing-secret-5e8a1c-0f3b9d27c4"]},
            _file("monday", "create_pulse.json"),
            ("create_pulse",),
            forged={"secrets": ["monday-signing-secret-000000-0f3b9d27c4"]},
            signs_body=False,  # the JWT covers no part of the body
            handshake=_post(MONDAY_CHALLENGE, {"Content-Type": "application/json"}),
            handshake_reply=MONDAY_CHALLENGE,
            open_handshake=True,
        ),
        Case(
            "mux",
            {"secrets": ["mux-signing-secret-k2b8v0"]},
            _file("mux", "video.asset.ready.json"),
            ("video.asset.ready",),
            forged={"secrets": ["mux-signing-secret-000000"]},
            stale_by=600,
        ),
        Case(
            "notion",
            {"secrets": ["secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl"]},
            _file("notion", "page.created.json"),
            ("page.created",),
            forged={"secrets": ["secret_0000000000000000000000000000000000000000000"]},
            handshake=_post(fixture("notion", "verification.json"), {"Content-Type": "application/json"}),
            open_handshake=True,
        ),
        Case(
            "nylas",
            {"secrets": ["nylas-webhook-secret-3f9d"]},
            _file("nylas", "message.created.json"),
            ("message.created",),
            forged={"secrets": ["nylas-webhook-secret-0000"]},
            handshake=_get({"challenge": "bc609b38-c81f-47fb-a275-1d9bd61a968b"}),
            handshake_reply=b"bc609b38-c81f-47fb-a275-1d9bd61a968b",
            open_handshake=True,
        ),
        Case(
            "okta",
            {"secrets": [OKTA_SECRET]},
            _file("okta", "user.lifecycle.json"),
            ("user.lifecycle.create", "user.lifecycle.activate"),
            forged={"secrets": ["okta-wrong-secret"]},
            signs_body=False,
            handshake=_get({}, {"Authorization": OKTA_SECRET, "X-Okta-Verification-Challenge": "v8Zk2qL0pR"}),
            handshake_reply=b'{"verification":"v8Zk2qL0pR"}',
        ),
        Case(
            "okta",
            {"secrets": [OKTA_SECRET], "challenge_requires_auth": False},
            _file("okta", "user.lifecycle.json"),
            ("user.lifecycle.create", "user.lifecycle.activate"),
            forged={"secrets": ["okta-wrong-secret"]},
            variant="open",
            signs_body=False,
            handshake=_get({}, {"X-Okta-Verification-Challenge": "v8Zk2qL0pR"}),
            handshake_reply=b'{"verification":"v8Zk2qL0pR"}',
            open_handshake=True,
        ),
        Case(
            "paddle",
            {"secrets": ["pdl_ntfset_01hv8x2a_Zq3Lm9Yx7Vb2Kd5Nw8Rt"]},
            _file("paddle", "transaction.completed.json"),
            ("transaction.completed",),
            forged={"secrets": ["pdl_ntfset_01hv8x2a_other"]},
            stale_by=60,
        ),
        Case(
            "pagerduty",
            {"secrets": ["pd-webhook-secret-new", "pd-webhook-secret-old"]},
            _file("pagerduty", "incident.triggered.json"),
            ("incident.triggered",),
            forged={"secrets": ["pd-webhook-secret-wrong"]},
        ),
        Case(
            "paypal",
            {"webhook_id": "1JE4291016473214C", "secrets": paypal_cert},
            _file("paypal", "payment.capture.completed.json"),
            ("PAYMENT.CAPTURE.COMPLETED",),
            signer_options={"signing_key": paypal_key},
            forged={"secrets": [paypal_cert, other_cert], "signing_key": other_key},
            stale_by=1200,
        ),
        Case(
            "plaid",
            {"verification_keys": [PLAID_JWK]},
            _file("plaid", "sync_updates_available.json"),
            ("TRANSACTIONS.SYNC_UPDATES_AVAILABLE",),
            signer_options={"signing_key": PLAID_KEY},
            forged={"signing_key": PLAID_OTHER_KEY},
            stale_by=600,
        ),
        Case(
            "polar",
            {"secrets": ["polar_whs_q8Zk2LmV9xT4bN7cR1sD5fG3hJ6"]},
            _file("polar", "order.paid.json"),
            ("order.paid",),
            forged={"secrets": ["polar_whs_00000000000000000000000000"]},
            stale_by=600,
        ),
        Case(
            "resend",
            {"secrets": [_whsec("resend")]},
            _file("resend", "email.delivered.json"),
            ("email.delivered",),
            forged={"secrets": [_whsec("resend-forged")]},
            stale_by=600,
        ),
        Case(
            "sendgrid",
            {"secrets": [SENDGRID_PUBLIC]},
            _file("sendgrid", "events.json"),
            ("processed", "deferred", "delivered", "open", "click", "bounce"),
            signer_options={"signing_key": SENDGRID_PRIVATE},
            forged={"secrets": [SENDGRID_OTHER_PUBLIC], "signing_key": SENDGRID_OTHER_PRIVATE},
            stale_by=1200,
        ),
        Case(
            "sentry",
            {"secrets": ["5d1b6f8a2c7e4f0b9a3d6c1e8f2b4a7d5d1b6f8a2c7e4f0b9a3d6c1e8f2b4a7d"]},
            _file("sentry", "issue.created.json"),
            ("issue.created",),
            forged={"secrets": ["0000000000000000000000000000000000000000000000000000000000000000"]},
        ),
        Case(
            "shared-secret",
            {"header_name": "Authorization", "token_prefix": "Bearer ", "token": "ss-bearer-token"},
            _file("shared-secret", "order.shipped.json"),
            ("order.shipped",),
            forged={"token": "ss-wrong-token"},
            signs_body=False,
        ),
        Case(
            "shared-secret",
            {"username": "hooks", "password": "ss-basic-password"},
            _file("shared-secret", "order.shipped.json"),
            ("order.shipped",),
            forged={"password": "ss-wrong-password"},
            variant="basic",
            signs_body=False,
        ),
        Case(
            "shared-secret",
            {"query_param": "key", "token": "ss-query-token"},
            _file("shared-secret", "order.shipped.json"),
            ("order.shipped",),
            forged={"token": "ss-query-wrong"},
            variant="query",
            signs_body=False,
        ),
        Case(
            "shopify",
            {"secrets": ["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"]},
            _file("shopify", "orders_create.json"),
            ("orders/create",),
            forged={"secrets": ["shpss_00000000000000000000000000000000"]},
        ),
        Case(
            "slack",
            {"secrets": ["8f742231b10e8888abcd99yyyzzz85a5"]},
            _file("slack", "app_mention.json"),
            ("app_mention",),
            forged={"secrets": ["0f742231b10e8888abcd99yyyzzz85a5"]},
            stale_by=600,
            handshake=_signed_handshake("slack", "url_verification.json"),
            handshake_reply=b"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        ),
        Case(
            "square",
            {"secrets": ["Zq3Lm9Yx7Vb2Kd5Nw8RtAg"]},
            _file("square", "payment.updated.json"),
            ("payment.updated",),
            forged={"secrets": ["Aq3Lm9Yx7Vb2Kd5Nw8RtAg"]},
            signs_url=True,
        ),
        Case(
            "standard-webhooks",
            {"secrets": [_whsec("standard-webhooks")]},
            _file("standard-webhooks", "contact.created.json"),
            ("contact.created",),
            forged={"secrets": [_whsec("standard-webhooks-forged")]},
            stale_by=600,
        ),
        Case(
            "standard-webhooks",
            {"secrets": [WHPK]},
            _file("standard-webhooks", "contact.created.json"),
            ("contact.created",),
            signer_options={"secrets": [WHSK]},
            forged={"secrets": [WHSK_OTHER]},
            variant="v1a",
            stale_by=600,
        ),
        Case(
            "stripe",
            {"secrets": ["whsec_e2e0b3c8a1d94f7e6b5a2c1d0e9f8a7b"]},
            _file("stripe", "invoice.paid.json"),
            ("invoice.paid",),
            forged={"secrets": ["whsec_forged"]},
            stale_by=600,
        ),
        Case(
            "svix",
            {"secrets": [_whsec("svix")]},
            _file("svix", "invoice.paid.json"),
            ("invoice.paid",),
            forged={"secrets": [_whsec("svix-forged")]},
            stale_by=600,
        ),
        Case(
            "twilio",
            {"secrets": ["12345678901234567890123456789012"]},
            _file("twilio", "message.delivered.form"),
            ("message.delivered",),
            forged={"secrets": ["22345678901234567890123456789012"]},
            signs_url=True,
        ),
        Case(
            "twilio",
            {"secrets": ["12345678901234567890123456789012"]},
            _file("twilio", "conversation.message_added.json"),
            ("onMessageAdded",),
            forged={"secrets": ["22345678901234567890123456789012"]},
            variant="json",
            signs_url=True,
        ),
        Case(
            "twitch",
            {"secrets": ["twitch-eventsub-secret-0123456789"]},
            _file("twitch", "channel.follow.json"),
            ("channel.follow",),
            forged={"secrets": ["twitch-eventsub-secret-9876543210"]},
            stale_by=1200,
            handshake=_signed_handshake("twitch", "webhook_callback_verification.json"),
            handshake_reply=b"pogchamp-kappa-360noscope-vohiyo",
        ),
        Case(
            "typeform",
            {"secrets": ["typeform-webhook-secret"]},
            _file("typeform", "form_response.json"),
            ("form_response",),
            forged={"secrets": ["typeform-other-secret"]},
        ),
        Case(
            "webflow",
            {"secrets": ["webflow-client-secret-8d2e"]},
            _file("webflow", "form_submission.json"),
            ("form_submission",),
            forged={"secrets": ["webflow-client-secret-0000"]},
            stale_by=600,
        ),
        Case(
            "xero",
            {"secrets": ["aVNUc3R3L2dPVmNFMXU0N2JpQmNTN3RZQWVaVTdtUnFQdFdQb0lGWnBqM3hNYXkxRU9XS0d0Zz09"]},
            _file("xero", "invoice.update.json"),
            ("INVOICE.UPDATE", "CONTACT.CREATE"),
            forged={"secrets": ["b3RoZXIgd2ViaG9va3Mga2V5"]},
            handshake=_signed_handshake("xero", "intent_to_receive.json"),
            handshake_reply=b"",
        ),
        Case(
            "zendesk",
            {"secrets": ["dGhpc19pc19hX3plbmRlc2tfc2lnbmluZ19zZWNyZXQ="]},
            _file("zendesk", "ticket_created.json"),
            ("zen:event-type:ticket.created",),
            forged={"secrets": ["dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="]},
            stale_by=600,
        ),
        Case(
            "zoom",
            {"secrets": [ZOOM_SECRET]},
            _file("zoom", "meeting.started.json"),
            ("meeting.started",),
            forged={"secrets": ["aHmV3QmSQmK2wXl6dPq8Yg"]},
            stale_by=600,
            handshake=_signed_handshake("zoom", "endpoint.url_validation.json"),
            handshake_reply=_zoom_reply(),
        ),
        # --- wave 2 (first half), alphabetical ---
        Case(
            "aws-sns",
            {
                "topic_arns": ["arn:aws:sns:us-west-2:123456789012:MyTopic"],
                "certificates": {SNS_CERT_URL: sns_cert},
                "fetch_certificates": False,
                "type_field": "detail-type",
            },
            _file("aws-sns", "notification.json"),
            ("order.created",),
            signer_options={"signing_keys": [sns_key]},
            # A key whose certificate is not the one pinned for the URL.
            forged={"signing_keys": [other_sns_key]},
            stale_by=7200,
            # Only the SNS fields in the canonical string are signed: change the message.
            tamper_at=b"order_id",
        ),
        Case(
            "chargebee",
            {"username": "chargebee-hooks", "password": "cb-basic-password"},
            _file("chargebee", "subscription_created.json"),
            ("subscription_created",),
            forged={"password": "cb-wrong-password"},
            signs_body=False,
        ),
        Case(
            "coinbase-commerce",
            {"secrets": ["cc-shared-secret-2f9b1d7e"]},
            _file("coinbase-commerce", "charge.confirmed.json"),
            ("charge:confirmed",),
            forged={"secrets": ["cc-shared-secret-forged"]},
        ),
        Case(
            "docusign",
            {"secrets": ["docusign-connect-key-new", "docusign-connect-key-old"]},
            _file("docusign", "envelope-completed.json"),
            ("envelope-completed",),
            forged={"secrets": ["docusign-connect-key-forged"]},
        ),
        Case(
            "gocardless",
            {"secrets": ["gc-webhook-endpoint-secret"]},
            _file("gocardless", "payments.json"),
            ("payments.confirmed", "payments.failed"),
            forged={"secrets": ["gc-webhook-endpoint-forged"]},
        ),
        Case(
            "mandrill",
            {"secrets": ["mandrill-webhook-key-new", "mandrill-webhook-key-old"]},
            _file("mandrill", "events.form"),
            ("send", "open", "hard_bounce"),
            forged={"secrets": ["mandrill-webhook-key-forged"]},
            signs_url=True,
            handshake=_mandrill_check,
            handshake_reply=b"",
            open_handshake=True,
        ),
        Case(
            "openai",
            {"secrets": [_whsec("openai")]},
            _file("openai", "response.completed.json"),
            ("response.completed",),
            forged={"secrets": [_whsec("openai-forged")]},
            stale_by=600,
        ),
        Case(
            "persona",
            {"secrets": ["wbhsec_4f1c2a9e-persona-new", "wbhsec_0b8d7c6e-persona-old"]},
            _file("persona", "inquiry.completed.json"),
            ("inquiry.completed",),
            forged={"secrets": ["wbhsec_forged"]},
            stale_by=600,
        ),
        Case(
            "pipedrive",
            {"username": "pipedrive", "password": "pd-http-auth-password"},
            _file("pipedrive", "deal.change.json"),
            ("deal.change",),
            forged={"username": "pipedrive-forged"},
            signs_body=False,
        ),
        Case(
            "postmark",
            {"username": "postmark", "password": ["pm-new-password", "pm-old-password"]},
            _file("postmark", "bounce.json"),
            ("Bounce",),
            forged={"password": "pm-wrong-password"},
            signs_body=False,
        ),
        Case(
            "razorpay",
            {"secrets": ["razorpay-webhook-secret"]},
            _file("razorpay", "payment.captured.json"),
            ("payment.captured",),
            forged={"secrets": ["razorpay-forged-secret"]},
        ),
        Case(
            "recurly",
            {"secrets": ["recurly-endpoint-key-1"]},
            _file("recurly", "subscription.renewed.json"),
            ("subscription.renewed",),
            forged={"secrets": ["recurly-endpoint-key-forged"]},
            stale_by=600,
        ),
        Case(
            "telnyx",
            {"secrets": [TELNYX_PUBLIC]},
            _file("telnyx", "message.received.json"),
            ("message.received",),
            signer_options={"signing_keys": [TELNYX_SEED]},
            forged={"signing_keys": [TELNYX_OTHER_SEED], "secrets": [TELNYX_PUBLIC, TELNYX_OTHER_PUBLIC]},
            stale_by=600,
        ),
        Case(
            "trello",
            {"secrets": ["trello-app-oauth-secret-1"]},
            _file("trello", "updateCard.json"),
            ("updateCard",),
            forged={"secrets": ["trello-app-oauth-secret-x"]},
            signs_url=True,
            handshake=_trello_check,
            handshake_reply=b"",
            open_handshake=True,
        ),
        Case(
            "vercel",
            {"secrets": ["vercel-webhook-secret-0f3a"]},
            _file("vercel", "deployment.succeeded.json"),
            ("deployment.succeeded",),
            forged={"secrets": ["vercel-webhook-secret-ffff"]},
        ),
        Case(
            "woocommerce",
            {"secrets": ["wc-webhook-secret-new", "wc-webhook-secret-old"]},
            _file("woocommerce", "order.created.json"),
            ("order.created",),
            forged={"secrets": ["wc-webhook-secret-forged"]},
            handshake=_woocommerce_ping,
            handshake_reply=b"",
            open_handshake=True,
        ),
        Case(
            "workos",
            {"secrets": ["workos-webhook-secret-a1"]},
            _file("workos", "dsync.user.created.json"),
            ("dsync.user.created",),
            forged={"secrets": ["workos-webhook-secret-zz"]},
            stale_by=600,
        ),
    ]
    table = {case.key: case for case in cases}
    assert len(table) == len(cases), "two cases share a key"
    return table


#: Every case, by key: the main case of each connector under its registry name.
CATALOGUE: dict[str, Case] = _catalogue()
