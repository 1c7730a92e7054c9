"""Where the CLI writes: data to stdout (tables, JSON), status and errors to stderr."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import click
from rich.console import Console

# Width for tables written to a pipe or file, where rich cannot ask a terminal.
_PIPE_WIDTH = 200


def status() -> Console:
    """The console for status lines and errors (stderr)."""
    return Console(stderr=True, highlight=False)


def stdout() -> Console:
    """The console for data (stdout): a terminal's width, or a wide fixed one for pipes."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else _PIPE_WIDTH)


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def when(value: datetime | None) -> str:
    """A listing's time cell (UTC, to the minute); empty for ``None``."""
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M")
