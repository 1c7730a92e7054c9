"""``voxgate serve``: load agents and models with a progress bar, then serve."""

from __future__ import annotations

import click

from voxgate.cli.output import status
from voxgate.config import Settings

LOAD_STEPS = 6
"""Progress messages while the server loads (SpeechServices.load's five, then agents)."""


@click.command()
@click.option("--host", help="Interface to listen on (VOXGATE_HOST).")
@click.option("--port", type=int, help="Port to listen on (VOXGATE_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Run the server: load agents and models, then serve until SIGTERM/SIGINT."""
    import logging

    from rich.logging import RichHandler
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from voxgate.agents.spec import load_specs
    from voxgate.errors import ConfigError, MissingExtraError
    from voxgate.server.run import serve as run_server
    from voxgate.server.state import ServerState
    from voxgate.speech.tts import require_tts

    overrides: dict[str, object] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    settings = Settings(**overrides)  # type: ignore[arg-type]
    console = status()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    for noisy in ("alembic", "faster_whisper"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # One step per model (VAD, STT, TTS, end-of-turn), warm-up, then the agents.
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    step = bar.add_task("starting voxgate", total=LOAD_STEPS)
    if console.is_terminal:
        bar.start()

    def progress(message: str) -> None:
        if console.is_terminal:
            done = bar.tasks[0].description != "starting voxgate"
            bar.update(step, description=message, advance=1 if done else 0)
        else:
            console.print(f"{message}…")

    def ready(state: ServerState) -> None:
        bar.update(step, completed=LOAD_STEPS)
        bar.stop()
        base = f"{settings.host}:{settings.port}"
        agent = "demo" if "demo" in state.agents else next(iter(state.agents), "AGENT")
        # A key given in the environment is not echoed (consoles end up in logs).
        key = state.dev_key
        if key is None and settings.dev_api_key is not None:
            key = "$VOXGATE_DEV_API_KEY"
        console.print(f"[bold green]voxgate is ready[/] on http://{base}")
        console.print(f"agents: {', '.join(sorted(state.agents)) or '(none)'}")
        if state.dev_key:
            console.print("development API key (stored hashed; shown only this once):")
            click.echo(state.dev_key)
        elif key is None:
            console.print(
                "development API key: created on an earlier start and shown then; "
                "set VOXGATE_DEV_API_KEY or run `voxgate keys create` for a new one"
            )
        shown_key = key or "KEY"
        console.print("talk to it:")
        for line in (
            f"http://{base}/  (in a browser; sign in with the key)",
            'voxgate say "When are you open on Sunday?" --out question.wav',
            f"voxgate talk --wav question.wav --out reply.wav --key {shown_key}",
            f"ws://{base}/atoms/v1/agent/connect?token={shown_key}"
            f"&agent_id={agent}&mode=webcall&sample_rate=24000",
        ):
            console.print("  " + line, markup=False, highlight=False, soft_wrap=True)
        console.print("live agents and web chat:")
        for line in (
            f"http://{base}/console  (users: voxgate console-users create)",
            f"http://{base}/chat#token=vmc_…  (voxgate connectors create, hosts add)",
        ):
            console.print("  " + line, markup=False, highlight=False, soft_wrap=True)

    try:
        # Fail before binding the port, with a plain message, on what would stop startup.
        load_specs(settings.agents_dir)
        require_tts()
        run_server(settings, progress=progress, on_ready=ready)
    except (ConfigError, MissingExtraError) as exc:
        bar.stop()
        raise click.ClickException(str(exc)) from None
    finally:
        bar.stop()
