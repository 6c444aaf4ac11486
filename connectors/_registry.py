"""Connector discovery through the `hookgate.connectors` entry-point group.

Built-in connectors are registered in hookgate's own `pyproject.toml` exactly like a
third-party plugin's; nothing is special-cased here.
"""

from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points

from connectors._base import API_VERSION, Connector, ConnectorOptions

__all__ = ["ENTRY_POINT_GROUP", "PluginError", "available", "load", "refresh"]

ENTRY_POINT_GROUP = "hookgate.connectors"


class PluginError(Exception):
    """A connector plugin could not be loaded or is not a valid connector."""

    def __init__(self, plugin: str, message: str) -> None:
        super().__init__(f"connector plugin {plugin!r}: {message}")
        self.plugin = plugin


def _validate(ep: EntryPoint) -> type[Connector]:
    try:
        obj = ep.load()
    except Exception as exc:
        raise PluginError(ep.name, f"cannot import {ep.value!r}: {exc!r}") from exc
    if not (isinstance(obj, type) and issubclass(obj, Connector)):
        raise PluginError(ep.name, f"{ep.value!r} is not a subclass of connectors.Connector")
    if getattr(obj, "name", None) != ep.name:
        raise PluginError(ep.name, f"class {obj.__name__} declares name {getattr(obj, 'name', None)!r}")
    if not (isinstance(obj.Options, type) and issubclass(obj.Options, ConnectorOptions)):
        raise PluginError(ep.name, "Options must subclass connectors.ConnectorOptions")
    written_for = getattr(obj, "api_version", None)
    if written_for != API_VERSION:
        raise PluginError(
            ep.name,
            f"written for connector API {written_for!r}; this hookgate provides API {API_VERSION}: "
            "install a version of the plugin made for it (or upgrade hookgate)",
        )
    if getattr(obj, "__abstractmethods__", None):
        missing = ", ".join(sorted(obj.__abstractmethods__))
        raise PluginError(ep.name, f"does not implement {missing}")
    return obj


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available() -> list[str]:
    """Names of every installed connector, sorted."""
    return sorted(_entry_points())


@functools.cache
def load(name: str) -> type[Connector]:
    """Load and validate the connector class registered under `name`."""
    ep = _entry_points().get(name)
    if ep is None:
        known = ", ".join(available()) or "none"
        raise PluginError(name, f"not installed (installed connectors: {known})")
    return _validate(ep)


def refresh() -> None:
    """Forget cached entry points (after installing a plugin in the same process)."""
    _entry_points.cache_clear()
    load.cache_clear()
