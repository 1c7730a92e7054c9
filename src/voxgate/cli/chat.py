"""``voxgate chat``: a text chat with an agent in the terminal."""

from __future__ import annotations

import asyncio

import click
from rich.console import Console

from voxgate.cli.output import status
from voxgate.cli.remote import URL_OPTION, refusal_message, server_url


@click.command()
@URL_OPTION
@click.option(
    "--key",
    envvar=["VOXGATE_API_KEY", "VOXGATE_DEV_API_KEY"],
    help="API key: chat over the Atoms socket (or VOXGATE_API_KEY / VOXGATE_DEV_API_KEY).",
)
@click.option("--agent", default="demo", show_default=True, help="With --key.")
@click.option(
    "--connector",
    envvar="VOXGATE_CONNECTOR_TOKEN",
    help="Connector token (vmc_…): chat over the messaging API as an app would, with "
    "suggestions and handoff to a human (or VOXGATE_CONNECTOR_TOKEN).",
)
@click.option(
    "--host", "app_host", default="localhost", show_default=True, help="With --connector: X-Host."
)
def chat(
    url: str | None, key: str | None, agent: str, connector: str | None, app_host: str
) -> None:
    """Chat with an agent in the terminal; replies stream as they are written.

    Type a line and press Enter; a number picks a suggested reply; /quit (or Ctrl-D)
    ends the chat."""
    address = server_url(url)
    if connector:
        _messaging_chat(url=address, connector=connector, host=app_host, console=status())
    elif key:
        _atoms_chat(url=address, key=key, agent=agent, console=status())
    else:
        raise click.UsageError("give --key (Atoms chat) or --connector (messaging API)")


def _atoms_chat(*, url: str, key: str, agent: str, console: Console) -> None:
    from voxgate.cli.terminal_chat import run_chat
    from voxgate.client import AtomsConnectError

    try:
        asyncio.run(run_chat(url=url, key=key, agent=agent, console=console))
    except AtomsConnectError as exc:
        raise click.ClickException(refusal_message(exc, url)) from None
    except TimeoutError:
        raise click.ClickException("no reply from the agent in time") from None
    except OSError as exc:
        raise click.ClickException(f"cannot reach {url}: {exc}") from None
    except KeyboardInterrupt:
        console.print("bye")


def _messaging_chat(*, url: str, connector: str, host: str, console: Console) -> None:
    from voxgate.cli.terminal_chat import run_messaging_chat
    from voxgate.client import MessagingError

    try:
        asyncio.run(run_messaging_chat(url=url, connector=connector, host=host, console=console))
    except MessagingError as exc:
        hint = " (check the connector token and that the host is registered)"
        raise click.ClickException(exc.message + (hint if exc.status == 401 else "")) from None
    except KeyboardInterrupt:
        console.print("bye")
