"""Provider knowledge: how each SaaS provider signs, handshakes and shapes its webhooks.

Everything here is sans-I/O. A connector is registered in the `hookgate.connectors`
entry-point group; see `docs/writing-a-connector.md`.
"""

from connectors._base import (
    API_VERSION,
    Connector,
    ConnectorOptions,
    ConnectorResponse,
    Headers,
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    constant_time_equals,
    parse_json,
    secret_values,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors._enrich import Enricher, EnrichmentError
from connectors._registry import (
    CONNECTORS,
    ENTRY_POINT_GROUP,
    PluginError,
    PluginRegistry,
    available,
    load,
    refresh,
)
from connectors.toolkit import MAX_TYPE_LENGTH

__all__ = [
    "API_VERSION",
    "CONNECTORS",
    "ENTRY_POINT_GROUP",
    "MAX_TYPE_LENGTH",
    "Connector",
    "ConnectorOptions",
    "ConnectorResponse",
    "Enricher",
    "EnrichmentError",
    "Headers",
    "MalformedPayloadError",
    "PluginError",
    "PluginRegistry",
    "ProviderEvent",
    "SecretsOptions",
    "SignedDelivery",
    "VerificationError",
    "WebhookRequest",
    "available",
    "constant_time_equals",
    "load",
    "parse_json",
    "refresh",
    "secret_values",
    "sha256_of_parts",
    "utc_from_timestamp",
]
