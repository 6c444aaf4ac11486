"""Paths in a configuration: relative to the configuration file, not to where hookgate runs.

A path-valued setting (the SQLite store's `sqlite:///PATH`, a `jsonl` sink's or router
target's `path`, a `file:` secret) written as a relative path is relative to the
directory of the configuration file that holds it, so `hookgate events list --config
/srv/hooks/hookgate.toml` reads the same store from any directory. Without a file
(settings from the environment alone) there is nothing to be relative to, and a relative
path stays relative to the current directory, as does the built-in default store
`./hookgate.db`, which no file wrote.

A model field typed `ConfigPath` (a plugin's too) is resolved when it is validated with
`path_context(base_dir)` as pydantic's validation context, as `gateway.config` does; an
`OutputPath` is a `ConfigPath` that hookgate writes to (appends to, creating its
directory), which `check-config` and `serve` check before anything runs
(`gateway.preflight`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationInfo

__all__ = [
    "ConfigPath",
    "OutputPath",
    "StoreUrl",
    "is_output_path",
    "path_context",
    "resolve_path",
    "resolve_store_url",
]

_BASE_DIR = "hookgate_base_dir"
_SQLITE = "sqlite:///"


class _Output:
    """The marker of an `OutputPath` in a field's metadata."""


def path_context(base_dir: Path | None) -> dict[str, Any]:
    """The validation context that resolves relative `ConfigPath`s against `base_dir`."""
    return {_BASE_DIR: base_dir}


def resolve_path(value: str, base_dir: Path | None) -> str:
    """`value` joined to `base_dir` when it is relative and there is a base directory."""
    if base_dir is None or not value or Path(value).is_absolute():
        return value
    return str(Path(base_dir, value))


def resolve_store_url(url: str, base_dir: Path | None) -> str:
    """A `sqlite:///PATH` URL with its PATH resolved (`:memory:` and other URLs as they are)."""
    if not url.startswith(_SQLITE) or url == f"{_SQLITE}:memory:":
        return url
    return _SQLITE + resolve_path(url.removeprefix(_SQLITE), base_dir)


def _base_dir(info: ValidationInfo) -> Path | None:
    context = info.context
    if not isinstance(context, Mapping):
        return None
    base = context.get(_BASE_DIR)
    return Path(base) if isinstance(base, str | os.PathLike) else None


def _resolve(value: str, info: ValidationInfo) -> str:
    return resolve_path(value, _base_dir(info))


def _resolve_url(value: str, info: ValidationInfo) -> str:
    return resolve_store_url(value, _base_dir(info))


#: A file path read or written by hookgate; relative: to the configuration file.
ConfigPath = Annotated[str, AfterValidator(_resolve)]
#: A `ConfigPath` hookgate appends to (creating its directory).
OutputPath = Annotated[ConfigPath, _Output()]
#: The store's URL, its SQLite path resolved like a `ConfigPath`.
StoreUrl = Annotated[str, AfterValidator(_resolve_url)]


def is_output_path(metadata: list[Any]) -> bool:
    """Whether a field's metadata (pydantic's `FieldInfo.metadata`) marks an `OutputPath`."""
    return any(isinstance(item, _Output) for item in metadata)
