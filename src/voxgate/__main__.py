"""``python -m voxgate`` runs the CLI."""

from voxgate.cli.main import main

main()
