"""The ``voxgate`` click group: every command group, assembled (the console script and
``python -m voxgate`` run :func:`main`)."""

from __future__ import annotations

import click

from voxgate.cli.agents import agents
from voxgate.cli.chat import chat
from voxgate.cli.connectors import connectors, hosts
from voxgate.cli.console_users import console_users
from voxgate.cli.conversations import conversations
from voxgate.cli.keys import keys
from voxgate.cli.say import say
from voxgate.cli.serve import serve
from voxgate.cli.talk import talk


@click.group(
    help="voxgate: self-hosted realtime conversational agents.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
def main() -> None:
    pass


for command in (
    agents,
    chat,
    connectors,
    console_users,
    conversations,
    hosts,
    keys,
    say,
    serve,
    talk,
):
    main.add_command(command)
