"""AWS SNS: SignatureVersion 1 and 2 over the canonical string (built independently here),
certificates fetched only from SNS and cached, confirmations only for allowed topics."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID

from connectors import VerificationError, WebhookRequest
from connectors.aws_sns import AwsSnsConnector, is_sns_url
from connectors.testing import check_connector, check_malformed
from connectors.toolkit import FetchError, https_fetch

from ._fakes import NOW
from ._support import fixture

ARN = "arn:aws:sns:us-west-2:123456789012:MyTopic"
CERT_URL = (
    "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"
)
STAMP = datetime.fromtimestamp(NOW, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_key(cn: str) -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2045, 1, 1, tzinfo=UTC))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(Encoding.PEM)


KEY, CERT = make_key("sns.amazonaws.com")
OTHER_KEY, OTHER_CERT = make_key("forged.example")


class FakeFetcher:
    def __init__(self, answers: dict[str, bytes]) -> None:
        self.answers, self.calls = answers, []  # type: tuple[dict[str, bytes], list[str]]

    def __call__(self, url: str, body: bytes | None = None) -> bytes:
        assert body is None  # SNS is only ever asked with a GET
        self.calls.append(url)
        if url not in self.answers:
            raise FetchError("not found")
        return self.answers[url]


def connector(fetcher: FakeFetcher | None = None, **options: Any) -> AwsSnsConnector:
    opts = AwsSnsConnector.Options.model_validate({"topic_arns": [ARN], **options})
    return AwsSnsConnector(opts, fetcher=fetcher or FakeFetcher({CERT_URL: CERT}))  # type: ignore[arg-type]


def canonical(message: dict[str, Any]) -> str:
    """The string to sign, per the SNS documentation, written out field by field."""
    if message["Type"] == "Notification":
        keys = ["Message", "MessageId"] + (["Subject"] if "Subject" in message else [])
        keys += ["Timestamp", "TopicArn", "Type"]
    else:
        keys = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    return "".join(f"{k}\n{message[k]}\n" for k in keys)


def build(message: dict[str, Any]) -> WebhookRequest:
    return WebhookRequest.build(
        json.dumps(message).encode(), {"x-amz-sns-message-type": str(message["Type"])}
    )


def signed(name: str, version: str = "1", key: rsa.RSAPrivateKey = KEY, **changes: str) -> WebhookRequest:
    message = {
        **json.loads(fixture("aws-sns", name)),
        "Timestamp": STAMP,
        "SignatureVersion": version,
        **changes,
    }
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 - SNS SignatureVersion 1
    signature = key.sign(canonical(message).encode(), padding.PKCS1v15(), algorithm)
    message["Signature"] = base64.b64encode(signature).decode()
    return build(message)


@pytest.mark.parametrize("version", ["1", "2"])
def test_both_signature_versions_verify(version: str) -> None:
    fetcher = FakeFetcher({CERT_URL: CERT})
    c = connector(fetcher)
    c.verify(signed("notification.json", version), NOW)
    c.verify(signed("notification.json", version), NOW)
    assert fetcher.calls == [CERT_URL]  # fetched once, then cached
    with pytest.raises(VerificationError, match="bad_signature"):
        c.verify(signed("notification.json", version, key=OTHER_KEY), NOW)


def test_version_1_and_2_are_not_interchangeable() -> None:
    req = signed("notification.json", "1")
    message = json.loads(req.body)
    message["SignatureVersion"] = "2"
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(build(message), NOW)


def test_every_signed_field_is_signed() -> None:
    for field in ("Message", "MessageId", "Subject", "Timestamp", "Type"):
        message = json.loads(signed("notification.json").body)
        message[field] = message[field].replace("2", "3") + "x"
        with pytest.raises(VerificationError):
            connector().verify(build(message), NOW)


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-west-2.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.us-west-2.amazonaws.com.evil.example/SimpleNotificationService-1.pem",
        "https://evil.example/sns.us-west-2.amazonaws.com/x.pem",
        "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-1.txt",
        "https://user@sns.us-west-2.amazonaws.com/x.pem",
        "https://sns.us-west-2.amazonaws.com:8443/x.pem",
        "https://s3.amazonaws.com/x.pem",
    ],
)
def test_certificates_come_only_from_sns(url: str) -> None:
    fetcher = FakeFetcher({url: CERT})
    with pytest.raises(VerificationError, match="bad_certificate_url"):
        connector(fetcher).verify(signed("notification.json", SigningCertURL=url), NOW)
    assert fetcher.calls == []
    assert not is_sns_url(url, pem=True)


def test_china_and_gov_regions_are_sns_hosts() -> None:
    assert is_sns_url("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem", pem=True)
    assert is_sns_url("https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-1.pem", pem=True)


def test_pinned_certificates_are_never_fetched() -> None:
    fetcher = FakeFetcher({})
    c = connector(fetcher, certificates={CERT_URL: CERT.decode()}, fetch_certificates=False)
    c.verify(signed("notification.json"), NOW)
    other_url = CERT_URL.replace("f3ec", "0000")
    with pytest.raises(VerificationError, match="certificate_unavailable"):
        c.verify(signed("notification.json", SigningCertURL=other_url), NOW)
    assert fetcher.calls == []


def test_fetch_failures_and_bad_certificates() -> None:
    with pytest.raises(VerificationError, match="certificate_unavailable"):
        connector(FakeFetcher({})).verify(signed("notification.json"), NOW)
    with pytest.raises(VerificationError, match="bad_certificate"):
        connector(FakeFetcher({CERT_URL: b"not a certificate"})).verify(signed("notification.json"), NOW)


def test_only_allowed_topics() -> None:
    other = "arn:aws:sns:us-west-2:123456789012:OtherTopic"
    with pytest.raises(VerificationError, match="unknown_topic"):
        connector().verify(signed("notification.json", TopicArn=other), NOW)


@pytest.mark.parametrize(("skew", "ok"), [(-3600, True), (3600, True), (-3601, False)])
def test_tolerance(skew: int, ok: bool) -> None:
    req = signed("notification.json")
    if ok:
        connector().verify(req, NOW + skew)
    else:
        with pytest.raises(VerificationError, match="stale_timestamp"):
            connector().verify(req, NOW - skew)


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        ({"Signature": ""}, "missing_signature"),
        ({"SignatureVersion": "3"}, "unsupported_signature_version"),
        ({"Timestamp": "yesterday"}, "malformed_timestamp"),
        ({"Timestamp": "2023-11-14T22:13:20"}, "malformed_timestamp"),
        ({"Signature": "%%%"}, "malformed_signature"),
    ],
)
def test_garbled_messages(change: dict[str, str], cause: str) -> None:
    message = {**json.loads(signed("notification.json").body), **change}
    with pytest.raises(VerificationError) as exc:
        connector().verify(build(message), NOW)
    assert exc.value.cause == cause
    with pytest.raises(VerificationError, match="malformed_message"):
        connector().verify(WebhookRequest.build(b"[1]", {"x-amz-sns-message-type": "Notification"}), NOW)
    other = json.dumps({**message, "Type": "UnsubscribeConfirmation"}).encode()
    with pytest.raises(VerificationError, match="malformed_message"):
        connector().verify(WebhookRequest.build(other, {"x-amz-sns-message-type": "Notification"}), NOW)
    with pytest.raises(VerificationError, match="missing_header"):
        connector().verify(WebhookRequest.build(json.dumps(message).encode()), NOW)


def test_subscription_confirmation_fetches_the_subscribe_url() -> None:
    req = signed("subscription_confirmation.json")
    subscribe = json.loads(req.body)["SubscribeURL"]
    fetcher = FakeFetcher({CERT_URL: CERT, subscribe: b"<ConfirmSubscriptionResponse/>"})
    answer = connector(fetcher).handshake(req, NOW)
    assert answer is not None
    assert answer.status == 200
    assert fetcher.calls == [CERT_URL, subscribe]


def test_confirmations_of_other_topics_or_hosts_fetch_nothing() -> None:
    fetcher = FakeFetcher({CERT_URL: CERT})
    other = signed("subscription_confirmation.json", TopicArn="arn:aws:sns:us-west-2:123456789012:Else")
    with pytest.raises(VerificationError, match="unknown_topic"):
        connector(fetcher).handshake(other, NOW)
    evil = signed(
        "subscription_confirmation.json", SubscribeURL="https://evil.example/?Action=ConfirmSubscription"
    )
    with pytest.raises(VerificationError, match="bad_subscribe_url"):
        connector(fetcher).handshake(evil, NOW)
    forged = signed("subscription_confirmation.json", key=OTHER_KEY)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector(fetcher).handshake(forged, NOW)
    assert all(call == CERT_URL for call in fetcher.calls)
    failing = FakeFetcher({CERT_URL: CERT})
    answer = connector(failing).handshake(signed("subscription_confirmation.json"), NOW)
    assert answer is not None
    assert answer.status == 400
    assert connector().handshake(signed("notification.json"), NOW) is None


def test_normalize_and_type_field() -> None:
    req = signed("notification.json")
    [event] = connector().normalize(req)
    assert (event.type, event.dedup_key) == ("Notification", "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324")
    assert event.occurred_at is not None
    assert event.occurred_at.timestamp() == NOW
    [typed] = connector(type_field="detail-type").normalize(req)
    assert typed.type == "order.created"
    [plain] = connector(type_field="detail-type").normalize(signed("notification.json", Message="hello"))
    assert plain.type == "Notification"


def test_unusable_bodies() -> None:
    check_malformed(connector(), b"[]", b'{"Type": "Notification"}', b'{"MessageId": "m", "Type": ""}')


def test_options() -> None:
    with pytest.raises(ValueError, match="topic ARN"):
        AwsSnsConnector.from_config({"topic_arns": ["MyTopic"]})
    with pytest.raises(ValueError, match="certificate URL"):
        AwsSnsConnector.from_config(
            {"topic_arns": [ARN], "certificates": {"https://evil.example/x.pem": "x"}}
        )
    with pytest.raises(ValueError, match="signing_keys"):
        AwsSnsConnector.from_config({"topic_arns": [ARN]}).sign(b"{}", NOW)


def test_sign_and_check_connector() -> None:
    pem = KEY.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    c = connector(certificates={CERT_URL: CERT.decode()}, signing_keys=[pem], type_field="detail-type")
    [event] = check_connector(c, NOW)
    assert event.type == "order.created"
    [event] = check_connector(c, NOW, body=fixture("aws-sns", "notification.json"))
    assert event.dedup_key == "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"


def test_the_default_fetcher_refuses_plain_http() -> None:
    with pytest.raises(FetchError):
        https_fetch("http://sns.us-west-2.amazonaws.com/x.pem")
