"""The connector contract: sans-I/O provider knowledge.

A connector turns what arrived over HTTP into verified, normalized events. It never
touches a socket, a framework request or a database: it sees a `WebhookRequest` (raw
body bytes, a case-insensitive header map, the query, the public URL) and the clock.

    WebhookRequest ──handshake()──▶ ConnectorResponse | None   (before verification)
                   ──verify()─────▶ None | raises VerificationError(cause)
                   ──normalize()──▶ [ProviderEvent, ...]       | raises MalformedPayloadError

`verify` never parses the body; `normalize` only ever runs on verified bytes. A connector
whose provider sends notifications without the event's data may name an `Enricher`
(`enricher()`), which the gateway runs after the events are stored (`connectors._enrich`).
"""

from __future__ import annotations

import abc
import hashlib
import hmac
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Self, cast, get_args, get_origin
from urllib.parse import parse_qsl

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from typing_extensions import TypeVar  # a default for the type argument (PEP 696)

from connectors._enrich import Enricher

__all__ = [
    "API_VERSION",
    "Connector",
    "ConnectorOptions",
    "ConnectorResponse",
    "Headers",
    "MalformedPayloadError",
    "ProviderEvent",
    "SecretsOptions",
    "SignedDelivery",
    "VerificationError",
    "WebhookRequest",
    "constant_time_equals",
    "one_or_many",
    "parse_json",
    "secret_values",
    "sha256_of_parts",
    "utc_from_timestamp",
]


class VerificationError(Exception):
    """The delivery is not authentic. `cause` is a short machine-readable code for logs.

    The cause is never echoed to the caller: the HTTP edge answers 401 with a generic body.
    """

    def __init__(self, cause: str, detail: str = "") -> None:
        super().__init__(f"{cause}: {detail}" if detail else cause)
        self.cause = cause
        self.detail = detail


class MalformedPayloadError(Exception):
    """A verified delivery whose body cannot be understood (answered with 400)."""

    def __init__(self, cause: str, detail: str = "") -> None:
        super().__init__(f"{cause}: {detail}" if detail else cause)
        self.cause = cause
        self.detail = detail

    def __reduce__(self) -> tuple[type[MalformedPayloadError], tuple[str, str]]:
        """Pickled whole (from a worker process, `gateway.offload`), cause and detail."""
        return type(self), (self.cause, self.detail)


