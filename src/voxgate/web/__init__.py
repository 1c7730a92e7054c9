"""The browser client's static files (served by :mod:`voxgate.server.web`); plain HTML,
CSS and JavaScript with no build step."""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
