"""hookgate: the pipeline from an HTTP webhook to a bus event.

HTTP edge (gateway.http) → connector (connectors.*) → store (gateway.store)
→ dispatcher (gateway.dispatcher) → sinks (gateway.sinks)
"""

from gateway.app import Gateway, create_app
from gateway.config import Settings, load_settings, parse_settings
from gateway.errors import ConfigError, HookgateError, SinkError, StoreError
from gateway.events import Event
from gateway.sinks import Delivered, MemorySink, Outcome, Permanent, Retry, Sink

__all__ = [
    "ConfigError",
    "Delivered",
    "Event",
    "Gateway",
    "HookgateError",
    "MemorySink",
    "Outcome",
    "Permanent",
    "Retry",
    "Settings",
    "Sink",
    "SinkError",
    "StoreError",
    "create_app",
    "load_settings",
    "parse_settings",
]
