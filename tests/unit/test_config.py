"""Configuration: the TOML file, environment overrides, secret references and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.freshdesk import FreshdeskConnector, FreshdeskOptions
from connectors.stripe import StripeConnector, StripeOptions
from gateway.app import build_sinks, build_source
from gateway.config import Settings, load_settings, parse_settings
from gateway.errors import ConfigError
from gateway.sinks.files import JsonlOptions, JsonlSink

CONFIG = """
[store]
url = "sqlite:///./hookgate.db"

[sources.stripe]
connector = "stripe"
secrets = ["env:STRIPE_WEBHOOK_SECRET"]
tolerance_seconds = 300

[sources.support]
connector = "freshdesk"
username = "hookgate"
password = "env:FRESHDESK_WEBHOOK_PASSWORD"

[sinks.archive]
type = "jsonl"
path = "./events.jsonl"
"""

ENV = {
    "STRIPE_WEBHOOK_SECRET": "whsec_from_env_6bQ2",
    "FRESHDESK_WEBHOOK_PASSWORD": "fd-password-from-env",
}


def write(tmp_path: Path, text: str = CONFIG, name: str = "hookgate.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def stripe_options(settings: Settings, source: str = "stripe") -> StripeOptions:
    connector = build_source(settings.sources[source]).connector
    assert isinstance(connector, StripeConnector)
    return connector.options


def secrets(settings: Settings, source: str = "stripe") -> list[str]:
    return [s.get_secret_value() for s in stripe_options(settings, source).secrets]


def config_error(raw: dict[str, Any], env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        parse_settings(raw, env=env if env is not None else {})
    return exc.value


def stripe_source(**keys: Any) -> dict[str, Any]:
    return {"sources": {"stripe": {"connector": "stripe", "secrets": ["whsec_literal"], **keys}}}


# -- the file -----------------------------------------------------------------------------


def test_the_documented_shape_loads(tmp_path: Path) -> None:
    path = write(tmp_path)
    settings = load_settings(path, env=ENV)

    assert settings.path == path
    assert settings.store.url == f"sqlite:///{tmp_path / 'hookgate.db'}"  # next to the file
    assert settings.server.port == 8080

    stripe = settings.sources["stripe"]
    assert (stripe.name, stripe.connector_name, stripe.event_source) == (
        "stripe",
        "stripe",
        "hookgate.stripe",
    )
    assert (stripe.detail_format, stripe.sinks, stripe.max_body_bytes) == (
        "envelope",
        ("archive",),
        1_048_576,
    )
    assert secrets(settings) == ["whsec_from_env_6bQ2"]
    assert stripe_options(settings).tolerance_seconds == 300

    support = build_source(settings.sources["support"]).connector
    assert isinstance(support, FreshdeskConnector)
    assert isinstance(support.options, FreshdeskOptions)
    assert [s.get_secret_value() for s in support.options.username] == ["hookgate"]
    assert [s.get_secret_value() for s in support.options.password] == ["fd-password-from-env"]

    archive = settings.sinks["archive"]
    assert archive.cls is JsonlSink
    assert isinstance(archive.options, JsonlOptions)
    assert archive.options.path == str(tmp_path / "events.jsonl")
    sink = build_sinks(settings)["archive"]
    assert (sink.name, sink.options) == ("archive", archive.options)


def test_hookgate_config_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path)
    settings = load_settings(env={**ENV, "HOOKGATE_CONFIG": str(path)})
    assert settings.path == path
    assert set(settings.sources) == {"stripe", "support"}


def test_an_explicit_path_wins_over_hookgate_config(tmp_path: Path) -> None:
    path = write(tmp_path)
    settings = load_settings(path, env={**ENV, "HOOKGATE_CONFIG": str(tmp_path / "elsewhere.toml")})
    assert settings.path == path


def test_no_file_means_defaults_and_no_sources() -> None:
    settings = load_settings(env={})
    assert settings.path is None
    assert settings.sources == {}
    assert settings.sinks == {}
    assert settings.store.url == "sqlite:///./hookgate.db"


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml", env={})


def test_invalid_toml_is_a_config_error_with_its_position(tmp_path: Path) -> None:
    path = write(tmp_path, "[sources.stripe]\nconnector = stripe\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, env={})
    assert "invalid TOML" in str(exc.value)
    assert str(path) in str(exc.value)
    assert "line 2" in str(exc.value)


# -- environment overrides ----------------------------------------------------------------


def test_environment_overrides_values_in_the_file(tmp_path: Path) -> None:
    env = {
        **ENV,
        "HOOKGATE_SERVER__PORT": "9000",
        "HOOKGATE_SOURCES__STRIPE__TOLERANCE_SECONDS": "600",
        "HOOKGATE_STORE__URL": "sqlite:////var/lib/hookgate/hookgate.db",
    }
    settings = load_settings(write(tmp_path), env=env)
    assert settings.server.port == 9000
    assert stripe_options(settings).tolerance_seconds == 600
    assert settings.store.url == "sqlite:////var/lib/hookgate/hookgate.db"


def test_environment_values_are_json_when_they_parse(tmp_path: Path) -> None:
    env = {
        **ENV,
        "NEW_SECRET": "whsec_new",
        "HOOKGATE_SOURCES__STRIPE__SECRETS": '["env:NEW_SECRET", "whsec_old_literal"]',
        "HOOKGATE_SOURCES__STRIPE__SINKS": "[]",
        "HOOKGATE_DISPATCHER__BASE_DELAY_SECONDS": "0.5",
    }
    settings = load_settings(write(tmp_path), env=env)
    assert secrets(settings) == ["whsec_new", "whsec_old_literal"]
    assert settings.sources["stripe"].sinks == ()
    assert settings.dispatcher.base_delay_seconds == 0.5


def test_environment_names_match_case_and_dashes_loosely(tmp_path: Path) -> None:
    text = '[sources.stripe-live]\nconnector = "stripe"\nsecrets = ["whsec_x"]\n'
    env = {"HOOKGATE_Sources__STRIPE_LIVE__tolerance_seconds": "42"}
    settings = load_settings(write(tmp_path, text), env=env)
    assert stripe_options(settings, "stripe-live").tolerance_seconds == 42


def test_environment_can_define_a_whole_source() -> None:
    env = {
        "HOOKGATE_SOURCES__STRIPE__CONNECTOR": "stripe",
        "HOOKGATE_SOURCES__STRIPE__SECRETS": '["whsec_env_only"]',
        "HOOKGATE_UNRELATED": "ignored: no section",
        "HOOKGATE_LAMBDA__DEDUP_TABLE": "read by the Lambda handler, not a setting",
    }
    settings = load_settings(env=env)
    assert secrets(settings) == ["whsec_env_only"]


def env_error(env: dict[str, str], path: Path | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        load_settings(path, env=env)
    return exc.value


def test_an_invalid_override_names_the_variable_and_its_value(tmp_path: Path) -> None:
    error = env_error({**ENV, "HOOKGATE_SERVER__PORT": "abc"}, write(tmp_path))
    assert (error.key, error.variable) == ("server.port", "HOOKGATE_SERVER__PORT=abc")
    assert str(error).startswith("HOOKGATE_SERVER__PORT=abc: server.port: Input should be a valid integer")

    error = env_error({**ENV, "HOOKGATE_SOURCES__STRIPE__TOLERANCE_SECONDS": "soon"}, write(tmp_path))
    assert str(error).startswith(
        "HOOKGATE_SOURCES__STRIPE__TOLERANCE_SECONDS=soon: sources.stripe.tolerance_seconds: "
    )


def test_the_same_error_from_the_file_names_no_variable(tmp_path: Path) -> None:
    error = env_error(
        ENV, write(tmp_path, CONFIG.replace("tolerance_seconds = 300", 'tolerance_seconds = "soon"'))
    )
    assert error.variable == ""
    assert str(error).startswith("sources.stripe.tolerance_seconds: ")


def test_an_override_of_an_unknown_key_names_the_variable_but_not_its_value(tmp_path: Path) -> None:
    error = env_error({**ENV, "HOOKGATE_SERVER__PROT": "9000"}, write(tmp_path))
    assert str(error).startswith("HOOKGATE_SERVER__PROT: server.prot: unknown key (allowed: ")
    # A misspelt secret's name: the value may be the secret.
    error = env_error({**ENV, "HOOKGATE_SOURCES__STRIPE__SECRET": "whsec_typo_4f1"}, write(tmp_path))
    assert str(error).startswith("HOOKGATE_SOURCES__STRIPE__SECRET: sources.stripe.secret: unknown key")
    assert "whsec_typo_4f1" not in str(error)
    error = env_error({"HOOKGATE_SERVRE__PORT": "9000"})
    assert str(error).startswith("HOOKGATE_SERVRE__PORT: servre: unknown section")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        # a secret field: named, never its value (here a reference, or the secret itself)
        ({"HOOKGATE_SOURCES__STRIPE__SECRETS": '["env:UNSET_VAR"]'}, "HOOKGATE_SOURCES__STRIPE__SECRETS"),
        ({"HOOKGATE_SOURCES__STRIPE__SECRETS": "[42]"}, "HOOKGATE_SOURCES__STRIPE__SECRETS"),
        ({"HOOKGATE_SOURCES__SUPPORT__PASSWORD": "[1, 2]"}, "HOOKGATE_SOURCES__SUPPORT__PASSWORD"),
        # a table, which may hold credentials (headers, auth): named, not shown
        ({"HOOKGATE_SINKS__ARCHIVE": '{"type": "jsonl", "fsync": "sometimes"}'}, "HOOKGATE_SINKS__ARCHIVE"),
        # a URL: shown without its password
        (
            {"HOOKGATE_STORE__URL": "mysql://app:hunter2@db/hookgate"},
            "HOOKGATE_STORE__URL=mysql://app:***@db/hookgate",
        ),
    ],
)
def test_a_value_that_may_be_secret_is_not_shown(tmp_path: Path, env: dict[str, str], variable: str) -> None:
    error = env_error({**ENV, **env}, write(tmp_path))
    assert error.variable == variable
    assert str(error).startswith(f"{variable}: ")
    for secret in ("UNSET_VAR", "42", "hunter2", "sometimes"):
        assert secret not in error.variable


def test_a_source_an_override_created_names_it_for_what_the_source_lacks() -> None:
    error = env_error({"HOOKGATE_SOURCES__NEW__TOLERANCE_SECONDS": "5"})
    # Without a connector, no key of the source is known: its value is not shown.
    assert str(error) == "HOOKGATE_SOURCES__NEW__TOLERANCE_SECONDS: sources.new.connector: Field required"


def test_every_problem_listed_names_its_variable() -> None:
    env = {
        "HOOKGATE_SOURCES__STRIPE__CONNECTOR": "stripe",
        "HOOKGATE_SOURCES__STRIPE__SECRETS": '["whsec_x"]',
        "HOOKGATE_SOURCES__STRIPE__TOLERANCE_SECONDS": "soon",
        "HOOKGATE_SOURCES__STRIPE__DETAIL": "payload",
    }
    first, second = str(env_error(env)).split("\n")
    assert first.startswith(
        "HOOKGATE_SOURCES__STRIPE__TOLERANCE_SECONDS=soon: sources.stripe.tolerance_seconds: "
    )
    assert second.startswith("HOOKGATE_SOURCES__STRIPE__DETAIL: sources.stripe.detail: unknown key")


def test_lambda_mode_variables_are_named_too() -> None:
    from gateway.aws_lambda import lambda_settings  # noqa: PLC0415 - needs the lambda extra

    with pytest.raises(ConfigError) as exc:
        lambda_settings({"HOOKGATE_LAMBDA__BASE_PATH": "prod"})
    assert str(exc.value).startswith("HOOKGATE_LAMBDA__BASE_PATH=prod: lambda.base_path: ")
    with pytest.raises(ConfigError) as exc:
        lambda_settings({"HOOKGATE_LAMBDA__DEDUP_TABEL": "dedup"})
    assert str(exc.value).startswith("HOOKGATE_LAMBDA__DEDUP_TABEL: lambda.dedup_tabel: unknown key")


# -- secrets ------------------------------------------------------------------------------


def test_secrets_may_be_literal_env_or_file_relative_to_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "etc"
    (config_dir / "secrets").mkdir(parents=True)
    (config_dir / "secrets" / "stripe").write_text("whsec_from_file\n", encoding="utf-8")
    text = """
