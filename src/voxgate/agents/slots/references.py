"""The ``reference`` slot's parser: a booking reference (2 letters + 4 letters/digits,
``"BD-7K3Q"``), written or spelled out letter by letter."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Final

from voxgate.agents.slots.numerals import DIGIT_WORDS
from voxgate.agents.slots.scanning import Hit, Text, first, scan

_NATO: Final = {
    w: w[0]
    for w in (
        "alpha alfa bravo charlie delta echo foxtrot golf hotel india juliet juliett kilo lima"
        " mike november oscar papa quebec romeo sierra tango uniform victor whiskey whisky"
        " xray yankee zulu"
    ).split()
}
_REF_CANON: Final = re.compile(
    r"(?<![\w@.\-])(?P<a>[a-z]{2})(?P<dash>-?)(?P<b>[a-z0-9]{4})(?![\w@\-]|\.\w)"
)
_REF_TOKEN: Final = re.compile(r"[a-z0-9]+")
_REF_GAP: Final = re.compile(r"[\s\-.,]+")


def _read_ref_canon(m: re.Match[str], t: Text, today: date) -> str | None:
    b = m.group("b")
    written = t.orig[m.start() : m.end()]
    if any(c.isdigit() for c in b) or written.isupper():
        return f"{m.group('a')}-{b}".upper()
    return None


def _ref_chars(token: str, orig: str, first: bool, expecting: bool) -> str | None:
    """What one spelled token contributes to a reference, or ``None`` if it can't."""
    if len(token) == 1:
        return token
    if token in DIGIT_WORDS:
        return DIGIT_WORDS[token]
    if token in _NATO:
        return _NATO[token]
    if len(token) <= 6 and any(c.isdigit() for c in token):
        return token
    if first and len(token) == 2 and token.isalpha() and (expecting or orig.isupper()):
        return token
    return None


def _spelled_refs(t: Text, expecting: bool) -> Iterable[Hit]:
    run: list[tuple[int, int, str]] = []  # start, end, chars

    def flush() -> Iterable[Hit]:
        # The run's last 6 characters, when they start a token and with two letters.
        length = 0
        for i in range(len(run) - 1, -1, -1):
            length += len(run[i][2])
            if length >= 6:
                chars = "".join(c for _, _, c in run[i:])
                if length == 6 and chars[:2].isalpha():
                    yield Hit(run[i][0], run[-1][1], f"{chars[:2]}-{chars[2:]}".upper())
                return

    prev_end = -1
    for m in _REF_TOKEN.finditer(t.low):
        joined = bool(run) and _REF_GAP.fullmatch(t.low, prev_end, m.start()) is not None
        if not joined:
            yield from flush()
            run = []
        chars = _ref_chars(m.group(), t.orig[m.start() : m.end()], not run, expecting)
        if chars is None and run:
            yield from flush()
            run = []
            chars = _ref_chars(m.group(), t.orig[m.start() : m.end()], True, expecting)
        if chars is None:
            prev_end = -1
            continue
        run.append((m.start(), m.end(), chars))
        prev_end = m.end()
    yield from flush()


def find_reference(t: Text, today: date, expecting: bool) -> Hit | None:
    canon = scan(_REF_CANON, t, today, _read_ref_canon)
    spelled = next(iter(_spelled_refs(t, expecting)), None)
    return first([canon, spelled])
