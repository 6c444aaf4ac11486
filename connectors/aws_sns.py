"""AWS SNS HTTP(S) subscriptions: RSA signatures over the canonical string, with the
signing certificate fetched from SNS.

Every message is a JSON document signed by SNS: `Signature` is the base64 RSA PKCS#1 v1.5
signature (`SignatureVersion` 1: SHA-1; 2: SHA-256) of the canonical string, the lines
`<name>\\n<value>\\n` for `Message`, `MessageId`, `Subject` (when present), `Timestamp`,
`TopicArn` and `Type` of a notification, and `Message`, `MessageId`, `SubscribeURL`,
`Timestamp`, `Token`, `TopicArn` and `Type` of a (un)subscribe confirmation.

The certificate is fetched from `SigningCertURL` only when that is an `https://` URL on
`sns.<region>.amazonaws.com` (or `.amazonaws.com.cn`) ending in `.pem`, through the
connector's fetcher (injected in tests, called in a worker thread by the gateway), and
cached by URL. `certificates` may pin the
certificate of a URL, so a gateway without Internet access need not fetch
(`fetch_certificates = false`: only pinned certificates verify).

Only topics listed in `topic_arns` are accepted. A `SubscriptionConfirmation` of such a
topic is confirmed by fetching its `SubscribeURL` (which must be on the same SNS host
pattern), and answered `200` without storing anything; a confirmation of another topic
is refused. SNS names the message type in `x-amz-sns-message-type` too: a delivery
without it, or where it differs from `Type`, is refused. `Timestamp` must be within
`tolerance_seconds` of now. The dedup key is `MessageId`; the event type is the value at
`type_field` in the JSON `Message` when set and present (`detail-type`, `eventType`,
`notificationType`, ...), else the body's `Type`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import Field, SecretStr, field_validator

from connectors import (
    Connector,
    ConnectorOptions,
    ConnectorResponse,
    MalformedPayloadError,
    ProviderEvent,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    utc_from_timestamp,
)
from connectors.toolkit import (
    FetchCache,
    Fetcher,
    FetchError,
    check_event_type,
    check_tolerance,
    delivery_uuid,
    https_fetch,
    iso_utc,
    json_object,
    json_or_none,
    load_private_key,
    lookup,
    one_or_many,
    parse_iso_timestamp,
    verifies,
)

__all__ = ["AwsSnsConnector", "AwsSnsOptions", "canonical_string", "is_sns_url"]

_SNS_HOST = re.compile(r"sns\.[a-z]{2}(?:-[a-z]+)+-\d\.amazonaws\.com(?:\.cn)?", re.ASCII)
_TOPIC_ARN = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$"
_NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_CONFIRMATIONS = ("SubscriptionConfirmation", "UnsubscribeConfirmation")
_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
#: Certificates kept per connector: SNS signs with one certificate per region at a time.
_CACHE_SIZE = 16


def is_sns_url(url: str, *, pem: bool = False) -> bool:
    """Whether `url` is `https://sns.<region>.amazonaws.com[.cn]/…` (and, with `pem`, a `.pem`)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    host_ok = parts.scheme == "https" and port in (None, 443) and _SNS_HOST.fullmatch(parts.hostname or "")
    return bool(host_ok) and not parts.username and (not pem or parts.path.endswith(".pem"))


def canonical_string(message: dict[str, Any]) -> bytes:
    """The bytes SNS signs: `<name>\\n<value>\\n` for each signed field present, in order."""
    keys = _CONFIRMATION_KEYS if message.get("Type") in _CONFIRMATIONS else _NOTIFICATION_KEYS
    lines = [f"{key}\n{message[key]}\n" for key in keys if isinstance(message.get(key), str)]
    return "".join(lines).encode("utf-8", "surrogatepass")


