"""What the command groups of `hookgate` share: the `--config` option, and the
configuration it names loaded, or the command ended with `EXIT_CONFIG`; the `--json`
option and its one document on stdout; JSON input given inline, as `@FILE` or on stdin;
and the exit statuses every command keeps to (`EXIT_CODES`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from gateway.config import CONFIG_ENV, Settings, load_settings
from gateway.errors import ConfigError

__all__ = [
    "EXIT_CODES",
    "EXIT_CONFIG",
    "EXIT_FAILURE",
    "EXIT_OK",
    "JSON_INPUT",
    "config_option",
    "echo_json",
    "json_option",
    "settings_or_exit",
]

#: The command did what was asked.
EXIT_OK = 0
#: Nothing matched (no such event), or the operation failed (the gateway refused a test
#: event, the database could not be reached).
EXIT_FAILURE = 1
#: The exit status of a command refused for its configuration or its input.
EXIT_CONFIG = 2
#: Each exit status and what it means (for `docs/cli.md`).
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_FAILURE: (
        "nothing found (`events show` of an unknown event), no store to read (a command that only "
        "reads never creates one), or the operation failed (`send-test` not accepted, the store "
        "unreachable, `serve`'s address already in use)"
    ),
    EXIT_CONFIG: (
        "refused: a usage error (unknown option, missing argument), an invalid configuration "
        "(the key named on stderr), invalid input (an event or pattern that is not valid JSON, "
        "an ambiguous event reference), or a feature whose extra is not installed"
    ),
}

config_option = click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar=CONFIG_ENV,
    help=f"TOML configuration file (or ${CONFIG_ENV}).",
)

json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document (the field names of the admin API) instead of text.",
)


def echo_json(document: Any) -> None:
    """Print `document` as one JSON document on stdout."""
    click.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))


def settings_or_exit(config_path: str | None) -> Settings:
    """The configuration at `config_path` (or `$HOOKGATE_CONFIG`); an invalid one ends the
    command with its error and `EXIT_CONFIG`."""
    try:
        return load_settings(config_path)
    except ConfigError as exc:
        click.echo(f"hookgate: invalid configuration: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


class _JsonInput(click.ParamType):  # type: ignore[type-arg]
    """JSON text given inline, as `@FILE` (the file's text), or as `-` / `@-` (stdin).
    The text is returned as it is; the command parses it and names what is wrong."""

    name = "json"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if text in {"-", "@-"}:
            return sys.stdin.read()
        if not text.startswith("@"):
            return text
        try:
            return Path(text[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.fail(f"cannot read {text[1:]!r}: {exc}", param, ctx)


#: A parameter taking JSON text inline, as `@FILE`, or on stdin (`-`).
JSON_INPUT = _JsonInput()
