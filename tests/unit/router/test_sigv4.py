"""The API's Signature Version 4 check: AWS's published test-suite vectors, botocore's own
signer as the oracle, and every way a request can be unsigned or wrongly signed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

from gateway.router.eventbridge_api import ApiError, SignedRequest, verify

KEY, SECRET = "AKIAHOOKGATETEST01", "a-secret-of-the-bus/with+odd=chars"
SECRETS = {KEY: SECRET}
URL = "http://127.0.0.1:8080/"
BODY = json.dumps({"Entries": [{"Source": "shop", "DetailType": "Order", "Detail": "{}"}]}).encode()

# AWS's Signature Version 4 test suite (aws-sig-v4-test-suite): its example key, date and scope.
SUITE_KEY, SUITE_SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_DATE = "20150830T123600Z"
SUITE_NOW = datetime(2015, 8, 30, 12, 36, tzinfo=UTC).timestamp()
SUITE_SCOPE = f"{SUITE_KEY}/20150830/us-east-1/service/aws4_request"


def signed_by_botocore(
    body: bytes = BODY,
    *,
    key: str = KEY,
    secret: str = SECRET,
    service: str = "events",
    region: str = "eu-west-1",
) -> tuple[SignedRequest, float]:
    """The request as botocore signs it for `events`, and the moment it was signed."""
    request = AWSRequest(
        method="POST",
        url=URL,
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSEvents.PutEvents"},
    )
    SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    prepared = request.prepare()
    headers = [(k, v if isinstance(v, str) else v.decode()) for k, v in prepared.headers.items()]
    headers.append(("Host", "127.0.0.1:8080"))
    moment = datetime.strptime(prepared.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return SignedRequest("POST", "/", "", headers, body), moment.timestamp()


def replace_header(request: SignedRequest, name: str, value: str | None) -> SignedRequest:
    headers = [(k, v) for k, v in request.headers if k.lower() != name.lower()]
    if value is not None:
        headers.append((name, value))
    return SignedRequest(request.method, request.path, request.query, headers, request.body)


def refused(request: SignedRequest, now: float, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as raised:
        verify(request, SECRETS, now, **kwargs)
    return raised.value


@pytest.mark.parametrize(
    ("method", "query", "signature"),
    [
        ("GET", "", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),  # get-vanilla
        (  # get-vanilla-query-order-key-case: the query is sorted before signing
            "GET",
            "Param2=value2&Param1=value1",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
    ],
)
def test_the_aws_test_suite_vectors_verify(method: str, query: str, signature: str) -> None:
    headers = [
        ("Host", "example.amazonaws.com"),
        ("X-Amz-Date", SUITE_DATE),
        (
            "Authorization",
            f"AWS4-HMAC-SHA256 Credential={SUITE_SCOPE}, SignedHeaders=host;x-amz-date, "
            f"Signature={signature}",
        ),
    ]
    request = SignedRequest(method, "/", query, headers, b"")
    assert verify(request, {SUITE_KEY: SUITE_SECRET}, SUITE_NOW, service="service") == (
        SUITE_KEY,
        "us-east-1",
    )
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    tampered = replace_header(request, "Authorization", headers[2][1].replace(signature, flipped))
    with pytest.raises(ApiError) as raised:
        verify(tampered, {SUITE_KEY: SUITE_SECRET}, SUITE_NOW, service="service")
    assert raised.value.code == "InvalidSignatureException"


def test_what_botocore_signs_verifies() -> None:
    request, now = signed_by_botocore()
    assert verify(request, SECRETS, now) == (KEY, "eu-west-1")
    assert verify(request, SECRETS, now + 299) == (KEY, "eu-west-1")
    assert verify(request, SECRETS, now, region="eu-west-1") == (KEY, "eu-west-1")
    assert verify(request, SECRETS.get, now - 299)[0] == KEY


def test_a_session_token_is_signed_like_any_header() -> None:
    request = AWSRequest(
        method="POST", url=URL, data=BODY, headers={"Content-Type": "application/x-amz-json-1.1"}
    )
    SigV4Auth(Credentials(KEY, SECRET, "a-session-token"), "events", "us-east-1").add_auth(request)
    headers = [(k, v) for k, v in request.headers.items()] + [("Host", "127.0.0.1:8080")]
    now = datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    signed = SignedRequest("POST", "/", "", headers, BODY)
    assert verify(signed, SECRETS, now)[0] == KEY
    assert (
        refused(replace_header(signed, "X-Amz-Security-Token", "another"), now).code
        == "InvalidSignatureException"
    )


def test_a_wrong_secret_is_an_invalid_signature() -> None:
    request, now = signed_by_botocore(secret="not-the-secret")
    error = refused(request, now)
    assert (error.code, error.status) == ("InvalidSignatureException", 403)
    assert error.message.startswith("The request signature we calculated does not match")
    assert SECRET not in error.message


def test_an_unknown_key_is_an_unrecognized_client() -> None:
    request, now = signed_by_botocore(key="AKIANOBODYKNOWS000")
    error = refused(request, now)
    assert (error.code, error.status) == ("UnrecognizedClientException", 400)
    assert error.message == "The security token included in the request is invalid."


def test_an_unsigned_request_is_missing_its_token() -> None:
    request, now = signed_by_botocore()
    error = refused(replace_header(request, "Authorization", None), now)
    assert (error.code, error.message) == (
        "MissingAuthenticationTokenException",
        "Request is missing Authentication Token",
    )


@pytest.mark.parametrize("skew", [301, -301, 3600, -86_400])
def test_a_date_more_than_five_minutes_away_is_refused(skew: int) -> None:
    request, signed_at = signed_by_botocore()
    error = refused(request, signed_at + skew)
    assert error.code == "InvalidSignatureException"
    expected = "Signature expired: " if skew > 0 else "Signature not yet current: "
    assert error.message.startswith(expected)
    assert error.message.endswith(" - 5 min.)" if skew > 0 else " + 5 min.)")


def test_a_tampered_body_or_signed_header_is_refused() -> None:
    request, now = signed_by_botocore()
    tampered = SignedRequest(
        request.method, request.path, request.query, request.headers, BODY.replace(b"shop", b"shoq")
    )
    assert refused(tampered, now).code == "InvalidSignatureException"
    assert refused(replace_header(request, "X-Amz-Target", "AWSEvents.ListRules"), now).code == (
        "InvalidSignatureException"
    )
    assert refused(replace_header(request, "Host", "evil.example"), now).code == "InvalidSignatureException"
    moved = SignedRequest(request.method, "/other", request.query, request.headers, request.body)
    assert refused(moved, now).code == "InvalidSignatureException"
    # a moved date, even within the 5 minutes, is not the date that was signed
    date = {k.lower(): v for k, v in request.headers}["x-amz-date"]
    later = date[:-3] + ("59Z" if not date.endswith("59Z") else "58Z")
    assert refused(replace_header(request, "X-Amz-Date", later), now).code == "InvalidSignatureException"


def test_the_scope_must_name_events_and_the_configured_region() -> None:
    request, now = signed_by_botocore(service="sqs")
    error = refused(request, now)
    assert (error.code, error.message) == (
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'events'. ",
    )
    request, now = signed_by_botocore(region="us-west-2")
    assert refused(request, now, region="eu-west-1").code == "InvalidSignatureException"


def test_host_must_be_signed() -> None:
    request, now = signed_by_botocore()
    authorization = {k.lower(): v for k, v in request.headers}["authorization"]
    without_host = authorization.replace("host;", "")
    error = refused(replace_header(request, "Authorization", without_host), now)
    assert error.code == "InvalidSignatureException"
    assert "'Host'" in error.message


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic dXNlcjpwYXNz",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=AKIAHOOKGATETEST01/20260101/eu-west-1/events/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKIAHOOKGATETEST01/events, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAHOOKGATETEST01/20260101/eu-west-1/events/aws5, "
        "SignedHeaders=host, Signature=0",
    ],
)
def test_a_malformed_authorization_is_an_incomplete_signature(authorization: str) -> None:
    request, now = signed_by_botocore()
    assert (
        refused(replace_header(request, "Authorization", authorization), now).code
        == "IncompleteSignatureException"
    )


def test_no_date_is_an_incomplete_signature() -> None:
    request, now = signed_by_botocore()
    assert refused(replace_header(request, "X-Amz-Date", None), now).code == "IncompleteSignatureException"


@given(
    authorization=st.text(max_size=300),
    date=st.one_of(st.none(), st.text(max_size=30)),
    body=st.binary(max_size=200),
)
def test_any_input_verifies_or_is_an_api_error(authorization: str, date: str | None, body: bytes) -> None:
    headers = [("Host", "127.0.0.1"), ("Authorization", authorization)]
    if date is not None:
        headers.append(("X-Amz-Date", date))
    error: ApiError | None = None
    try:
        verify(SignedRequest("POST", "/", "", headers, body), SECRETS, 1.7e9)
    except ApiError as exc:
        error = exc
    if error is not None:
        assert error.status in (400, 403)
        assert SECRET not in error.message


def test_the_path_is_canonical_as_sent_encoded_once_more() -> None:
    request = AWSRequest(method="POST", url="http://127.0.0.1:8080/bus%20api/put", data=BODY, headers={})
    SigV4Auth(Credentials(KEY, SECRET), "events", "eu-west-1").add_auth(request)
    headers = [(k, v) for k, v in request.headers.items()] + [("Host", "127.0.0.1:8080")]
    now = datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    assert verify(SignedRequest("POST", "/bus%20api/put", "", headers, BODY), SECRETS, now)[0] == KEY
    decoded = SignedRequest("POST", "/bus api/put", "", headers, BODY)
    assert refused(decoded, now).code == "InvalidSignatureException"
