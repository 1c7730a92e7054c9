"""The ``time`` slot's parser: clock times as said or written ("7pm", "half past seven",
"19:30", "at 8 tonight"), resolved to 24-hour time by the rules of the package docstring."""

from __future__ import annotations

import re
from datetime import date, time
from typing import Final

from voxgate.agents.slots.numerals import NUM_WORDS, TEENS, U19, UNITS, num_value, words_value
from voxgate.agents.slots.scanning import Text, alt, finder, group
from voxgate.agents.slots.vocabulary import PEOPLE, SEP, UNITS_AFTER

_HOUR_WORDS: Final = {**UNITS, "ten": 10, "eleven": 11, "twelve": 12}
_HOUR: Final = rf"(?:[0-9]{{1,2}}|{alt(_HOUR_WORDS)})"
MIN_WORDS: Final = (
    rf"(?:(?:oh|o|zero)[\s-]+(?:{U19})|(?:twenty|thirty|forty|fifty)(?:[\s-]+(?:{U19}))?"
    rf"|{alt(TEENS)})"
)
_MINUTES: Final = rf"(?:[:.](?P<mm>[0-9]{{2}})|[\s-]+(?P<mw>{MIN_WORDS}))"
_PRE_ANY: Final = (
    rf"(?:\b(?P<pre>at(?:\s+(?:about|around))?|around|about|by|for|from|until|till|before|"
    rf"after){SEP})?"
)
_PRE_STRICT: Final = (
    rf"\b(?P<pre>at(?:\s+(?:about|around))?|around|by|until|till|before|after|from){SEP}"
)
_TIME_END: Final = rf"\b(?![\s,]*(?:%|(?:{PEOPLE}|kids|children|of\s+them|{UNITS_AFTER})\b))"
_AMPM: Final = r"\s*(?P<ap>[ap])\.?\s?m\b\.?"
_DAYPART_AHEAD: Final = (
    r"(?=[\s,]+(?:in\s+the\s+(?:morning|afternoon|evening)|this\s+(?:morning|afternoon|evening)"
    r"|at\s+night|tonight)\b)"
)


_DAYPART_AFTER: Final = re.compile(
    r"[\s,]+(?:in\s+the\s+(?P<a>morning|afternoon|evening)|this\s+(?P<b>morning|afternoon|"
    r"evening)|(?P<c>tonight)|at\s+(?P<d>night))\b"
)
_DAYPART_BEFORE: Final = re.compile(r"\b(?P<p>morning|afternoon|evening|night|tonight)[\s,]*$")
_NOT_AFTER_PARTY_WORD: Final = re.compile(r"\b(?:for|of|are|be|we're|party|table|group)[\s,]*$")


def _daypart(low: str, start: int, end: int) -> str | None:
    after = _DAYPART_AFTER.match(low, end)
    if after:
        return next(p for p in after.groups() if p)
    before = _DAYPART_BEFORE.search(low[max(0, start - 24) : start])
    return before.group("p") if before else None


def _hour_value(text: str) -> int:
    return int(text) if text[0].isdigit() else _HOUR_WORDS[text]


def _minute_value(m: re.Match[str]) -> int:
    mm, mw = group(m, "mm"), group(m, "mw")
    if mm is not None:
        return int(mm)
    if mw is None:
        return 0
    words = re.split(r"[\s-]+", mw)
    if words[0] in ("oh", "o", "zero"):
        words = words[1:]
    return words_value(" ".join(words))


def _clock(
    hour: int, minute: int, *, ap: str | None, part: str | None, padded: bool
) -> time | None:
    """Resolve a spoken hour to 24-hour time; see the module docstring for the rules."""
    if not 0 <= minute <= 59:
        return None
    if ap is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ap == "p" else 0)
    elif hour > 23:
        return None
    elif hour == 0 or hour > 12 or padded:
        pass
    elif part == "morning":
        hour %= 12
    elif part in ("night", "tonight"):
        hour = 0 if hour == 12 else hour + 12 if hour >= 5 else hour
    elif hour != 12:
        hour += 12  # bare 1-11: afternoon/evening (restaurant/clinic default)
    return time(hour, minute)