class Headers(Mapping[str, str]):
    """An immutable, case-insensitive multi-map of HTTP headers.

    `headers["X-Foo"]` gives the first value; `get_all("x-foo")` gives every value.
    """

    __slots__ = ("_first", "_items")

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._items: tuple[tuple[str, str], ...] = tuple((k.lower(), v) for k, v in pairs)
        first: dict[str, str] = {}
        for key, value in self._items:
            first.setdefault(key, value)
        self._first = first

    def __getitem__(self, key: str) -> str:
        return self._first[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._first

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def get_all(self, key: str) -> list[str]:
        key = key.lower()
        return [v for k, v in self._items if k == key]

    def raw(self) -> tuple[tuple[str, str], ...]:
        return self._items

    def __repr__(self) -> str:
        return f"Headers({list(self._first)!r})"


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """What arrived, exactly as it arrived. `url` is the public URL the provider called."""

    method: str
    body: bytes
    headers: Headers
    query: tuple[tuple[str, str], ...] = ()
    url: str = ""

    @classmethod
    def build(
        cls,
        body: bytes,
        headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        *,
        method: str = "POST",
        query: str | Iterable[tuple[str, str]] = (),
        url: str = "",
    ) -> Self:
        q = tuple(parse_qsl(query, keep_blank_values=True)) if isinstance(query, str) else tuple(query)
        return cls(method=method.upper(), body=body, headers=Headers(headers), query=q, url=url)

    def query_value(self, name: str) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class ConnectorResponse:
    """An answer given to the provider: to a handshake instead of ingesting (challenge echo,
    ping, ...), or a connector's own acknowledgement of a stored delivery."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    #: Headers the provider expects back (Asana's handshake echoes `X-Hook-Secret`).
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, value: Any, status: int = 200) -> ConnectorResponse:
        return cls(status, json.dumps(value, separators=(",", ":")).encode(), "application/json")


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One provider event found in a verified delivery."""

    type: str
    payload: Any
    dedup_key: str
    provider_event_id: str | None = None
    delivery_id: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SignedDelivery:
    """A delivery produced by `Connector.sign`: what a provider would send."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    query: tuple[tuple[str, str], ...] = ()
    method: str = "POST"


class ConnectorOptions(BaseModel):
    """Base of every connector's options. Unknown keys are errors, so typos are caught, and
    a secret (a `SecretStr` field, in a list or a nested model too) that is empty or only
    whitespace is refused: an HMAC keyed by it is one anybody can compute."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _no_blank_secret(self) -> Self:
        if blank := blank_secrets(self):
            raise ValueError(f"{', '.join(blank)}: an empty or blank secret would let anybody sign")
        return self


class SecretsOptions(ConnectorOptions):
    """Options of a connector keyed by one or more shared secrets (several = rotation)."""

    secrets: list[SecretStr] = Field(min_length=1, description="signing secrets; any may verify")

    @field_validator("secrets", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return one_or_many(value)


#: The connector API this hookgate provides. A connector may declare the version it was
#: written for (`api_version`); the registry refuses one written for another version.
API_VERSION = 1

OptionsT_co = TypeVar("OptionsT_co", bound=ConnectorOptions, default=ConnectorOptions, covariant=True)


class Connector(abc.ABC, Generic[OptionsT_co]):
    """Base class of every connector. One instance serves one configured source.

    Subclasses name their options model as the type argument
    (`class AcmeConnector(Connector[AcmeOptions])`), which sets `Options` and types
    `self.options`; they set `name` and implement `verify`, `normalize` and `sign`;
    `handshake`, `acknowledge` and `enricher` are optional.
    """

    name: ClassVar[str]
    #: The options model, taken from the type argument (`Connector[AcmeOptions]`).
    Options: ClassVar[type[ConnectorOptions]] = ConnectorOptions
    #: The connector API this connector was written for (checked when it is loaded).
    api_version: ClassVar[int] = API_VERSION
    #: Human summary shown by `hookgate connectors`.
    summary: ClassVar[str] = ""
    #: HTTP methods this connector accepts (GET only where a handshake needs it).
    methods: ClassVar[frozenset[str]] = frozenset({"POST"})
    #: Whether `handshake` and `verify` may wait on the network (a key or certificate
    #: fetched on a cache miss, `connectors.toolkit.fetch`): the gateway then calls them in
    #: a worker thread, so a slow fetch delays no other request. They must be thread-safe.
    fetches: ClassVar[bool] = False
    options: OptionsT_co

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "Options" in cls.__dict__:  # set explicitly: it wins
            return
        for base in cls.__dict__.get("__orig_bases__", ()):
            origin = get_origin(base)
            if isinstance(origin, type) and issubclass(origin, Connector):
                (argument,) = get_args(base)
                model = argument.__bound__ if isinstance(argument, TypeVar) else argument
                if isinstance(model, type) and issubclass(model, ConnectorOptions):
                    cls.Options = model

    def __init__(self, options: OptionsT_co) -> None:
        if not isinstance(options, self.Options):
            raise TypeError(f"{type(self).__name__} needs {self.Options.__name__}")
        if blank := blank_secrets(options):  # options built without validation (`model_construct`)
            raise ValueError(f"{type(self).__name__}: {', '.join(blank)}: an empty or blank secret")
        self.options = options

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """Build from a mapping of config keys; raises `pydantic.ValidationError`."""
        return cls(cast("OptionsT_co", cls.Options.model_validate(dict(config))))

    def handshake(self, request: WebhookRequest, now: float) -> ConnectorResponse | None:
        """Answer a provider handshake/challenge, or return None to go on with `verify`."""
        return None

    def enricher(self) -> Enricher | None:
        """What completes this source's stored events through the provider's API, if they
        need it (`connectors._enrich`): None, the default, forwards events as they arrived.
        Called once when the gateway is built; the enricher does the I/O, not the connector."""
        return None

    def secret_headers(self) -> frozenset[str]:
        """Names (lowercase) of the headers that carry a secret or a signature and that
        the gateway's default list (`*signature*`, `authorization`, `x-*-token`, …) may
        not recognise: a header whose name the configuration chooses. The requests log
        never stores their values."""
        return frozenset()

    def acknowledge(self, request: WebhookRequest) -> ConnectorResponse | None:
        """The answer to a delivery once its events are stored (or known already). None:
        hookgate's own, `200` with the event ids as JSON. For providers that insist on
        another (Discord's Webhook Events: `204`, empty)."""
        return None

    @abc.abstractmethod
    def verify(self, request: WebhookRequest, now: float) -> None:
        """Raise `VerificationError` unless the request is authentic. Never parse the body."""

    @abc.abstractmethod
    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        """Turn a verified request into one or more events; `MalformedPayloadError` if unusable."""

    @abc.abstractmethod
    def sign(self, body: bytes, now: float) -> SignedDelivery:
        """Produce a delivery this connector would accept (test kit, `hookgate send-test`)."""

    def sample_body(self, now: float) -> bytes:
        """A realistic sample payload for `hookgate send-test`."""
        event = {"id": f"evt_test_{int(now * 1000)}", "type": "hookgate.test", "created": int(now)}
        return json.dumps(event).encode()


def one_or_many(value: Any) -> Any:
    """A pydantic before-validator for list options: a lone string (or `SecretStr`) becomes a
    one-item list, so `secrets = "s3cret"` and `secrets = ["s3cret"]` mean the same."""
    return [value] if isinstance(value, str | SecretStr) else value


def secret_values(secrets: Sequence[SecretStr]) -> list[bytes]:
    """The secrets' bytes; an empty or blank one fails verification (`VerificationError`)
    rather than key an HMAC anybody can compute."""
    values = [s.get_secret_value().encode() for s in secrets]
    if not values or any(not v.strip() for v in values):
        raise VerificationError("blank_secret", "a configured secret is empty or blank")
    return values


def blank_secrets(model: BaseModel, prefix: str = "") -> list[str]:
    """The names of `model`'s secrets (its `SecretStr` fields, in lists and nested models
    too) that are empty or only whitespace."""
    found: list[str] = []
    for name in type(model).model_fields:
        value: Any = getattr(model, name, None)
        many = isinstance(value, list | tuple)
        for i, item in enumerate(value if many else [value]):
            label = f"{prefix}{name}[{i}]" if many else f"{prefix}{name}"
            if isinstance(item, SecretStr) and not item.get_secret_value().strip():
                found.append(label)
            elif isinstance(item, BaseModel):
                found.extend(blank_secrets(item, f"{label}."))
    return found


def constant_time_equals(a: bytes | str, b: bytes | str) -> bool:
    """Compare in constant time; str values are compared as UTF-8 bytes."""
    a_b = a.encode() if isinstance(a, str) else a
    b_b = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_b, b_b)


def sha256_of_parts(*parts: bytes | str) -> str:
    """The hex SHA-256 of `parts` (str as UTF-8), each followed by a NUL byte so that
    ("ab", "c") and ("a", "bc") differ: a dedup key where the provider sends no id."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\x00")
    return h.hexdigest()


#: Every digit byte becomes "1", every other byte "0": a run of `_LONG_NUMBER` in the result
#: is a number orjson might not read exactly.
_DIGITS = bytes(0x31 if 0x30 <= i <= 0x39 else 0x30 for i in range(256))
_LONG_NUMBER = b"1" * 19


def parse_json(body: bytes) -> Any:
    """Parse a JSON body or raise `MalformedPayloadError`.

    The answer is always the standard library's. orjson gives it several times faster, except
    where the two differ: orjson reads integers beyond 64 bits as floats (so a body with a
    run of 19 digits or more skips it), and what orjson refuses (`NaN`, lone surrogates,
    UTF-16, deep nesting, invalid JSON) goes to the standard library, which decides.

    A number no float can hold (`1e400`) and the tokens `NaN`, `Infinity` and `-Infinity`
    (not JSON, though the standard library reads them) are refused (`non_finite_number`):
    stored, they would become `null` or invalid JSON, a value the provider did not send.
    """
    if _LONG_NUMBER not in body.translate(_DIGITS):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(body, parse_float=_finite_float, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: absurd nesting
        raise MalformedPayloadError("invalid_json", str(exc)) from None


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MalformedPayloadError("non_finite_number", f"{text[:40]} is beyond the range of a number")
    return value


def _no_constant(text: str) -> float:
    raise MalformedPayloadError("non_finite_number", f"{text} is not a JSON number")


def utc_from_timestamp(value: Any) -> datetime | None:
    """Interpret a unix timestamp (s or ms) or ISO-8601 string; None when not a time."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            seconds = value / 1000 if value > 10**11 else value
            return datetime.fromtimestamp(seconds, UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None
