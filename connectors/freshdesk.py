"""Freshdesk automation webhooks: authentication only, no signature, no timestamp.

Freshdesk signs nothing. The "Trigger webhook" action can only carry credentials that the
rule author types in, so exactly one of three modes is configured:

* HTTP Basic ("Requires authentication"): `username` + `password`. Freshdesk's API-key
  variant is Basic too (the key as username, `X` as password).
* a custom header: `header_name` + `token`.
* a token in the URL query: `query_param` + `token`.

Credentials are compared in constant time, and in Basic mode both the username and the
password are always compared. Each credential may be a list while it is rotated. Nothing
protects the body's integrity or prevents a replay: serve it over HTTPS only. The dedup
key is a hash of the raw body, so put `{{ticket.id}}` and a timestamp in the template.

Bodies are JSON or `application/x-www-form-urlencoded` (the rule author chooses; XML is
not supported). Form keys in Rails style (`freshdesk_webhook[ticket_id]`) become nested
objects. The event type is read at `type_field` (a dotted path) and falls back to
`default_type` when absent. Freshdesk's `{{triggered_event}}` renders as
`{ticket_action:created}` or `{status:{from:4,to:6}}`; these become `ticket_action:created`
and `status:changed`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from typing_extensions import TypeVar

from connectors import (
    Connector,
    ConnectorOptions,
    ProviderEvent,
    SignedDelivery,
    WebhookRequest,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import (
    FORM,
    MAX_TYPE_LENGTH,
    basic_authorization,
    check_basic_auth,
    check_event_type,
    check_token,
    lookup,
    one_or_many,
    parse_body,
)

__all__ = ["FreshdeskConnector", "FreshdeskOptions", "normalize_triggered_event"]

_WORD = r"\s*([\w .-]+?)\s*"
_SIMPLE_EVENT = re.compile(r"\{" + _WORD + ":" + _WORD + r"\}")
_CHANGE_EVENT = re.compile(r"\{" + _WORD + r":\s*\{\s*from\s*:[^{}]*,\s*to\s*:[^{}]*\}\s*\}")


class FreshdeskOptions(ConnectorOptions):
    username: list[SecretStr] = Field(
        default_factory=list, description="HTTP Basic username (a list while rotating)"
    )
    password: list[SecretStr] = Field(
        default_factory=list, description="HTTP Basic password (a list while rotating)"
    )
    header_name: str | None = Field(None, min_length=1, description="header carrying `token`")
    query_param: str | None = Field(None, min_length=1, description="query parameter carrying `token`")
    token: list[SecretStr] = Field(
        default_factory=list,
        description="static token for header/query mode (a list while rotating)",
    )
    type_field: str = Field(
        "freshdesk_webhook.triggered_event",
        min_length=1,
        description="dotted path of the event type in the body",
    )
    default_type: str = Field(
        "freshdesk.webhook",
        min_length=1,
        max_length=MAX_TYPE_LENGTH,
        description="event type when the body has none at `type_field`",
    )

    @field_validator("username", "password", "token", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return one_or_many(value)

    @field_validator("username", "password", "token")
    @classmethod
    def _not_empty(cls, value: list[SecretStr]) -> list[SecretStr]:
        if any(not s.get_secret_value() for s in value):
            raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _one_mode(self) -> Self:
        modes = [
            name
            for name, on in (
                ("basic", bool(self.username or self.password)),
                ("header", self.header_name is not None),
                ("query", self.query_param is not None),
            )
            if on
        ]
        if len(modes) != 1:
            raise ValueError(
                "configure exactly one authentication mode: username + password (HTTP Basic), "
                "header_name + token, or query_param + token"
                + (f" (found {' and '.join(modes)})" if modes else "")
            )
        if modes == ["basic"]:
            if not (self.username and self.password):
                raise ValueError("HTTP Basic needs both username and password")
            if self.token:
                raise ValueError("token is used with header_name or query_param, not with Basic")
        elif not self.token:
            raise ValueError(f"{modes[0]} mode needs token")
        return self


_FreshdeskOptionsT_co = TypeVar(
    "_FreshdeskOptionsT_co", bound=FreshdeskOptions, default=FreshdeskOptions, covariant=True
)


class FreshdeskConnector(Connector[_FreshdeskOptionsT_co]):
    name = "freshdesk"
    summary = "Freshdesk automation webhooks (HTTP Basic, header or query token; no signature)"

    def secret_headers(self) -> frozenset[str]:
        name = self.options.header_name
        return frozenset() if name is None else frozenset({name.lower()})

    def verify(self, request: WebhookRequest, now: float) -> None:
        opts = self.options
        if opts.header_name is not None:
            value = request.headers.get(opts.header_name)
            check_token(None if value is None else value.strip(), opts.token)
        elif opts.query_param is not None:
            check_token(request.query_value(opts.query_param), opts.token)
        else:
            check_basic_auth(request, opts.username, opts.password)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = parse_body(request)
        raw_type = lookup(payload, self.options.type_field)
        if raw_type is None or raw_type == "":
            event_type = self.options.default_type
        else:
            source = self.options.type_field
            event_type = normalize_triggered_event(check_event_type(raw_type, source))
            event_type = check_event_type(event_type, source)
        ticket = lookup(payload, "freshdesk_webhook")
        occurred = None
        if isinstance(ticket, dict):
            occurred = utc_from_timestamp(ticket.get("ticket_updated_at"))
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=sha256_of_parts(self.name, request.body),
                occurred_at=occurred,
            )
        ]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        opts = self.options
        headers = {"Content-Type": _content_type(body), "User-Agent": "Freshdesk"}
        query: tuple[tuple[str, str], ...] = ()
        if opts.header_name is not None:
            headers[opts.header_name] = opts.token[0].get_secret_value()
        elif opts.query_param is not None:
            query = ((opts.query_param, opts.token[0].get_secret_value()),)
        else:
            headers["Authorization"] = basic_authorization(opts.username, opts.password)
        return SignedDelivery(body=body, headers=headers, query=query)

    def sample_body(self, now: float) -> bytes:
        ticket_id = int(now) % 100_000
        event = {
            "freshdesk_webhook": {
                "triggered_event": "{ticket_action:created}",
                "ticket_id": str(ticket_id),
                "ticket_url": f"https://acme.freshdesk.com/helpdesk/tickets/{ticket_id}",
                "ticket_type": "Incident",
                "ticket_subject": "Printer on fire",
                "ticket_description": "<div>The printer on floor 3 is on fire.</div>",
                "ticket_status": "Open",
                "ticket_priority": "Urgent",
                "requester_name": "Jane Doe",
                "requester_email": "jane.doe@example.com",
            }
        }
        return json.dumps(event, indent=2).encode()


def normalize_triggered_event(value: str) -> str:
    """`{ticket_action:created}` → `ticket_action:created`; `{status:{from:4,to:6}}` →
    `status:changed`; anything else is returned unchanged."""
    value = value.strip()
    if match := _SIMPLE_EVENT.fullmatch(value):
        return f"{match[1]}:{match[2]}"
    if match := _CHANGE_EVENT.fullmatch(value):
        return f"{match[1]}:changed"
    return value


def _content_type(body: bytes) -> str:
    """What Freshdesk sends with `body`: the rule's encoding is JSON or a URL-encoded form."""
    try:
        json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return FORM
    return "application/json"
