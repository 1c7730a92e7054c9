"""The ``party_size`` slot's parser: how many people a booking is for ("for four", "two
adults and two kids", "just me"), 1-30."""

from __future__ import annotations

import re
from datetime import date
from typing import Final

from voxgate.agents.slots.numerals import num, num_value
from voxgate.agents.slots.scanning import Text, finder
from voxgate.agents.slots.times import MIN_WORDS
from voxgate.agents.slots.vocabulary import PEOPLE, SEP, UNITS_AFTER, WEEKDAY

_FOLLOW_WORDS: Final = (
    r"(?:please|pls|at|on|in|this|next|tonight|today|tomorrow|and|under|with|thanks|thank"
    rf"|then|if|from|around|by|for|the|is|would|will|so|but|or|including|plus|{WEEKDAY})"
)
_PARTY_FOLLOW: Final = rf"(?=\s*(?:[,.!?;:)\0]|$)|{SEP}{_FOLLOW_WORDS}\b)"
_NOT_TIME: Final = rf"(?![\s,]*(?:[ap]\.?\s?m\b|o'?\s?clock\b|(?:{MIN_WORDS})\b|[:.][0-9]))"
_RELATIVES: Final = (
    r"(?:wife|husband|partner|girlfriend|boyfriend|friend|fianc[eé]e?|date|mom|mum|mother|dad"
    r"|father|son|daughter|sister|brother|colleague|boss|kid|child|plus[\s-]one|other\s+half)"
)


def _party(value: int) -> int | None:
    return value if 1 <= value <= 30 else None


def _read_size(m: re.Match[str], t: Text, today: date) -> int | None:
    return _party(num_value(m.group("n")))


def _read_solo(m: re.Match[str], t: Text, today: date) -> int:
    return 1


def _read_couple(m: re.Match[str], t: Text, today: date) -> int:
    return 2


def _read_adults_kids(m: re.Match[str], t: Text, today: date) -> int | None:
    return _party(num_value(m["a"]) + num_value(m["k"]))


find_party_size: Final = finder(
    [
        (
            rf"\bfor{SEP}(?:a\s+(?:party|group|table)\s+of{SEP})?{num('n')}"
            rf"(?:{SEP}{PEOPLE}\b|{_PARTY_FOLLOW})",
            _read_size,
        ),
        (rf"(?:\bthe\s+)?{num('n')}{SEP}{PEOPLE}\b", _read_size),
        (
            rf"\b(?:party|group|table|booking|reservation)\s+(?:of|for){SEP}{num('n')}{_NOT_TIME}",
            _read_size,
        ),
        (
            r"\b(?:we\s+are|we're|we\s+will\s+be|we'll\s+be|we'd\s+be|there\s+(?:are|will\s+be|"
            rf"would\s+be)|there'll\s+be|there'd\s+be){SEP}(?:(?:about|around|maybe){SEP})?"
            rf"{num('n')}(?:{SEP}{PEOPLE}\b|{_PARTY_FOLLOW})",
            _read_size,
        ),
        (
            r"\b(?:(?:just|only)\s+(?:me|myself)\b(?!\s+and\b)|by\s+myself\b|on\s+my\s+own\b"
            r"|me\s+alone\b)",
            _read_solo,
        ),
        (
            rf"\b(?:(?:me|myself)\s+and\s+(?:my|a)\s+{_RELATIVES}\b(?!\s+and\b)"
            rf"|my\s+{_RELATIVES}\s+and\s+(?:i|me|myself)\b)",
            _read_couple,
        ),
        (
            rf"{num('a')}{SEP}(?:adults?|grown[\s-]?ups){SEP}(?:and|plus|&|with){SEP}{num('k')}"
            r"[\s,]+(?:kids?|children|child|babies|baby|toddlers?|infants?|teens|teenagers)\b",
            _read_adults_kids,
        ),
    ],
    [
        (
            r"(?<!\bat )(?<!\bby )(?<!\baround )(?<!\buntil )(?<!\btill )(?<!\bbefore )"
            r"(?<!\bafter )"
            rf"{num('n')}{_NOT_TIME}(?![\s,]*(?:of\s+)?(?:{UNITS_AFTER}|%)(?:\b|$))",
            _read_size,
        )
    ],
)
