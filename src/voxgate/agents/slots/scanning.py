"""What every slot parser shares: the prepared utterance, hits, and the scan of rules.

A parser is a :data:`Finder`: it reads a :class:`Text` (from :func:`prepare`) and returns
the leftmost :class:`Hit` of its slot, or ``None``. Most parsers are a table of :data:`Rule`
(a pattern and a reader that turns a match into a value), built with :func:`finder`; a reader
returns ``None`` (or raises ``ValueError``/``OverflowError``) to pass a match over.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Final

Value = date | time | int | str


@dataclass(frozen=True, slots=True)
class Text:
    """The utterance twice, with equal lengths so that spans carry over."""

    low: str
    """Lower-cased, fillers blanked, used spans replaced by ``MASK``: what patterns read."""
    orig: str
    """Original casing (for names), used spans masked too."""


@dataclass(frozen=True, slots=True)
class Hit:
    start: int
    end: int
    value: Value


Finder = Callable[[Text, date, bool], Hit | None]
"""``(text, today, expecting)`` → the slot's leftmost hit in ``text``, or ``None``."""
Reader = Callable[[re.Match[str], Text, date], Value | None]
"""``(match, text, today)`` → the value the match holds, or ``None`` to pass it over."""
Rule = tuple[str, Reader]
"""A pattern (uncompiled) and the reader of its matches."""

MASK: Final = "\0"

# One character in, one out: spans in the prepared text are spans in the input.
_CHAR_MAP: Final = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u02bc": "'",
        "`": "'",
        "\u2010": "-",
        "\u2011": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u00a0": " ",
        "\u2026": ",",
        MASK: " ",
    }
)
_FILLER = re.compile(r"\b(?:u+m+|u+h+m*|e+r+m*|h+m+|m+h*m+|a+h+|e+h+)\b")


def prepare(text: str) -> Text:
    orig = text.translate(_CHAR_MAP)
    low = "".join(c.lower() if len(c.lower()) == 1 else c for c in orig)
    low = _FILLER.sub(lambda m: " " * len(m.group()), low)
    return Text(low, orig)


def mask(t: Text, hit: Hit) -> Text:
    """``t`` with the words of ``hit`` used up, so that no later slot reads them."""
    n = hit.end - hit.start
    return Text(
        t.low[: hit.start] + MASK * n + t.low[hit.end :],
        t.orig[: hit.start] + MASK * n + t.orig[hit.end :],
    )


def alt(words: Iterable[str]) -> str:
    """A regex alternation, longest first, spaces matching spaces or hyphens."""
    return "|".join(
        re.escape(w).replace(r"\ ", r"[\s-]+") for w in sorted(words, key=len, reverse=True)
    )


def scan(pattern: re.Pattern[str], t: Text, today: date, read: Reader) -> Hit | None:
    """The first match of ``pattern`` that ``read`` turns into a value."""
    for m in pattern.finditer(t.low):
        try:
            value = read(m, t, today)
        except (ValueError, OverflowError):  # impossible dates, beyond date.max
            value = None
        if value is not None:
            return Hit(m.start(), m.end(), value)
    return None


def first(hits: Iterable[Hit | None]) -> Hit | None:
    """The leftmost hit; the longest among those starting at the same place."""
    best: Hit | None = None
    for hit in hits:
        if hit is not None and (best is None or (hit.start, -hit.end) < (best.start, -best.end)):
            best = hit
    return best


@dataclass(frozen=True, slots=True)
class Rules:
    """A parser as a table of rules (build it with :func:`finder`): the first of the
    ``explicit`` rules' hits, else (only when expecting the slot) the first of the ``bare``
    rules' hits."""

    explicit: tuple[tuple[re.Pattern[str], Reader], ...]
    bare: tuple[tuple[re.Pattern[str], Reader], ...]

    def __call__(self, t: Text, today: date, expecting: bool) -> Hit | None:
        hit = first([scan(pattern, t, today, read) for pattern, read in self.explicit])
        if hit is None and expecting and self.bare:
            hit = first([scan(pattern, t, today, read) for pattern, read in self.bare])
        return hit


def finder(explicit: Sequence[Rule], bare: Sequence[Rule] = ()) -> Rules:
    """The parser of these rules, patterns compiled once (call it at import time)."""
    return Rules(
        tuple((re.compile(pattern), read) for pattern, read in explicit),
        tuple((re.compile(pattern), read) for pattern, read in bare),
    )


def group(m: re.Match[str], name: str) -> str | None:
    return m.groupdict().get(name)
