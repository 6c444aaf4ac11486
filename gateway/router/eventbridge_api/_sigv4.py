"""AWS Signature Version 4, checked as AWS checks it: sans-I/O over what arrived.

    verify(request, secrets, now, service="events", region=None) -> access key id

The `Authorization` header (`AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request,
SignedHeaders=…, Signature=…`) is parsed; the credential scope must name `service`
(and `region` when one is configured), its date the day of `X-Amz-Date`, which must be
within 5 minutes of `now`; `host` must be signed. The canonical request (method, path,
query, the signed headers, the body's SHA-256) is hashed into the string to sign, signed
with the key derived from the secret, and compared in constant time.

Every failure is an `ApiError` with the code and message AWS answers: no `Authorization`
→ `MissingAuthenticationTokenException`; a malformed one → `IncompleteSignatureException`;
an unknown access key → `UnrecognizedClientException`; a wrong scope, a stale date or a
signature that does not match → `InvalidSignatureException`. A session token
(`X-Amz-Security-Token`) is signed like any header, and not checked otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote_plus

from gateway.router.eventbridge_api._errors import ApiError

__all__ = ["ALGORITHM", "MAX_SKEW_SECONDS", "SignedRequest", "signature", "verify"]

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_SECONDS = 300
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What SigV4 covers. `headers` keep their order and repeats (names in any case);
    `path` and `query` as they were sent (percent-encoded): AWS's canonical path, outside
    S3, encodes the sent path once more."""

    method: str
    path: str
    query: str
    headers: Sequence[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name]
        return ",".join(values) if values else None


def _incomplete(message: str) -> ApiError:
    return ApiError("IncompleteSignatureException", message)


def _invalid(message: str) -> ApiError:
    return ApiError("InvalidSignatureException", message, 403)


_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)


def _parse_authorization(value: str) -> tuple[list[str], list[str], str]:
    """The credential's parts, the signed header names and the signature."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported AWS 'algorithm': '{algorithm}'")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, field_value = part.strip().partition("=")
        if sep:
            fields[name] = field_value
    missing = [n for n in ("Credential", "Signature", "SignedHeaders") if not fields.get(n)]
    if missing:
        raise _incomplete(
            " ".join(f"Authorization header requires '{n}' parameter." for n in missing)
            + f" Authorization={algorithm}"
        )
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or not all(scope):
        raise _incomplete(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{fields['Credential'][:200]}'"
        )
    if scope[4] != "aws4_request":
        raise _incomplete(
            f"Credential should be scoped with a valid terminator: 'aws4_request', not '{scope[4][:64]}'."
        )
    signed = fields["SignedHeaders"].split(";")
    return scope, signed, fields["Signature"]


def _canonical_query(query: str) -> str:
    pairs = []
    for part in query.split("&") if query else ():
        name, _, value = part.partition("=")
        pairs.append((_encode(unquote_plus(name)), _encode(unquote_plus(value))))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def _canonical_path(path: str) -> str:
    return quote(path or "/", safe="/~")


def canonical_request(request: SignedRequest, signed: Sequence[str]) -> str:
    lines = [request.method.upper(), _canonical_path(request.path), _canonical_query(request.query)]
    for name in signed:
        value = request.header(name)
        lines.append(f"{name}:{_SPACES.sub(' ', (value or '').strip())}")
    lines += ["", ";".join(signed), hashlib.sha256(request.body).hexdigest()]
    return "\n".join(lines)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signature(secret: str, scope: Sequence[str], amz_date: str, canonical: str) -> str:
    """The signature of a canonical request: `scope` is [date, region, service, "aws4_request"]."""
    to_sign = "\n".join(
        [ALGORITHM, amz_date, "/".join(scope), hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + secret).encode()
    for part in scope:
        key = _hmac(key, part)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def verify(
    request: SignedRequest,
    secrets: Mapping[str, str] | Callable[[str], str | None],
    now: float,
    *,
    service: str = "events",
    region: str | None = None,
) -> tuple[str, str]:
    """The access key id that signed `request` and the Region it signed for; `ApiError` when
    it is not signed, or not signed right, by a key of `secrets` (key id → secret)."""
    authorization = request.header("authorization")
    if not authorization:
        raise ApiError("MissingAuthenticationTokenException", "Request is missing Authentication Token", 403)
    scope, signed, given = _parse_authorization(authorization)
    key_id, day, scope_region, scope_service, _ = scope
    lookup = secrets.get if isinstance(secrets, Mapping) else secrets
    secret = lookup(key_id)
    if secret is None:
        raise ApiError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    if scope_service != service:
        raise _invalid(f"Credential should be scoped to correct service: '{service}'. ")
    if region is not None and scope_region != region:
        raise _invalid(f"Credential should be scoped to a valid region, not '{scope_region[:64]}'. ")
    amz_date = request.header("x-amz-date")
    if amz_date is None:
        raise _incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    try:
        stamp = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise _incomplete(f"Date must be in ISO-8601 'basic format'. Got '{amz_date[:40]}'.") from None
    if day != amz_date[:8]:
        raise _invalid(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{day[:16]}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    if stamp < now - MAX_SKEW_SECONDS:
        raise _invalid(
            f"Signature expired: {amz_date} is now earlier than {_amz(now - MAX_SKEW_SECONDS)} "
            f"({_amz(now)} - 5 min.)"
        )
    if stamp > now + MAX_SKEW_SECONDS:
        raise _invalid(
            f"Signature not yet current: {amz_date} is still later than {_amz(now + MAX_SKEW_SECONDS)} "
            f"({_amz(now)} + 5 min.)"
        )
    if "host" not in signed:
        raise _invalid("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    if signed != sorted(signed) or any(request.header(name) is None for name in signed):
        raise _invalid(_MISMATCH)
    expected = signature(secret, scope[1:], amz_date, canonical_request(request, signed))
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise _invalid(_MISMATCH)
    return key_id, scope_region


def _amz(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime(_AMZ_DATE)