def _read_clock(m: re.Match[str], t: Text, today: date) -> time | None:
    h = group(m, "h")
    if h is None:
        return None
    ap = group(m, "ap")
    part = None if ap else _daypart(t.low, m.start(), m.end())
    return _clock(
        _hour_value(h),
        _minute_value(m),
        ap=ap,
        part=part,
        padded=len(h) == 2 and h[0] == "0",
    )


def _read_daypart_time(m: re.Match[str], t: Text, today: date) -> time | None:
    pre = group(m, "pre")
    no_minutes = group(m, "mm") is None and group(m, "mw") is None
    if pre == "for" and no_minutes:
        return None  # "for four in the evening": a party size
    if pre is None and _NOT_AFTER_PARTY_WORD.search(t.low[max(0, m.start() - 24) : m.start()]):
        return None
    return _read_clock(m, t, today)


def _spoken_clock(m: re.Match[str], low: str, minute: int) -> time | None:
    """The hour named by group ``h`` (no am/pm: the part of day around it decides)."""
    part = _daypart(low, m.start(), m.end())
    return _clock(_hour_value(m.group("h")), minute, ap=None, part=part, padded=False)


def _read_past(m: re.Match[str], t: Text, today: date) -> time | None:
    spoken = m.group("m")
    mn = group(m, "mn")
    if spoken == "half":
        minutes = 30
    elif mn is None:
        minutes = 15
    else:
        minutes = num_value(mn)
        if not 1 <= minutes <= 59 or (minutes % 5 and not group(m, "mins")):
            return None
    direction = m.group("dir")
    if spoken == "half" and direction not in ("past", "after"):
        return None
    base = _spoken_clock(m, t.low, 0)
    if base is None:
        return None
    total = base.hour * 60 + (minutes if direction in ("past", "after") else -minutes)
    total %= 24 * 60
    return time(total // 60, total % 60)


def _read_noon(m: re.Match[str], t: Text, today: date) -> time:
    return time(0, 0) if m.group("n") == "midnight" else time(12, 0)


def _read_half(m: re.Match[str], t: Text, today: date) -> time | None:
    return _spoken_clock(m, t.low, 30)


find_time: Final = finder(
    [
        (rf"{_PRE_ANY}\b(?P<h>{_HOUR})(?:{_MINUTES})?{_AMPM}", _read_clock),
        (rf"{_PRE_ANY}(?<![0-9:.])(?P<h>[0-9]{{1,2}}):(?P<mm>[0-9]{{2}})(?![0-9:])", _read_clock),
        (rf"{_PRE_ANY}\b(?P<h>{_HOUR})\s*o'?\s?clock\b", _read_clock),
        (
            rf"{_PRE_ANY}\b(?P<m>half|(?:a\s+)?quarter|(?P<mn>{NUM_WORDS}|[0-9]{{1,2}})"
            rf"(?P<mins>\s+minutes?)?)\s+(?P<dir>past|after|to|till|before)\s+(?P<h>{_HOUR})\b",
            _read_past,
        ),
        (rf"{_PRE_ANY}\b(?:(?:12|twelve)\s+)?(?P<n>noon|midday|mid-day|midnight)\b", _read_noon),
        (rf"{_PRE_STRICT}half\s+(?P<h>{_HOUR}){_TIME_END}", _read_half),
        (rf"{_PRE_ANY}\b(?P<h>{_HOUR})(?:{_MINUTES})?\b{_DAYPART_AHEAD}", _read_daypart_time),
        (rf"{_PRE_STRICT}(?P<h>{_HOUR})(?:{_MINUTES})?{_TIME_END}", _read_clock),
        (rf"\b(?P<pre>for){SEP}(?P<h>{_HOUR}){_MINUTES}{_TIME_END}", _read_clock),
    ],
    [
        (
            rf"\b(?P<h>{_HOUR})(?:[:.\s](?P<mm>[0-9]{{2}})|[\s-]+(?P<mw>{MIN_WORDS}))?{_TIME_END}",
            _read_clock,
        ),
        (rf"\bhalf\s+(?P<h>{_HOUR}){_TIME_END}", _read_half),
    ],
)
