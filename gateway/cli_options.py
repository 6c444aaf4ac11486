"""What the command groups of `hookgate` share: the `--config` option, and the
configuration it names loaded, or the command ended with `EXIT_CONFIG`."""

from __future__ import annotations

import sys

import click

from gateway.config import CONFIG_ENV, Settings, load_settings
from gateway.errors import ConfigError

__all__ = ["EXIT_CONFIG", "config_option", "settings_or_exit"]

#: The exit status of a command refused for its configuration or its input.
EXIT_CONFIG = 2

config_option = click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar=CONFIG_ENV,
    help=f"TOML configuration file (or ${CONFIG_ENV}).",
)


def settings_or_exit(config_path: str | None) -> Settings:
    """The configuration at `config_path` (or `$HOOKGATE_CONFIG`); an invalid one ends the
    command with its error and `EXIT_CONFIG`."""
    try:
        return load_settings(config_path)
    except ConfigError as exc:
        click.echo(f"hookgate: invalid configuration: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