[sources.stripe]
connector = "stripe"
secrets = ["whsec_literal", "env:S", "file:secrets/stripe"]
"""
    path = write(config_dir, text)
    monkeypatch.chdir(tmp_path)  # not the config's directory: the file is found anyway
    settings = load_settings(path, env={"S": "whsec_from_env"})
    assert secrets(settings) == ["whsec_literal", "whsec_from_env", "whsec_from_file"]


def test_an_absolute_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "stripe.secret"
    secret.write_text("whsec_abs\r\n", encoding="utf-8")
    settings = parse_settings(stripe_source(secrets=[f"file:{secret}"]), env={})
    assert secrets(settings) == ["whsec_abs"]


def test_a_missing_environment_variable_names_the_key_and_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(write(tmp_path), env={"FRESHDESK_WEBHOOK_PASSWORD": "x"})
    assert exc.value.key == "sources.stripe.secrets[0]"
    assert exc.value.message == "environment variable STRIPE_WEBHOOK_SECRET is not set"

    with pytest.raises(ConfigError) as exc:
        load_settings(write(tmp_path), env={"STRIPE_WEBHOOK_SECRET": "x", "FRESHDESK_WEBHOOK_PASSWORD": ""})
    assert exc.value.key == "sources.support.password"
    assert exc.value.message == (
        "the secret read from env:FRESHDESK_WEBHOOK_PASSWORD is empty or blank: anybody could sign with it"
    )


def test_an_unreadable_secret_file_names_the_key_and_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[sources.stripe]\nconnector = "stripe"\nsecrets = ["file:missing.secret"]\n')
    with pytest.raises(ConfigError) as exc:
        load_settings(path, env={})
    assert exc.value.key == "sources.stripe.secrets[0]"
    assert exc.value.message.startswith(f"cannot read secret file {tmp_path / 'missing.secret'}")
    assert "No such file" in exc.value.message


def test_secret_references_are_resolved_only_in_secret_fields() -> None:
    settings = parse_settings(stripe_source(event_source="env:NOT_A_SECRET"), env={})
    assert settings.sources["stripe"].event_source == "env:NOT_A_SECRET"


# -- errors point at the key --------------------------------------------------------------


def test_unknown_section() -> None:
    error = config_error({"servers": {"port": 1}})
    assert error.key == "servers"
    assert "unknown section" in error.message
    assert "server" in error.message


def test_unknown_key_in_a_known_section() -> None:
    error = config_error({"server": {"prot": 9000}})
    assert error.key == "server.prot"
    assert "unknown key" in error.message
    assert "port" in error.message


def test_unknown_key_in_a_source_lists_the_allowed_keys() -> None:
    error = config_error(stripe_source(tolerance=600))
    assert error.key == "sources.stripe.tolerance"
    assert error.message.startswith("unknown key (allowed: ")
    # The connector's own keys and the keys every source has are all allowed there.
    for allowed in ("secrets", "tolerance_seconds", "connector", "event_source", "detail_format", "sinks"):
        assert allowed in error.message


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"server": {"port": "eighty"}}, "server.port"),
        ({"server": {"port": 70_000}}, "server.port"),
        ({"dispatcher": {"max_attempts": 0}}, "dispatcher.max_attempts"),
        (stripe_source(tolerance_seconds="soon"), "sources.stripe.tolerance_seconds"),
        (stripe_source(detail_format="xml"), "sources.stripe.detail_format"),
        (stripe_source(secrets=[]), "sources.stripe.secrets"),
        ({"sinks": {"archive": {"type": "jsonl"}}}, "sinks.archive.path"),
        ({"sources": {"stripe": "stripe"}}, "sources.stripe"),
        ({"sources": []}, "sources"),
    ],
)
def test_a_wrong_type_names_the_key(raw: dict[str, Any], key: str) -> None:
    assert config_error(raw).key == key


def test_a_wrong_type_says_what_was_expected() -> None:
    error = config_error(stripe_source(tolerance_seconds="soon"))
    assert "valid integer" in error.message
    assert str(error) == f"sources.stripe.tolerance_seconds: {error.message}"


def test_unknown_connector() -> None:
    error = config_error({"sources": {"acme": {"connector": "acme"}}})
    assert error.key == "sources.acme.connector"
    assert "not installed" in error.message
    assert "stripe" in error.message  # the installed connectors are listed


def test_missing_connector() -> None:
    assert config_error({"sources": {"acme": {}}}).key == "sources.acme.connector"


def test_unknown_sink_type() -> None:
    error = config_error({"sinks": {"bus": {"type": "kafka"}}})
    assert error.key == "sinks.bus.type"
    assert "unknown sink type 'kafka'" in error.message
    assert "jsonl" in error.message


def test_a_source_naming_an_undefined_sink() -> None:
    raw = {**stripe_source(sinks=["archive", "bus"]), "sinks": {"archive": {"type": "stdout"}}}
    error = config_error(raw)
    assert error.key == "sources.stripe.sinks"
    assert "no sink named 'bus'" in error.message
    assert "archive" in error.message


def test_event_source_must_not_claim_the_aws_namespace() -> None:
    error = config_error(stripe_source(event_source="aws.partner.stripe"))
    assert error.key == "sources.stripe.event_source"
    assert "aws." in error.message


@pytest.mark.parametrize("name", ["Stripe", "stripe live", "-stripe", "stripe/live", "a" * 65])
def test_source_names_must_be_url_safe(name: str) -> None:
    error = config_error({"sources": {name: {"connector": "stripe", "secrets": ["x"]}}})
    assert error.key == f"sources.{name}"
    assert "lowercase" in error.message


def test_connector_options_are_validated_by_the_connector() -> None:
    error = config_error({"sources": {"support": {"connector": "freshdesk", "username": "u"}}})
    assert error.key == "sources.support"
    assert "password" in error.message


def test_routing_defaults_and_explicit_choices() -> None:
    raw = {
        "server": {"max_body_bytes": 2048, "public_url": "https://hooks.example.com/"},
        "sources": {
            "stripe": {"connector": "stripe", "secrets": ["x"]},
            "raw": {
                "connector": "stripe",
                "secrets": ["x"],
                "event_source": "com.example.payments",
                "detail_format": "payload",
                "sinks": ["bus"],
                "max_body_bytes": 512,
                "public_url": "https://other.example.com",
            },
        },
        "sinks": {"archive": {"type": "stdout"}, "bus": {"type": "memory"}},
    }
    settings = parse_settings(raw, env={})
    default, raw_source = settings.sources["stripe"], settings.sources["raw"]
    assert default.sinks == ("archive", "bus")
    assert (default.max_body_bytes, default.public_url) == (2048, "https://hooks.example.com")
    assert raw_source.sinks == ("bus",)
    assert (raw_source.event_source, raw_source.detail_format) == ("com.example.payments", "payload")
    assert (raw_source.max_body_bytes, raw_source.public_url) == (512, "https://other.example.com")


# -- store --------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_postgresql_store_takes_a_schema_and_pool_sizes(scheme: str) -> None:
    url = f"{scheme}://hookgate:s3cret@db.internal:5432/hookgate?sslmode=require"
    raw = {"store": {"url": url, "schema_name": "hooks", "pool_min_size": 1, "pool_max_size": 32}}
    store = parse_settings(raw, env={}).store
    assert store.is_postgres
    assert (store.url, store.schema_name, store.pool_min_size, store.pool_max_size) == (url, "hooks", 1, 32)
    assert store.display_url == f"{scheme}://hookgate:***@db.internal:5432/hookgate?sslmode=require"
    assert not parse_settings({}, env={}).store.is_postgres


@pytest.mark.parametrize(
    ("store", "key", "message"),
    [
        ({"url": "mysql://db/hookgate"}, "store.url", "postgresql://"),
        ({"url": "postgresql://db/x", "schema_name": "Bad-Name"}, "store.schema_name", "pattern"),
        ({"url": "postgresql://db/x", "pool_min_size": 5, "pool_max_size": 2}, "store", "pool_min_size"),
    ],
)
def test_invalid_store_settings_name_the_key(store: dict[str, Any], key: str, message: str) -> None:
    error = config_error({"store": store})
    assert error.key == key
    assert message in error.message


def test_a_separate_metrics_port_is_optional_and_not_the_webhook_port() -> None:
    assert parse_settings({}, env={}).server.metrics_port is None
    server = parse_settings({"server": {"port": 8080, "metrics_port": 9090}}, env={}).server
    assert (server.port, server.metrics_port) == (8080, 9090)
    error = config_error({"server": {"port": 8080, "metrics_port": 8080}})
    assert error.key == "server"
    assert "metrics_port must differ from port" in error.message


def test_a_config_file_that_is_not_utf8_is_one_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "hookgate.toml"
    config.write_bytes(b'[server]\nhost = "caf\xe9"\n')
    with pytest.raises(ConfigError) as exc:
        load_settings(config, env={})
    assert exc.value.message == f"{config}: not UTF-8 text (byte 20): save it as UTF-8"


def test_a_malformed_json_override_is_an_error_not_a_literal(tmp_path: Path) -> None:
    env = {"HOOKGATE_SOURCES__STRIPE__SECRETS": '["whsec_X"', "STRIPE_WEBHOOK_SECRET": "x"}
    with pytest.raises(ConfigError) as exc:
        load_settings(write(tmp_path), env={**env, "FRESHDESK_WEBHOOK_PASSWORD": "p"})
    assert exc.value.key == "sources.stripe.secrets"
    assert exc.value.variable == "HOOKGATE_SOURCES__STRIPE__SECRETS"
    assert "is JSON, and this is not" in exc.value.message
    assert "whsec_X" not in str(exc.value)
