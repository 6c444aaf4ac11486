"""The command-line reference (`docs/cli.md`), generated from the click commands.

    python -m gateway.cli_reference docs/cli.md     # write it (no argument: print it)

Each command's usage, help and options come from the commands themselves, the exit
statuses from `gateway.cli_options.EXIT_CODES`; a test regenerates the page and fails
when the checked-in one differs.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import click

from gateway.cli import main
from gateway.cli_options import EXIT_CODES

__all__ = ["render"]

_HEADER = """\
# Command-line reference

<!-- Generated from the click commands by `python -m gateway.cli_reference docs/cli.md`:
edit the commands' help, not this page. -->

Every command takes `--help`; `hookgate --version` prints the version. Commands that read
the store or the configuration take `--config FILE` (or `$HOOKGATE_CONFIG`).

- **`--json`**: every list and show command (`events list`, `events show`, `dlq list`,
  `rules list`, `rules test`, `connectors`) and the operations `replay` and
  `dlq redrive` print one JSON document on stdout instead of text. Its field names are
  the admin API's (defined once in `gateway/views.py`): times are RFC 3339 UTC strings
  (`2026-11-28T10:00:00.123Z`), ids are strings, deliveries are nested under their event,
  and a list is an object with one key naming what it holds (`{"events": [...]}`).
- **JSON input**: wherever an event or an event pattern is taken (`rules test --event`,
  `test-event-pattern --event-pattern/--event`), give the JSON text itself, `@FILE` to
  read it from a file, or `-` (or `@-`) to read it from stdin.
- **Event references**: `events show` accepts an event id, a unique prefix of one, the
  provider's event id (the dedup key, e.g. Stripe's `evt_…`) or a delivery id. A delivery
  is the one (event, sink) pair, so its id is `EVENT_ID/SINK` (as in the `id` of each
  delivery in `--json` output).

## Exit codes

| Status | Meaning |
|---|---|
{exit_codes}

Messages go to stderr; only a command's result goes to stdout.

## Shell completion

hookgate completes commands, options and choices in bash, zsh and fish, through click's
`_HOOKGATE_COMPLETE` variable:

| Shell | Add to | Line |
|---|---|---|
| bash | `~/.bashrc` | `eval "$(_HOOKGATE_COMPLETE=bash_source hookgate)"` |
| zsh | `~/.zshrc` | `eval "$(_HOOKGATE_COMPLETE=zsh_source hookgate)"` |
| fish | `~/.config/fish/completions/hookgate.fish` | `_HOOKGATE_COMPLETE=fish_source hookgate \\| source` |

To avoid running `hookgate` at every shell start, write the script once
(`_HOOKGATE_COMPLETE=bash_source hookgate > ~/.hookgate-complete.bash`) and source that file.

## Commands
"""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _command(command: click.Command, ctx: click.Context) -> list[str]:
    path = ctx.command_path
    lines = [f"### `{path}`", ""]
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines += ["```", f"{path} {usage}".rstrip(), "```", ""]
    help_text = inspect.cleandoc(command.help or "").replace("\b\n", "")
    if help_text:
        lines += [help_text, ""]
    rows = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
        if record is not None and "--help" not in param.opts:
            rows.append(f"| `{_cell(record[0])}` | {_cell(record[1])} |")
    if rows:
        lines += ["| Option | Description |", "|---|---|", *rows, ""]
    return lines


def _walk(command: click.Command, ctx: click.Context) -> list[str]:
    if not isinstance(command, click.Group):
        return _command(command, ctx)
    lines = []
    if ctx.parent is not None:  # a group's own page: what it is, then its commands
        lines += [f"### `{ctx.command_path}`", "", inspect.cleandoc(command.help or ""), ""]
    for name in sorted(command.commands):
        sub = command.commands[name]
        lines += _walk(sub, click.Context(sub, info_name=name, parent=ctx))
    return lines


def render() -> str:
    """The reference page, as Markdown."""
    root = click.Context(main, info_name="hookgate")
    exit_codes = "\n".join(
        f"| {status} | {_cell(meaning)} |" for status, meaning in sorted(EXIT_CODES.items())
    )
    return _HEADER.replace("{exit_codes}", exit_codes) + "\n" + "\n".join(_walk(main, root)).rstrip() + "\n"


if __name__ == "__main__":
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(render(), encoding="utf-8")
    else:
        sys.stdout.write(render())
