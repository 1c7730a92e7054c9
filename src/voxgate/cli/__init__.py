"""The ``voxgate`` command, one module per command group; :mod:`voxgate.cli.main` assembles
them. Data goes to stdout, status and errors to stderr."""