class AwsSnsOptions(ConnectorOptions):
    topic_arns: list[str] = Field(min_length=1, description="the topic ARNs accepted (and confirmed)")
    tolerance_seconds: int = Field(3600, ge=0, description="max age (and clock skew) of `Timestamp`")
    type_field: str | None = Field(
        None, min_length=1, description="dotted path of the event type in the JSON `Message`"
    )
    certificates: dict[str, SecretStr] = Field(
        default_factory=dict, description="pinned certificates: SigningCertURL → PEM (never fetched)"
    )
    fetch_certificates: bool = Field(
        True, description="fetch certificates that are not pinned (false: only `certificates` verify)"
    )
    signing_keys: list[SecretStr] = Field(
        default_factory=list, description="an RSA private key (PEM), only for sign(): tests and send-test"
    )

    @field_validator("topic_arns", "signing_keys", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return one_or_many(value)

    @field_validator("topic_arns")
    @classmethod
    def _arns(cls, value: list[str]) -> list[str]:
        for arn in value:
            if not re.fullmatch(_TOPIC_ARN, arn):
                raise ValueError(f"not an SNS topic ARN: {arn!r}")
        return value

    @field_validator("certificates")
    @classmethod
    def _certificates(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for url, pem in value.items():
            if not is_sns_url(url, pem=True):
                raise ValueError(f"not an SNS certificate URL: {url!r}")
            _rsa_key(pem.get_secret_value().encode())
        return value

    @field_validator("signing_keys")
    @classmethod
    def _signing_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        for key in value:
            if not isinstance(load_private_key(key.get_secret_value(), der=False), rsa.RSAPrivateKey):
                raise ValueError("signing_keys: not an RSA private key")  # noqa: TRY004 - pydantic reports ValueError
        return value


def _rsa_key(pem: bytes) -> rsa.RSAPublicKey:
    """The RSA public key of a PEM certificate (ValueError otherwise)."""
    key = x509.load_pem_x509_certificate(pem).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA certificate")  # noqa: TRY004 - pydantic reports ValueError
    return key


class AwsSnsConnector(Connector[AwsSnsOptions]):
    name = "aws-sns"
    summary = "AWS SNS HTTP(S) subscriptions (RSA SignatureVersion 1/2, SNS certificates, confirmations)"
    fetches = True

    def __init__(self, options: AwsSnsOptions, *, fetcher: Fetcher = https_fetch) -> None:
        super().__init__(options)
        self.fetcher = fetcher
        pinned = {url: _rsa_key(pem.get_secret_value().encode()) for url, pem in options.certificates.items()}
        self._keys = FetchCache(_CACHE_SIZE, pinned=pinned)

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        """Confirm a subscription to an allowed topic by fetching its `SubscribeURL`."""
        message = json_or_none(request.body)
        if not isinstance(message, dict) or message.get("Type") != "SubscriptionConfirmation":
            return None
        self.verify(request, now)
        url = message.get("SubscribeURL")
        if not isinstance(url, str) or not is_sns_url(url):
            raise VerificationError("bad_subscribe_url")
        try:
            self.fetcher(url)
        except FetchError:
            return ConnectorResponse(400, b"subscription not confirmed")
        return ConnectorResponse(200)

    def verify(self, request: WebhookRequest, now: float) -> None:
        kind = request.headers.get("x-amz-sns-message-type", "").strip()
        if not kind:
            raise VerificationError("missing_header")
        message = json_or_none(request.body)
        if not isinstance(message, dict) or message.get("Type") != kind:
            raise VerificationError("malformed_message")
        signature, version = message.get("Signature"), message.get("SignatureVersion")
        if not isinstance(signature, str) or not signature:
            raise VerificationError("missing_signature")
        algorithm = _HASHES.get(version) if isinstance(version, str) else None
        if algorithm is None:
            raise VerificationError("unsupported_signature_version")
        if message.get("TopicArn") not in self.options.topic_arns:
            raise VerificationError("unknown_topic")
        stamp = message.get("Timestamp")
        if not isinstance(stamp, str):
            raise VerificationError("missing_timestamp")
        timestamp = parse_iso_timestamp(stamp, naive_is_utc=False)
        try:
            raw = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raise VerificationError("malformed_signature") from None
        key = self._certificate(message.get("SigningCertURL"))
        if not verifies(key.verify, raw, canonical_string(message), padding.PKCS1v15(), algorithm()):
            raise VerificationError("bad_signature")
        check_tolerance(timestamp, now, self.options.tolerance_seconds)

    def _certificate(self, url: Any) -> rsa.RSAPublicKey:
        """The key of the certificate at `url`: pinned, cached, or fetched from SNS."""
        if not isinstance(url, str) or not is_sns_url(url, pem=True):
            raise VerificationError("bad_certificate_url")
        if url not in self._keys.pinned and not self.options.fetch_certificates:
            raise VerificationError("certificate_unavailable")
        try:
            return self._keys.get(url, self._fetch_certificate)
        except FetchError:
            raise VerificationError("certificate_unavailable") from None

    def _fetch_certificate(self, url: str) -> rsa.RSAPublicKey:
        try:
            return _rsa_key(self.fetcher(url))
        except ValueError:
            raise VerificationError("bad_certificate") from None

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        message = json_object(request.body)
        message_id = message.get("MessageId")
        if not isinstance(message_id, str) or not message_id:
            raise MalformedPayloadError("missing_field", "MessageId")
        event_type = check_event_type(message.get("Type"), "Type")
        if self.options.type_field is not None and isinstance(message.get("Message"), str):
            inner = lookup(json_or_none(message["Message"].encode()), self.options.type_field)
            if inner is not None:
                event_type = check_event_type(inner, self.options.type_field)
        return [
            ProviderEvent(
                type=event_type,
                payload=message,
                dedup_key=message_id,
                provider_event_id=message_id,
                occurred_at=utc_from_timestamp(message.get("Timestamp")),
            )
        ]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        """Wrap `body` as SNS would (a JSON body without `Type` becomes a notification's
        `Message`) and sign it (SignatureVersion 2) with `signing_keys`; ValueError without one."""
        if not self.options.signing_keys:
            raise ValueError("aws-sns needs signing_keys (an RSA private key) to sign")
        private = load_private_key(self.options.signing_keys[0].get_secret_value(), der=False)
        assert isinstance(private, rsa.RSAPrivateKey)  # checked by the options
        message = json_or_none(body)
        if not (isinstance(message, dict) and "Type" in message):
            message = self._notification(body, now)
        message = {**message, "Timestamp": iso_utc(now, "milliseconds"), "SignatureVersion": "2"}
        message.setdefault("SigningCertURL", self._signing_url())
        signature = private.sign(canonical_string(message), padding.PKCS1v15(), hashes.SHA256())
        message["Signature"] = base64.b64encode(signature).decode()
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": str(message.get("Type")),
            "x-amz-sns-message-id": str(message.get("MessageId")),
            "x-amz-sns-topic-arn": str(message.get("TopicArn")),
            "User-Agent": "Amazon Simple Notification Service Agent",
        }
        return SignedDelivery(body=json.dumps(message, indent=2).encode(), headers=headers)

    def _signing_url(self) -> str:
        """The first pinned certificate's URL (the one `signing_keys` matches), else a made-up one."""
        return min(
            self._keys.pinned, default="https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0.pem"
        )

    def _notification(self, body: bytes, now: float) -> dict[str, Any]:
        arn = self.options.topic_arns[0]
        region = arn.split(":")[3]
        message_id = delivery_uuid(body, now)
        return {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": arn,
            "Message": body.decode("utf-8", "replace"),
            "UnsubscribeURL": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={arn}:{message_id}",
        }

    def sample_body(self, now: float) -> bytes:
        order = {"detail-type": "order.created", "order_id": "o-7f3b", "total": "29.35", "currency": "USD"}
        return json.dumps(order).encode()
