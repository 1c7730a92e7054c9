"""``voxgate agents``: check and list agent definitions (YAML files)."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from voxgate.cli.output import status, stdout
from voxgate.config import Settings


@click.group()
def agents() -> None:
    """Agent definitions (YAML files)."""


@agents.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
def agents_validate(paths: tuple[str, ...]) -> None:
    """Check agent files or folders (default: the configured agents folder)."""
    from pathlib import Path

    from voxgate.agents.spec import load_spec, load_specs
    from voxgate.errors import ConfigError

    targets = [Path(p) for p in paths] or [Settings().agents_dir]
    failed = False
    for target in targets:
        try:
            if target.is_dir():
                found = load_specs(target)
                names = ", ".join(sorted(found)) or "no agents"
                status().print(f"[green]ok[/] {target}: {names}")
            else:
                spec = load_spec(target)
                status().print(f"[green]ok[/] {target}: {spec.id}")
        except ConfigError as exc:
            failed = True
            click.echo(str(exc), err=True)
    if failed:
        raise SystemExit(1)


@agents.command("list")
@click.option("--dir", "folder", type=click.Path(file_okay=False), help="Agents folder.")
def agents_list(folder: str | None) -> None:
    """List the agents of the configured folder."""
    from pathlib import Path

    from voxgate.agents.spec import load_specs
    from voxgate.errors import ConfigError

    try:
        specs = load_specs(Path(folder) if folder else Settings().agents_dir)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    table = Table("id", "tenant", "name", "brain", "tools", "knowledge", "file")
    for agent_id, (spec, path) in sorted(specs.items()):
        table.add_row(
            escape(agent_id),
            escape(spec.tenant),
            escape(spec.name),
            spec.brain,
            escape(", ".join(spec.tool_names)),
            escape(", ".join(spec.knowledge)),
            escape(str(path)),
        )
    stdout().print(table)
