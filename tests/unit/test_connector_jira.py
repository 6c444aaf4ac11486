"""Jira: admin-webhook HMAC vector, atlassian-jwt both ways for Connect JWTs, qsh, expiry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import atlassian_jwt  # type: ignore[import-untyped]
import pytest
from atlassian_jwt.url_utils import hash_url  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.jira import JiraConnector, canonical_request, query_string_hash
from connectors.testing import check_connector, signed_request, tamper

from ._fakes import NOW
from ._support import FUZZ, fixture, outcome

SECRET = "a-webhook-secret-of-at-least-32-bytes!!"
SHARED = "connect-shared-secret-0123456789abcdefghij"
BODY = fixture("jira", "issue_created.json")
BASE = "https://hooks.example.com/webhooks/jira"


def connector(*secrets: str, **options: Any) -> JiraConnector:
    return JiraConnector.from_config({"secrets": list(secrets or [SECRET]), **options})


def jwt_connector(*secrets: str, **options: Any) -> JiraConnector:
    return connector(*(secrets or (SHARED,)), mode="jwt", app_base_url=BASE, **options)


class Addon(atlassian_jwt.Authenticator):  # type: ignore[misc]
    def get_shared_secret(self, client_key: str) -> str:
        return SHARED


def oracle(req: WebhookRequest) -> bool:
    relative = req.url.removeprefix(BASE) or "/"
    try:
        Addon().authenticate(req.method, relative, dict(req.headers))
    except Exception:  # noqa: BLE001 - DecodeError, ExpiredSignatureError, KeyError...
        return False
    return True


def jwt_request(
    token: str, url: str = BASE + "/issue-created?user_id=admin", scheme: str = "JWT"
) -> WebhookRequest:
    return WebhookRequest.build(BODY, {"Authorization": f"{scheme} {token}"}, url=url)


def test_hmac_known_answer() -> None:
    digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    req = WebhookRequest.build(BODY, {"X-Hub-Signature": f"sha256={digest}"})
    connector().verify(req, NOW)
    assert connector().sign(BODY, NOW).headers["X-Hub-Signature"] == f"sha256={digest}"
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(tamper(req), NOW)


def test_hmac_rotation_and_garbage() -> None:
    req = signed_request(connector("old-secret"), BODY, now=NOW)
    connector("new", "old-secret").verify(req, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector("new").verify(req, NOW)
    for value, cause in [
        ("", "missing_signature"),
        ("sha1=abc", "malformed_signature"),
        ("abc", "malformed_signature"),
        ("sha256=\udcff", "bad_signature"),
    ]:
        with pytest.raises(VerificationError) as exc:
            connector().verify(WebhookRequest.build(BODY, {"X-Hub-Signature": value}), NOW)
        assert exc.value.cause == cause


def test_canonical_request_matches_atlassian() -> None:
    for url in ["/issue-created?user_id=admin&a=2&a=1&jwt=x", "/", "", "/p&q/?b=%20&a=", "/x;p=1?z"]:
        assert query_string_hash("POST", url) == hash_url("POST", url), url
    assert canonical_request(
        "get", "/path/to/service?zee_last=param&repeated=parameter 2&first=param&repeated=parameter 1"
    ) == ("GET&/path/to/service&first=param&repeated=parameter%201,parameter%202&zee_last=param")


def test_atlassian_token_passes_ours() -> None:
    now = time.time()  # encode_token stamps the real clock
    token = atlassian_jwt.encode_token("POST", "/issue-created?user_id=admin", "jira:client", SHARED)
    req = jwt_request(token)
    jwt_connector().verify(req, now)
    assert oracle(req)
    with pytest.raises(VerificationError, match="bad_signature"):
        jwt_connector("another-shared-secret-0123456789abcdef").verify(req, now)
    with pytest.raises(VerificationError, match="bad_qsh"):
        jwt_connector().verify(jwt_request(token, BASE + "/issue-created?user_id=root"), now)
    with pytest.raises(VerificationError, match="bad_qsh"):
        jwt_connector().verify(jwt_request(token, "https://hooks.example.com/elsewhere"), now)


def test_our_token_passes_atlassian() -> None:
    now = time.time()
    c = jwt_connector()
    url = BASE + "/issue-created?user_id=admin"
    d = c.sign(BODY, now, url=url)
    req = WebhookRequest.build(d.body, d.headers, url=url)
    c.verify(req, now)
    assert oracle(req)
    assert not oracle(WebhookRequest.build(d.body, d.headers, url=url + "&x=1"))


def test_jwt_in_query_and_bearer() -> None:
    now = time.time()
    token = atlassian_jwt.encode_token("POST", "/cb", "jira:client", SHARED)
    req = WebhookRequest.build(BODY, url=f"{BASE}/cb?jwt={token}", query=f"jwt={token}")
    jwt_connector().verify(req, now)
    # OAuth 2.0 dynamic webhooks: a bearer JWT with no qsh claim is fine...
    bearer = _token({"iss": "oauth", "exp": int(now) + 60}, SHARED)
    jwt_connector().verify(jwt_request(bearer, scheme="Bearer"), now)
    # ...but a Connect JWT must carry one.
    with pytest.raises(VerificationError, match="bad_qsh"):
        jwt_connector().verify(jwt_request(bearer), now)


def _token(claims: dict[str, Any], secret: str, header: dict[str, Any] | None = None) -> str:
    def enc(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    head = enc(header or {"alg": "HS256", "typ": "JWT"})
    body = enc(claims)
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"


@pytest.mark.parametrize(("offset", "ok"), [(0, True), (90, True), (91, False)])
def test_expiry_with_leeway(offset: int, ok: bool) -> None:
    token = _token({"iss": "x", "exp": NOW, "iat": NOW - 60}, SHARED)
    req = jwt_request(token, scheme="Bearer")
    if ok:
        jwt_connector().verify(req, NOW + offset)
    else:
        with pytest.raises(VerificationError, match="expired_token"):
            jwt_connector().verify(req, NOW + offset)


@pytest.mark.parametrize(("offset", "ok"), [(90, True), (91, False)])
def test_issued_in_the_future(offset: int, ok: bool) -> None:
    req = jwt_request(_token({"exp": NOW + 3600, "iat": NOW + offset}, SHARED), scheme="Bearer")
    if ok:
        jwt_connector().verify(req, NOW)
    else:
        with pytest.raises(VerificationError, match="stale_timestamp"):
            jwt_connector().verify(req, NOW)


def test_jwt_rotation() -> None:
    req = jwt_request(_token({"exp": NOW + 60}, "old-shared-secret-0123456789abcdefghij"), scheme="Bearer")
    jwt_connector(SHARED, "old-shared-secret-0123456789abcdefghij").verify(req, NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        jwt_connector().verify(req, NOW)


@pytest.mark.parametrize(
    ("authorization", "cause"),
    [
        (None, "missing_token"),
        ("Basic abc", "malformed_authorization"),
        ("JWT", "malformed_authorization"),
        ("JWT a.b", "malformed_token"),
        ("JWT !!!.e30.AAAA", "malformed_token"),
        ("JWT e30.W10.AAAA", "malformed_token"),
        ("JWT " + _token({"exp": NOW}, SHARED, {"alg": "none"}), "unsupported_algorithm"),
        ("JWT " + _token({"exp": NOW}, SHARED, {"alg": "HS512"}), "unsupported_algorithm"),
        ("Bearer " + _token({"iss": "x"}, SHARED), "missing_expiry"),
        ("Bearer " + _token({"exp": "soon"}, SHARED), "missing_expiry"),
        ("Bearer " + _token({"exp": NOW, "iat": "x"}, SHARED), "stale_timestamp"),
        ("JWT " + _token({"exp": NOW}, "wrong"), "bad_signature"),
    ],
)
def test_garbled_tokens(authorization: str | None, cause: str) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    with pytest.raises(VerificationError) as exc:
        jwt_connector().verify(WebhookRequest.build(BODY, headers, url=BASE), NOW)
    assert exc.value.cause == cause


def test_normalize() -> None:
    req = signed_request(connector(), BODY, now=NOW)
    [event] = connector().normalize(req)
    assert event.type == "jira:issue_created"
    assert event.dedup_key == event.delivery_id == req.headers["x-atlassian-webhook-identifier"]
    assert event.occurred_at is not None
    assert event.occurred_at.timestamp() == NOW
    [bare] = connector().normalize(WebhookRequest.build(b'{"eventType": "installed", "key": "app"}'))
    assert bare.type == "installed"
    assert bare.dedup_key == sha256_of_parts("jira", b'{"eventType": "installed", "key": "app"}')


@pytest.mark.parametrize("body", [b"nope", b"[]", b"{}", b'{"webhookEvent": 3}'])
def test_normalize_rejects_unusable(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(body))


def test_check_connector_both_modes() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "jira:issue_created"
    # The JWT covers method and URL, not the body (signs_body=False).
    [event] = check_connector(connector(SHARED, mode="jwt"), NOW, signs_body=False)
    assert event.type == "jira:issue_created"


# Jira's own property (tests/unit/test_connectors_fuzz.py fuzzes what all connectors share):
# a JWT signed with the right secret fails closed whatever its claims hold.
@FUZZ
@given(
    claims=st.dictionaries(
        st.sampled_from(["exp", "iat", "qsh", "iss"]),
        st.none() | st.integers() | st.floats() | st.text(max_size=5),
    )
)
def test_fuzz_signed_claims(claims: dict[str, Any]) -> None:
    req = jwt_request(_token(claims, SHARED))
    cause = outcome(jwt_connector(), req, NOW)
    assert cause.replace("_", "").isalpha()
