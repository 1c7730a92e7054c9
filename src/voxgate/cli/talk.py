"""``voxgate talk``: a voice call from the terminal (microphone and speaker, or WAV files)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from voxgate.cli.output import status
from voxgate.cli.remote import URL_OPTION, refusal_message, server_url

_KEY = click.option(
    "--key",
    envvar=["VOXGATE_API_KEY", "VOXGATE_DEV_API_KEY"],
    required=True,
    help="API key (or VOXGATE_API_KEY / VOXGATE_DEV_API_KEY).",
)


@click.command()
@click.option(
    "--wav",
    "wav_in",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Say this 16-bit PCM WAV file instead of using the microphone.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --wav: write the agent's spoken reply here (WAV).",
)
@URL_OPTION
@_KEY
@click.option("--agent", default="demo", show_default=True)
@click.option(
    "--dialect", type=click.Choice(["atoms", "datagrid"]), default="atoms", show_default=True
)
@click.option(
    "--sample-rate",
    type=click.Choice(["8000", "16000", "24000", "48000"]),
    default="24000",
    show_default=True,
    help="Atoms session rate (Datagrid is 16 kHz in, 24 kHz out).",
)
@click.option(
    "--half-duplex",
    is_flag=True,
    help="Mute the microphone while the agent speaks (speakers without echo cancellation).",
)
@click.option("--no-greeting", is_flag=True, help="With --wav: speak at once.")
def talk(
    wav_in: Path | None,
    out: Path | None,
    url: str | None,
    key: str,
    agent: str,
    dialect: str,
    sample_rate: str,
    half_duplex: bool,
    no_greeting: bool,
) -> None:
    """Talk to an agent: microphone and speaker (the client-audio extra), or a WAV file.

    Shows the live transcript, a level meter while you speak, and when the agent speaks;
    with --wav, prints both transcripts and can save the spoken reply."""
    from voxgate.cli.terminal_call import run_talk
    from voxgate.client import AudioDeviceError, VoiceConnectError

    if out is not None and wav_in is None:
        raise click.UsageError("--out needs --wav")
    console = status()
    address = server_url(url)
    call = run_talk(
        console=console,
        url=address,
        key=key,
        agent=agent,
        dialect="datagrid" if dialect == "datagrid" else "atoms",
        sample_rate=int(sample_rate),
        wav_in=wav_in,
        out=out,
        half_duplex=half_duplex,
        greeting=not no_greeting,
    )
    try:
        asyncio.run(call)
    except VoiceConnectError as exc:
        raise click.ClickException(refusal_message(exc, address)) from None
    except AudioDeviceError as exc:
        raise click.ClickException(f"{exc} (or use --wav FILE to talk without a device)") from None
    except TimeoutError:
        raise click.ClickException("no reply from the agent in time") from None
    except KeyboardInterrupt:
        console.print("call ended")
