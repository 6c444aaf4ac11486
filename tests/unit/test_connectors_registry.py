"""The entry-point registry: built-ins are found like plugins, bad plugins are named."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint

import pytest

import connectors
from connectors import _registry
from connectors._base import Connector, ProviderEvent, SignedDelivery, WebhookRequest

BUILT_INS = ["freshdesk", "generic-hmac", "github", "standard-webhooks", "stripe"]


def test_built_ins_are_available() -> None:
    assert set(BUILT_INS) <= set(connectors.available())
    for name in BUILT_INS:
        cls = connectors.load(name)
        assert cls.name == name
        assert cls.summary
        assert cls.__module__.startswith("connectors.")


class HalfConnector(Connector):
    """Forgets to implement sign()."""

    name = "half"

    def verify(self, request: WebhookRequest, now: float) -> None:
        return None

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        return []


class BadOptionsConnector(Connector):
    name = "bad-options"
    Options = dict  # type: ignore[assignment]

    def verify(self, request: WebhookRequest, now: float) -> None:
        return None

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        return []

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        return SignedDelivery(body)


class FutureConnector(Connector):
    name = "future"
    api_version = 2

    def verify(self, request: WebhookRequest, now: float) -> None:
        return None

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        return []

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        return SignedDelivery(body)


FAKES = {
    "missing-module": ("hookgate_no_such_module:Connector", "cannot import"),
    "missing-attr": ("connectors.stripe:NoSuchConnector", "cannot import"),
    "not-a-class": ("connectors.stripe:__all__", "not a subclass"),
    "options-class": ("connectors.stripe:StripeOptions", "not a subclass"),
    "renamed": ("connectors.stripe:StripeConnector", "declares name 'stripe'"),
    "half": (f"{__name__}:HalfConnector", "does not implement sign"),
    "bad-options": (f"{__name__}:BadOptionsConnector", "Options must subclass"),
    "future": (f"{__name__}:FutureConnector", "written for connector API 2; this hookgate provides API 1"),
}


@pytest.fixture
def fake_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    eps = {name: EntryPoint(name, value, _registry.ENTRY_POINT_GROUP) for name, (value, _) in FAKES.items()}
    monkeypatch.setitem(_registry.CONNECTORS.__dict__, "_entry_points", eps)
    _registry.CONNECTORS.load.cache_clear()
    yield
    _registry.refresh()


@pytest.mark.parametrize("name", sorted(FAKES))
def test_bad_plugins_are_named(fake_plugins: None, name: str) -> None:
    with pytest.raises(connectors.PluginError) as exc:
        connectors.load(name)
    assert exc.value.plugin == name
    assert f"connector plugin {name!r}" in str(exc.value)
    assert FAKES[name][1] in str(exc.value)


def test_unknown_connector_lists_the_installed_ones() -> None:
    with pytest.raises(connectors.PluginError, match="not installed") as exc:
        connectors.load("no-such-connector")
    assert exc.value.plugin == "no-such-connector"
    assert "stripe" in str(exc.value)


def test_the_options_model_comes_from_the_type_argument() -> None:
    from connectors.shopify import ShopifyConnector, ShopifyOptions  # noqa: PLC0415
    from connectors.svix import SvixConnector, SvixOptions  # noqa: PLC0415
    from connectors.toolkit import BodyHmacConnector  # noqa: PLC0415

    assert ShopifyConnector.Options is ShopifyOptions
    assert SvixConnector.Options is SvixOptions  # a generic base: its bound
    assert BodyHmacConnector.Options is connectors.SecretsOptions
    connector = ShopifyConnector.from_config({"secrets": ["s"]})
    assert isinstance(connector.options, ShopifyOptions)
    with pytest.raises(TypeError, match="needs ShopifyOptions"):
        ShopifyConnector(connectors.SecretsOptions(secrets=["s"]))  # type: ignore[arg-type]


def test_an_explicit_options_model_still_counts() -> None:
    """Plugins written before the type argument set `Options` themselves."""

    class Legacy(Connector):
        name = "legacy"
        Options = connectors.SecretsOptions

        def verify(self, request: WebhookRequest, now: float) -> None:
            return None

        def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
            return []

        def sign(self, body: bytes, now: float) -> SignedDelivery:
            return SignedDelivery(body)

    assert Legacy.from_config({"secrets": "s"}).options == connectors.SecretsOptions(secrets=["s"])
