"""``python -m voxgate`` runs the CLI."""

from voxgate.cli import main

main()
