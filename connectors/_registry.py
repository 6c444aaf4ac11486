"""Plugin discovery through entry-point groups: connectors here, and the gateway's sinks and
router targets (`gateway.sinks`, `gateway.router.targets`) with the same machinery.

Built-ins are registered in hookgate's own `pyproject.toml` exactly like a third-party
plugin's; nothing is special-cased here. A plugin is imported only when it is first used,
and validated then: an error names the plugin and says what is wrong.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar, cast

from connectors._base import API_VERSION, Connector, ConnectorOptions

__all__ = ["CONNECTORS", "ENTRY_POINT_GROUP", "PluginError", "PluginRegistry", "available", "load", "refresh"]

ENTRY_POINT_GROUP = "hookgate.connectors"

P = TypeVar("P")


class PluginError(Exception):
    """A plugin could not be loaded or is not a valid plugin of its kind."""

    def __init__(self, plugin: str, message: str, *, kind: str = "connector") -> None:
        super().__init__(f"{kind} plugin {plugin!r}: {message}")
        self.plugin = plugin
        self.kind = kind


class PluginRegistry(Generic[P]):
    """The plugins of one entry-point group: classes deriving from `base` whose
    `name_attribute` equals their entry-point name and whose `Options` model derives from
    `options`; `check` adds the kind's own rules (it returns a message, or None when the
    class is fine)."""

    def __init__(
        self,
        group: str,
        base: type[Any],  # abstract classes too, which mypy would not accept as type[P]
        *,
        kind: str,
        options: type[Any],
        name_attribute: str = "name",
        check: Callable[[type[P]], str | None] | None = None,
    ) -> None:
        self.group = group
        self.base = base
        self.kind = kind
        self.options = options
        self.name_attribute = name_attribute
        self.check = check
        self.load = functools.cache(self._load)

    @functools.cached_property
    def _entry_points(self) -> dict[str, EntryPoint]:
        return {ep.name: ep for ep in entry_points(group=self.group)}

    def available(self) -> list[str]:
        """The names of every installed plugin of this kind, sorted."""
        return sorted(self._entry_points)

    def _load(self, name: str) -> type[P]:
        ep = self._entry_points.get(name)
        if ep is None:
            known = ", ".join(self.available()) or "none"
            raise PluginError(name, f"not installed (installed {self.kind}s: {known})", kind=self.kind)
        return self._validate(ep)

    def _validate(self, ep: EntryPoint) -> type[P]:
        def fail(message: str) -> PluginError:
            return PluginError(ep.name, message, kind=self.kind)

        try:
            obj = ep.load()
        except Exception as exc:
            raise fail(f"cannot import {ep.value!r}: {exc!r}") from exc
        base = f"{self.base.__module__.split('.')[0]}.{self.base.__name__}"
        if not (isinstance(obj, type) and issubclass(obj, self.base)):
            raise fail(f"{ep.value!r} is not a subclass of {base}")
        declared = getattr(obj, self.name_attribute, None)
        if declared != ep.name:
            raise fail(f"class {obj.__name__} declares {self.name_attribute} {declared!r}")
        cls = cast("type[P]", obj)
        model: object = getattr(obj, "Options", None)  # a plugin may set anything there
        problem = None
        if not (isinstance(model, type) and issubclass(model, self.options)):
            problem = f"Options must subclass {self.options.__module__.split('.')[0]}.{self.options.__name__}"
        if problem is None and self.check is not None:
            problem = self.check(cls)
        abstract = sorted(getattr(obj, "__abstractmethods__", ()))
        if problem is None and abstract:
            problem = f"does not implement {', '.join(abstract)}"
        if problem is not None:
            raise fail(problem)
        return cls

    def refresh(self) -> None:
        """Forget cached entry points (after installing a plugin in the same process)."""
        self.__dict__.pop("_entry_points", None)
        self.load.cache_clear()


def _check_connector(cls: type[Connector]) -> str | None:
    if cls.api_version != API_VERSION:
        return (
            f"written for connector API {cls.api_version!r}; this hookgate provides API {API_VERSION}: "
            "install a version of the plugin made for it (or upgrade hookgate)"
        )
    return None


CONNECTORS: PluginRegistry[Connector] = PluginRegistry(
    ENTRY_POINT_GROUP, Connector, kind="connector", options=ConnectorOptions, check=_check_connector
)


def available() -> list[str]:
    """Names of every installed connector, sorted."""
    return CONNECTORS.available()


def load(name: str) -> type[Connector]:
    """Load and validate the connector class registered under `name`."""
    return CONNECTORS.load(name)


def refresh() -> None:
    """Forget cached entry points (after installing a plugin in the same process)."""
    CONNECTORS.refresh()
