"""An empty or blank secret is refused, however it is written: at load time naming the key,
by every connector's options, and by `secret_values`, so no HMAC is keyed by a secret that
anybody can compute."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

import connectors
from connectors import SecretsOptions, VerificationError, WebhookRequest, secret_values
from gateway.config import parse_settings
from gateway.errors import ConfigError
from tests.unit._fakes import FakeClock
from tests.unit.test_secret_refresh import FakeSecrets

#: The HMAC connectors the issue found accepting an empty key.
HMAC_CONNECTORS = (
    "github",
    "stripe",
    "shopify",
    "slack",
    "paddle",
    "linear",
    "bitbucket",
    "sentry",
    "typeform",
    "calendly",
    "zendesk",
    "intercom",
    "pagerduty",
)


def stripe(secret: str) -> dict[str, Any]:
    return {"sources": {"stripe": {"connector": "stripe", "secrets": ["whsec_good", secret]}}}


@pytest.mark.parametrize("blank", ["", " ", "\t\n", "\n\n"])
def test_a_blank_literal_is_refused_naming_the_key(blank: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(stripe(blank), env={})
    assert caught.value.key == "sources.stripe.secrets[1]"
    assert caught.value.message == "the secret is empty or blank: anybody could sign with it"


@pytest.mark.parametrize("text", ["", "\n", "\r\n\r\n", "   \n"])
def test_a_blank_secret_file_is_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "secret").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        parse_settings(stripe("file:secret"), env={}, base_dir=tmp_path)
    assert caught.value.key == "sources.stripe.secrets[1]"
    assert "file:secret is empty or blank" in caught.value.message


@pytest.mark.parametrize("value", ["", "  "])
def test_a_blank_environment_variable_is_refused_and_not_called_unset(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(stripe("env:HOOK"), env={"HOOK": value})
    assert caught.value.key == "sources.stripe.secrets[1]"
    assert caught.value.message == (
        "the secret read from env:HOOK is empty or blank: anybody could sign with it"
    )


@pytest.mark.parametrize(
    ("reference", "stored"),
    [
        ("secretsmanager:hooks", {"secretsmanager:hooks": " "}),
        ("secretsmanager:hooks#stripe", {"secretsmanager:hooks": json.dumps({"stripe": ""})}),
        ("ssm:/hooks/stripe", {"ssm:/hooks/stripe": "\n"}),
    ],
)
def test_a_blank_aws_secret_is_refused(reference: str, stored: dict[str, str]) -> None:
    aws = FakeSecrets(FakeClock(time.time()), stored)
    with pytest.raises(ConfigError) as caught:
        parse_settings(stripe(reference), env={}, secrets=aws)
    assert caught.value.key == "sources.stripe.secrets[1]"
    assert f"{reference} is empty or blank" in caught.value.message


def test_a_blank_secret_of_a_sink_is_refused_too() -> None:
    auth = {"type": "api_key", "header": "x-key", "value": " "}
    raw = {"sinks": {"out": {"type": "http", "url": "https://example.com/in", "auth": auth}}}
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, env={})
    assert caught.value.key == "sinks.out.auth.value"


@pytest.mark.parametrize("name", HMAC_CONNECTORS)
@pytest.mark.parametrize("blank", ["", "  "])
def test_no_connector_can_be_configured_with_a_blank_secret(name: str, blank: str) -> None:
    cls = connectors.load(name)
    with pytest.raises(ValidationError, match="empty or blank secret"):
        cls.from_config({"secrets": ["good-secret", blank]})


@pytest.mark.parametrize("name", HMAC_CONNECTORS)
def test_options_built_without_validation_are_refused_by_the_connector(name: str) -> None:
    cls = connectors.load(name)
    options = cls.Options.model_construct(**dict(cls.from_config({"secrets": ["good-secret"]}).options))
    object.__setattr__(options, "secrets", [SecretStr("")])
    with pytest.raises(ValueError, match=r"secrets\[0\]: an empty or blank secret"):
        cls(options)


def test_a_request_signed_with_an_empty_key_is_not_verified() -> None:
    """Even a connector whose options slipped past every check fails closed."""
    cls = connectors.load("stripe")
    connector = cls.from_config({"secrets": ["whsec_good"]})
    now = time.time()
    body = b'{"id": "evt_1", "type": "x"}'
    signature = hmac.new(b"", f"{int(now)}.".encode() + body, hashlib.sha256).hexdigest()
    request = WebhookRequest.build(body, {"Stripe-Signature": f"t={int(now)},v1={signature}"})
    object.__setattr__(connector.options, "secrets", [SecretStr("")])
    with pytest.raises(VerificationError) as caught:
        connector.verify(request, now)
    assert caught.value.cause == "blank_secret"


def test_secret_values_refuses_a_blank_secret() -> None:
    assert secret_values([SecretStr("k")]) == [b"k"]
    for secrets in ([], [SecretStr("k"), SecretStr(" ")]):
        with pytest.raises(VerificationError):
            secret_values(secrets)


def test_plugin_options_inherit_the_guard() -> None:
    class PluginOptions(SecretsOptions):
        token: SecretStr | None = None

    with pytest.raises(ValidationError, match="token"):
        PluginOptions.model_validate({"secrets": ["s"], "token": "\t"})
    assert PluginOptions.model_validate({"secrets": ["s"]}).token is None
