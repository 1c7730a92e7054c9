"""``voxgate say``: speak a text into a WAV file with the embedded voice."""

from __future__ import annotations

import click

from voxgate.cli.output import status


@click.command()
@click.argument("text")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="WAV file to write.")
def say(text: str, out: str) -> None:
    """Speak TEXT with the embedded voice into a WAV file (a question for `voxgate talk`)."""
    from voxgate.audio.wav import write_wav
    from voxgate.errors import MissingExtraError
    from voxgate.speech.tts import PiperTTS

    if not text.strip():
        raise click.ClickException("TEXT must not be empty")
    try:
        tts = PiperTTS()
    except MissingExtraError as exc:
        raise click.ClickException(str(exc)) from None
    audio = tts.synthesize(text, vary=False)
    write_wav(out, audio, tts.sample_rate)
    status().print(f"{len(audio) / tts.sample_rate:.1f} s of speech written to {out}")
