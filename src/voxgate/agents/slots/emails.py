"""The ``email`` slot's parser: ``name@example.com`` or spoken "jane dot smith at example
dot com", lower-cased."""

from __future__ import annotations

import re
from datetime import date
from typing import Final

from voxgate.agents.slots.scanning import Text, finder

_E_ATOM: Final = r"[a-z0-9]+"
_E_DOT: Final = r"(?:\.|\s+dot\s+)"
_E_LABEL: Final = r"[a-z0-9][a-z0-9-]{0,62}"
_E_SPOKEN: Final = {"dot": ".", "underscore": "_", "dash": "-", "hyphen": "-", "plus": "+"}


def _read_email(m: re.Match[str], t: Text, today: date) -> str:
    local = re.sub(
        r"\s+(dot|underscore|dash|hyphen|plus)\s+", lambda w: _E_SPOKEN[w[1]], m["local"]
    )
    domain = re.sub(r"\s+dot\s+", ".", m["domain"])
    return f"{local}@{domain}"


find_email: Final = finder(
    [
        (
            r"(?<![\w.+\-@])(?<!dot )(?<!dash )(?<!plus )(?<!hyphen )(?<!underscore )"
            rf"(?P<local>{_E_ATOM}(?:(?:[._+\-]|\s+(?:dot|underscore|dash|hyphen|plus)\s+)"
            rf"{_E_ATOM})*)(?:\s*@\s*|\s+at\s+)(?P<domain>{_E_LABEL}(?:{_E_DOT}{_E_LABEL})*{_E_DOT}"
            r"[a-z]{2,24})\b(?!-)",
            _read_email,
        )
    ]
)
