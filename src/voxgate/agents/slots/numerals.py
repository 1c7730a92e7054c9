"""Numerals: numbers and ordinals in digits or words, and the ``number`` slot's parser."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Final

from voxgate.agents.slots.scanning import Text, alt, finder
from voxgate.agents.slots.vocabulary import SEP


def _numbered(words: str, values: Iterable[int]) -> dict[str, int]:
    return dict(zip(words.split(), values, strict=True))


UNITS: Final = _numbered("one two three four five six seven eight nine", range(1, 10))
TEENS: Final = _numbered(
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen",
    range(10, 20),
)
TENS: Final = _numbered("twenty thirty forty fifty sixty seventy eighty ninety", range(20, 100, 10))
WORD_VALUES: Final = {"zero": 0, **UNITS, **TEENS, **TENS}
_SPECIAL_NUMBERS: Final = {"a couple": 2, "a dozen": 12, "half a dozen": 6}

U19: Final = alt(UNITS)
NUM_WORDS: Final = rf"(?:(?:{alt(TENS)})(?:[\s-]+(?:{U19}))?|{alt(TEENS)}|zero|{U19})"
_DIGITS: Final = r"[0-9]{1,3}(?:,[0-9]{3}){1,5}|[0-9]{1,18}"
_NUM_BODY: Final = (
    rf"(?:(?:a|{U19})\s+hundred(?:\s+(?:and\s+)?{NUM_WORDS})?|{_DIGITS}"
    rf"|half\s+a\s+dozen|a\s+dozen|a\s+couple|{NUM_WORDS})"
)
_NOT_AFTER: Final = r"(?<![\w:/'+\-])(?<![0-9][.,])"
_GLUED: Final = r"[\w:/'+]|-\w|[.,][0-9]"
"""What may not follow a number: it would be part of a longer token."""
_NUM_END: Final = rf"(?!{_GLUED}|\s+(?:hundred|thousand|million|billion)\b)"


def num(name: str) -> str:
    """A number (digits or words) as the named group, not part of a longer token."""
    return rf"{_NOT_AFTER}(?P<{name}>{_NUM_BODY}){_NUM_END}"


def words_value(text: str) -> int:
    return sum(WORD_VALUES[w] for w in text.split())


def num_value(text: str) -> int:
    s = " ".join(re.split(r"[\s-]+", text.strip()))
    if s[0].isdigit():
        return int(s.replace(",", ""))
    if s in _SPECIAL_NUMBERS:
        return _SPECIAL_NUMBERS[s]
    if "hundred" in s:
        head, _, rest = s.partition("hundred")
        rest = rest.strip().removeprefix("and ").strip()
        hundreds = 1 if head.strip() == "a" else words_value(head)
        return hundreds * 100 + (words_value(rest) if rest else 0)
    return words_value(s)


_ORD_SMALL: Final = _numbered(
    "first second third fourth fifth sixth seventh eighth ninth", range(1, 10)
)
ORD_WORDS: Final = {
    **_ORD_SMALL,
    **_numbered(
        "tenth eleventh twelfth thirteenth fourteenth fifteenth sixteenth seventeenth"
        " eighteenth nineteenth",
        range(10, 20),
    ),
    "twentieth": 20,
    "thirtieth": 30,
    **{f"twenty {k}": 20 + v for k, v in _ORD_SMALL.items()},
    "thirty first": 31,
}
ORD: Final = rf"(?:{alt(ORD_WORDS)}|[0-9]{{1,2}}(?:st|nd|rd|th))"


def ord_value(text: str) -> int:
    if text[0].isdigit():
        return int(text[:-2])
    return ORD_WORDS[" ".join(re.split(r"[\s-]+", text))]


DIGIT_WORDS: Final = {"zero": "0", **{k: str(v) for k, v in UNITS.items()}}


def _read_number(m: re.Match[str], t: Text, today: date) -> int:
    return num_value(m["n"])


find_number: Final = finder(
    [
        (rf"{_NOT_AFTER}(?P<n>{_DIGITS})(?!{_GLUED})", _read_number),
        (rf"\bnumber(?:\s+is)?{SEP}{num('n')}", _read_number),
    ],
    [(num("n"), _read_number)],
)
"""Without expecting only digits count, or words after "number"."""
