"""What a configuration asks of the machine, looked at before it runs.

    warnings(settings)       what `check-config` points out without refusing the file: no
                             source, a source whose events go to no sink, a file hookgate
                             would write but cannot, a file holding events (the SQLite
                             store, a sink's file) that other users may read. Nothing is
                             created.
    open_outputs(settings)   what `serve` does before it starts: every file the
                             configuration writes is opened for appending (its directory
                             created); one that cannot be is a `ConfigError` naming its key.

The files a configuration writes are its `OutputPath` options (`gateway.paths`): those of
its sinks and of its routers' targets (a `jsonl` sink's or target's `path`).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from gateway.config import Settings
from gateway.errors import ConfigError
from gateway.paths import is_output_path
from gateway.sinks.files import open_for_append

__all__ = ["open_outputs", "output_files", "unwritable", "warnings"]


def warnings(settings: Settings) -> list[str]:
    """What deserves a look in a valid configuration, each as `KEY: problem`."""
    found: list[str] = []
    if not settings.sources:
        found.append("sources: no [sources] configured: every webhook URL answers 404")
    for name, source in settings.sources.items():
        if not source.sinks:
            why = "its sinks = []" if settings.sinks or settings.buses else "no [sinks] configured"
            found.append(f"sources.{name}: its events are stored but go to no sink ({why})")
    for key, path in output_files(settings):
        problem = unwritable(path)
        if problem is not None:
            found.append(f"{key}: cannot write {path}: {problem}")
    for key, path in _event_files(settings):
        found.extend(f"{key}: {problem}" for problem in _readable_by_others(path))
    return found


def _event_files(settings: Settings) -> Iterator[tuple[str, str]]:
    """The files that hold events: the SQLite store (with its WAL) and the sinks' files."""
    if settings.store.url.startswith("sqlite:///"):
        db = settings.store.url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            yield "store.url", db + suffix
    yield from output_files(settings)


def _readable_by_others(path: str) -> list[str]:
    """A warning if `path` exists and users other than its owner may read it."""
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return []
    if not stat.S_ISREG(mode) or not mode & 0o044:
        return []
    return [f"{path} holds events and is readable by other users (mode {mode & 0o777:04o}): chmod 600 {path}"]


def open_outputs(settings: Settings) -> None:
    """Open (create) every file the configuration writes, as its sinks will; a file that
    cannot be opened is a `ConfigError` naming its key."""
    for key, path in output_files(settings):
        try:
            os.close(open_for_append(path))
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # a FIFO nobody reads yet: its sink retries until one does
                continue
            reason = unwritable(path) or exc.strerror or str(exc)
            raise ConfigError(key, f"cannot open {path}: {reason}") from None


def output_files(settings: Settings) -> Iterator[tuple[str, str]]:
    """The key and path of each file the configuration's sinks and targets append to."""
    for name, spec in settings.sinks.items():
        yield from _outputs(spec.options, f"sinks.{name}")
    for name, bus in settings.buses.items():
        for rule_name, rule in bus.rules.items():
            for i, target in enumerate(rule.targets):
                yield from _outputs(target.options, f"sinks.{name}.rules.{rule_name}.targets[{i}]")


def unwritable(path: str) -> str | None:
    """Why hookgate could not append to `path` (creating its directory), or None; looks
    without creating anything."""
    file = Path(path)
    if file.is_dir():
        return "it is a directory"
    if file.exists():
        return None if os.access(file, os.W_OK) else "the file is not writable"
    folder = file.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is not a directory"
    if not os.access(folder, os.W_OK | os.X_OK):
        if folder == file.parent:
            return f"the directory {folder} is not writable"
        return f"{file.parent} does not exist and {folder} is not writable"
    return None


def _outputs(options: BaseModel, key: str) -> Iterator[tuple[str, str]]:
    for field, info in type(options).model_fields.items():
        value = getattr(options, field)
        if is_output_path(info.metadata) and isinstance(value, str):
            yield f"{key}.{field}", value
