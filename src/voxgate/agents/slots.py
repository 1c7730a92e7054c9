"""Slot extraction for the flow brain: dates, times, party sizes, names, … from one utterance.

Pure: no I/O, no asyncio, no clock (``now`` is passed in). The input is English as a speech
recognizer (Whisper) or a typing user writes it: digits mixed with number words, punctuation,
fillers ("um", "uh"), any casing.

Call :func:`extract` for one slot, or :func:`extract_all` to fill several named slots from
one utterance without using the same words twice. Both return ``None``/leave a slot out when
the text does not hold it; they raise only :class:`ValueError` for an unknown slot type or an
``expecting`` name that is not a slot (caller misuse).

``expecting`` means the agent just asked for exactly this slot, so a bare answer counts
("four", "seven", "friday", "Jane Smith"). Without it only explicit phrasing counts ("for four
people", "at 7pm", "on Friday", "my name is Jane"), so that a sentence does not fill
unrelated slots by accident.

Values: ``datetime.date`` for ``date``, ``datetime.time`` for ``time``, ``int`` for
``number`` and ``party_size``, ``str`` for the rest.

Decisions on ambiguous input (callers may rely on them):

- **Time.** A bare hour 1-11 without am/pm or a part of day is read as pm ("at 7" → 19:00,
  "at 11" → 23:00, "7:30" → 19:30): the restaurant/clinic default. "in the morning",
  "this morning" or a preceding "tomorrow morning" force am; a zero-padded hour ("09:00",
  "at 07") is 24-hour; 12 is noon; 13-23 are 24-hour. "seven thirty" without "at"/am/pm
  only counts when expecting. "for four thirty" is a time, "for four" a party size.
  "half seven" (British) is 7:30. A part of day after a time is read but not consumed, so
  "at 8 tonight" also leaves "tonight" for the date.
- **Date.** Weekday names count without a preposition ("Friday at 7"); a weekday means its
  next occurrence, today included. "next Friday" means Friday of the following calendar week
  (weeks start on Monday). "this weekend" is the coming Saturday (today on a Saturday or
  Sunday); "next weekend" the Saturday after it. "the 5th" is this month unless already past,
  else the first later month that has that day. Month/day phrases without a year are never in
  the past (rolled to the next year that has the date, so "Feb 29" finds a leap year); with an
  explicit year they are returned as said. "12/3" and "3/12/2026" are ambiguous and ignored.
  "the fifth" needs "the"/"on"; a bare ordinal or day number ("fifth", "5") only counts when
  expecting.
- **Party size.** 1-30, else ``None``. "for N" counts only when followed by a people word,
  punctuation, the end, or a word that starts another booking detail ("at", "on", "please", …),
  so "for 2 nights" and "for 7 pm" are not party sizes. "two adults and two kids" → 4.
- **Number.** Without expecting only digits count ("42", "1,200"), or words after "number";
  number words in running speech ("no one", "one of those") are too common to trust.
- **Name.** Strong cues ("my name is", "name's", "under the name") take lower-case names; weak
  cues ("I'm", "I am", "this is", "it's", "under", "call me") need a capitalised word unless
  expecting. Names stop at punctuation, at stop words ("and", "for", "at", "please", …) and at
  numbers; after a capitalised first word only capitalised words (and particles like "van",
  "de") continue it. Titles ("Mr", "Dr") are dropped. The result is title-cased ("jane smith"
  → "Jane Smith"); mixed-case words ("McDonald") are kept as written. A bare answer (when
  expecting) must be 1-4 name words after dropping fillers, leading "yes/sure/ok" and trailing
  "please/thanks".
- **Reference.** Assumed format: 2 letters + 4 letters/digits, returned as ``"BD-7K3Q"``.
  Accepted as written ("BD-7K3Q", "bd7k3q": needs a dash or a digit, or upper case), or
  spelled ("B D 7 K 3 Q", "b-d-seven-k-three-q", NATO words "bravo delta …"). Spoken "oh" is
  not read as zero (ambiguous with the letter O).
- **Phone.** 7-15 digits, written ("+1 (555) 123-4567") or spoken ("five five five, oh one
  …", "double five", "plus four four"); returned as ``"+digits"`` when it starts with + or
  "plus", else digits only. Spoken numbers need a cue ("number", "phone", "call", …) unless
  expecting; ISO dates are not phone numbers.
- **Email.** ``name@example.com`` or spoken "jane dot smith at example dot com"; lower-cased.
  Words in a spoken local part must be joined by "dot"/"underscore"/"dash"/"plus": in "jane
  smith at example dot com" only "smith" is taken.
- **Text.** Expecting: the stripped utterance (``None`` if it holds no letter or digit).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final, Literal, get_args

__all__ = ["SLOT_TYPES", "SlotType", "extract", "extract_all"]

SlotType = Literal[
    "date", "time", "number", "party_size", "name", "text", "reference", "phone", "email"
]
SLOT_TYPES: Final[frozenset[str]] = frozenset(get_args(SlotType))

_Value = date | time | int | str


@dataclass(frozen=True, slots=True)
class _Text:
    """The utterance twice, with equal lengths so that spans carry over."""

    low: str
    """Lower-cased, fillers blanked, used spans replaced by ``_MASK``: what patterns read."""
    orig: str
    """Original casing (for names), used spans masked too."""


@dataclass(frozen=True, slots=True)
class _Hit:
    start: int
    end: int
    value: _Value


_MASK: Final = "\0"

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
        _MASK: " ",
    }
)
_FILLER = re.compile(r"\b(?:u+m+|u+h+m*|e+r+m*|h+m+|m+h*m+|a+h+|e+h+)\b")


def _prepare(text: str) -> _Text:
    orig = text.translate(_CHAR_MAP)
    low = "".join(c.lower() if len(c.lower()) == 1 else c for c in orig)
    low = _FILLER.sub(lambda m: " " * len(m.group()), low)
    return _Text(low, orig)


def _mask(t: _Text, hit: _Hit) -> _Text:
    n = hit.end - hit.start
    return _Text(
        t.low[: hit.start] + _MASK * n + t.low[hit.end :],
        t.orig[: hit.start] + _MASK * n + t.orig[hit.end :],
    )


def _alt(words: Iterable[str]) -> str:
    """A regex alternation, longest first, spaces matching spaces or hyphens."""
    return "|".join(
        re.escape(w).replace(r"\ ", r"[\s-]+") for w in sorted(words, key=len, reverse=True)
    )


def _scan(
    pattern: re.Pattern[str], low: str, read: Callable[[re.Match[str]], _Value | None]
) -> _Hit | None:
    """The first match of ``pattern`` that ``read`` turns into a value."""
    for m in pattern.finditer(low):
        try:
            value = read(m)
        except (ValueError, OverflowError):  # impossible dates, beyond date.max
            value = None
        if value is not None:
            return _Hit(m.start(), m.end(), value)
    return None


def _first(hits: Iterable[_Hit | None]) -> _Hit | None:
    """The leftmost hit; the longest among those starting at the same place."""
    best: _Hit | None = None
    for hit in hits:
        if hit is not None and (best is None or (hit.start, -hit.end) < (best.start, -best.end)):
            best = hit
    return best


def _group(m: re.Match[str], name: str) -> str | None:
    return m.groupdict().get(name)


# --- numbers -------------------------------------------------------------------------------

_UNITS: Final = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
_TEENS: Final = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS: Final = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_WORD_VALUES: Final = {"zero": 0, **_UNITS, **_TEENS, **_TENS}
_SPECIAL_NUMBERS: Final = {"a couple": 2, "a dozen": 12, "half a dozen": 6}

_U19: Final = _alt(_UNITS)
_NUM_WORDS: Final = rf"(?:(?:{_alt(_TENS)})(?:[\s-]+(?:{_U19}))?|{_alt(_TEENS)}|zero|{_U19})"
_NUM_BODY: Final = (
    rf"(?:(?:a|{_U19})\s+hundred(?:\s+(?:and\s+)?{_NUM_WORDS})?"
    r"|[0-9]{1,3}(?:,[0-9]{3}){1,5}|[0-9]{1,18}"
    rf"|half\s+a\s+dozen|a\s+dozen|a\s+couple|{_NUM_WORDS})"
)
_NUM_END: Final = r"(?![\w:/'+]|-\w|[.,][0-9]|\s+(?:hundred|thousand|million|billion)\b)"


def _num(name: str) -> str:
    """A number (digits or words) as the named group, not part of a longer token."""
    return rf"(?<![\w:/'+\-])(?<![0-9][.,])(?P<{name}>{_NUM_BODY}){_NUM_END}"


def _words_value(text: str) -> int:
    return sum(_WORD_VALUES[w] for w in text.split())


def _num_value(text: str) -> int:
    s = " ".join(re.split(r"[\s-]+", text.strip()))
    if s[0].isdigit():
        return int(s.replace(",", ""))
    if s in _SPECIAL_NUMBERS:
        return _SPECIAL_NUMBERS[s]
    if "hundred" in s:
        head, _, rest = s.partition("hundred")
        rest = rest.strip().removeprefix("and ").strip()
        hundreds = 1 if head.strip() == "a" else _words_value(head)
        return hundreds * 100 + (_words_value(rest) if rest else 0)
    return _words_value(s)


_ORD_SMALL: Final = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5,
    "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9,
}  # fmt: skip
_ORD_WORDS: Final = {
    **_ORD_SMALL,
    "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
    "twentieth": 20, "thirtieth": 30,
    **{f"twenty {k}": 20 + v for k, v in _ORD_SMALL.items()},
    "thirty first": 31,
}  # fmt: skip
_ORD: Final = rf"(?:{_alt(_ORD_WORDS)}|[0-9]{{1,2}}(?:st|nd|rd|th))"


def _ord_value(text: str) -> int:
    if text[0].isdigit():
        return int(text[:-2])
    return _ORD_WORDS[" ".join(re.split(r"[\s-]+", text))]


_SEP: Final = r"(?:[\s,]|\.\.\.)+"
_PEOPLE: Final = r"(?:people|persons?|guests?|adults?|diners|pax|covers|of\s+us)"
_UNITS_AFTER: Final = (
    r"(?:minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|nights?|dollars|euros|"
    r"pounds|bucks|percent|times)"
)
_WEEKDAYS: Final = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3,
    "friday": 4, "saturday": 5, "sunday": 6,
}  # fmt: skip
_WEEKDAY: Final = rf"(?:{_alt(_WEEKDAYS)})"

# --- time ----------------------------------------------------------------------------------

_HOUR_WORDS: Final = {**_UNITS, "ten": 10, "eleven": 11, "twelve": 12}
_HOUR: Final = rf"(?:[0-9]{{1,2}}|{_alt(_HOUR_WORDS)})"
_MIN_WORDS: Final = (
    rf"(?:(?:oh|o|zero)[\s-]+(?:{_U19})|(?:twenty|thirty|forty|fifty)(?:[\s-]+(?:{_U19}))?"
    rf"|{_alt(_TEENS)})"
)
_MINUTES: Final = rf"(?:[:.](?P<mm>[0-9]{{2}})|[\s-]+(?P<mw>{_MIN_WORDS}))"
_PRE_ANY: Final = (
    rf"(?:\b(?P<pre>at(?:\s+(?:about|around))?|around|about|by|for|from|until|till|before|"
    rf"after){_SEP})?"
)
_PRE_STRICT: Final = (
    rf"\b(?P<pre>at(?:\s+(?:about|around))?|around|by|until|till|before|after|from){_SEP}"
)
_TIME_END: Final = rf"\b(?![\s,]*(?:%|(?:{_PEOPLE}|kids|children|of\s+them|{_UNITS_AFTER})\b))"
_AMPM: Final = r"\s*(?P<ap>[ap])\.?\s?m\b\.?"
_DAYPART_AHEAD: Final = (
    r"(?=[\s,]+(?:in\s+the\s+(?:morning|afternoon|evening)|this\s+(?:morning|afternoon|evening)"
    r"|at\s+night|tonight)\b)"
)

_T_AMPM: Final = re.compile(rf"{_PRE_ANY}\b(?P<h>{_HOUR})(?:{_MINUTES})?{_AMPM}")
_T_COLON: Final = re.compile(
    rf"{_PRE_ANY}(?<![0-9:.])(?P<h>[0-9]{{1,2}}):(?P<mm>[0-9]{{2}})(?![0-9:])"
)
_T_OCLOCK: Final = re.compile(rf"{_PRE_ANY}\b(?P<h>{_HOUR})\s*o'?\s?clock\b")
_T_PAST: Final = re.compile(
    rf"{_PRE_ANY}\b(?P<m>half|(?:a\s+)?quarter|(?P<mn>{_NUM_WORDS}|[0-9]{{1,2}})"
    rf"(?P<mins>\s+minutes?)?)\s+(?P<dir>past|after|to|till|before)\s+(?P<h>{_HOUR})\b"
)
_T_NOON: Final = re.compile(
    rf"{_PRE_ANY}\b(?:(?:12|twelve)\s+)?(?P<n>noon|midday|mid-day|midnight)\b"
)
_T_HALF: Final = re.compile(rf"{_PRE_STRICT}half\s+(?P<h>{_HOUR}){_TIME_END}")
_T_DAYPART: Final = re.compile(rf"{_PRE_ANY}\b(?P<h>{_HOUR})(?:{_MINUTES})?\b{_DAYPART_AHEAD}")
_T_AT: Final = re.compile(rf"{_PRE_STRICT}(?P<h>{_HOUR})(?:{_MINUTES})?{_TIME_END}")
_T_FOR: Final = re.compile(rf"\b(?P<pre>for){_SEP}(?P<h>{_HOUR}){_MINUTES}{_TIME_END}")
_T_BARE: Final = re.compile(
    rf"\b(?P<h>{_HOUR})(?:[:.\s](?P<mm>[0-9]{{2}})|[\s-]+(?P<mw>{_MIN_WORDS}))?{_TIME_END}"
)
_T_BARE_HALF: Final = re.compile(rf"\bhalf\s+(?P<h>{_HOUR}){_TIME_END}")

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
    mm, mw = _group(m, "mm"), _group(m, "mw")
    if mm is not None:
        return int(mm)
    if mw is None:
        return 0
    words = re.split(r"[\s-]+", mw)
    if words[0] in ("oh", "o", "zero"):
        words = words[1:]
    return _words_value(" ".join(words))


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


def _read_clock(m: re.Match[str], low: str) -> time | None:
    h = _group(m, "h")
    if h is None:
        return None
    ap = _group(m, "ap")
    part = None if ap else _daypart(low, m.start(), m.end())
    return _clock(
        _hour_value(h),
        _minute_value(m),
        ap=ap,
        part=part,
        padded=len(h) == 2 and h[0] == "0",
    )


def _read_daypart_time(m: re.Match[str], low: str) -> time | None:
    pre = _group(m, "pre")
    no_minutes = _group(m, "mm") is None and _group(m, "mw") is None
    if pre == "for" and no_minutes:
        return None  # "for four in the evening": a party size
    if pre is None and _NOT_AFTER_PARTY_WORD.search(low[max(0, m.start() - 24) : m.start()]):
        return None
    return _read_clock(m, low)


def _read_past(m: re.Match[str], low: str) -> time | None:
    spoken = m.group("m")
    mn = _group(m, "mn")
    if spoken == "half":
        minutes = 30
    elif mn is None:
        minutes = 15
    else:
        minutes = _num_value(mn)
        if not 1 <= minutes <= 59 or (minutes % 5 and not _group(m, "mins")):
            return None
    direction = m.group("dir")
    if spoken == "half" and direction not in ("past", "after"):
        return None
    base = _clock(
        _hour_value(m.group("h")), 0, ap=None, part=_daypart(low, m.start(), m.end()), padded=False
    )
    if base is None:
        return None
    total = base.hour * 60 + (minutes if direction in ("past", "after") else -minutes)
    total %= 24 * 60
    return time(total // 60, total % 60)


def _read_noon(m: re.Match[str]) -> time:
    return time(0, 0) if m.group("n") == "midnight" else time(12, 0)


def _read_half(m: re.Match[str], low: str) -> time | None:
    base = _clock(
        _hour_value(m.group("h")), 30, ap=None, part=_daypart(low, m.start(), m.end()), padded=False
    )
    return base


def _find_time(t: _Text, today: date, expecting: bool) -> _Hit | None:
    low = t.low

    def clock(m: re.Match[str]) -> time | None:
        return _read_clock(m, low)

    hit = _first(
        [
            _scan(_T_AMPM, low, clock),
            _scan(_T_COLON, low, clock),
            _scan(_T_OCLOCK, low, clock),
            _scan(_T_PAST, low, lambda m: _read_past(m, low)),
            _scan(_T_NOON, low, _read_noon),
            _scan(_T_HALF, low, lambda m: _read_half(m, low)),
            _scan(_T_DAYPART, low, lambda m: _read_daypart_time(m, low)),
            _scan(_T_AT, low, clock),
            _scan(_T_FOR, low, clock),
        ]
    )
    if hit is None and expecting:
        hit = _first(
            [
                _scan(_T_BARE, low, clock),
                _scan(_T_BARE_HALF, low, lambda m: _read_half(m, low)),
            ]
        )
    return hit


# --- date ----------------------------------------------------------------------------------

_MONTHS: Final = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11,
    "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
_MONTH: Final = rf"(?P<mon>{_alt(_MONTHS)})\b\.?"
_PREP: Final = rf"(?:(?:on|for|by|until|till|from|before|after){_SEP})?"
_DAYNUM: Final = rf"(?P<day>{_ORD}|[0-9]{{1,2}})\b"
_YEAR: Final = r"(?:,?\s+(?P<year>(?:19|20)[0-9]{2})\b)?"
_NOT_COUNT: Final = (
    rf"(?![\s,]*(?::|[ap]\.?\s?m\b|o'?\s?clock\b|(?:{_PEOPLE}|kids|children|{_UNITS_AFTER})\b))"
)
_NOT_PRONOUN: Final = r"(?!\s+(?:i|we|you|he|she|it|they)\b)"
_ORD_NOUN: Final = (
    r"(?![\s,]*(?:time|times|floor|person|caller|one|row|attempt|place|course|week|month|year"
    r"|thing|item|option|choice)\b)"
)

_D_REL: Final = re.compile(
    rf"\b{_PREP}(?P<rel>(?:the\s+)?day\s+after\s+tomorrow|tomorrow|tmrw|today|tonight"
    r"|this\s+(?:morning|afternoon|evening))\b"
)
_D_IN: Final = re.compile(rf"\bin{_SEP}(?:(?P<a>an?)|{_num('n')})\s+(?P<unit>days?|weeks?)\b")
_D_WEEKEND: Final = re.compile(
    rf"\b(?:(?:on|for|over|at){_SEP})?(?:(?P<q>this\s+coming|this|next|the|coming)\s+)?"
    r"weekend\b"
)
_D_WEEKDAY: Final = re.compile(
    rf"\b{_PREP}(?:(?P<q>this\s+coming|this|coming|next)\s+)?(?P<wd>{_WEEKDAY})\b"
    r"(?:\s+(?P<q2>next|this)\s+week\b)?"
)
_D_WEEKDAY_ORD: Final = re.compile(
    rf"\b{_PREP}(?:(?:this|next)\s+)?{_WEEKDAY}(?:{_SEP}the)?{_SEP}(?P<day>{_ORD})\b"
)
_D_MONTH_DAY: Final = re.compile(
    rf"\b{_PREP}(?:{_WEEKDAY}{_SEP}(?:the\s+)?)?{_MONTH}{_NOT_PRONOUN}{_SEP}(?:the\s+)?"
    rf"{_DAYNUM}{_NOT_COUNT}{_YEAR}"
)
_D_DAY_MONTH: Final = re.compile(
    rf"\b{_PREP}(?:{_WEEKDAY}{_SEP})?(?:the\s+)?{_DAYNUM}(?:\s+of)?{_SEP}{_MONTH}"
    rf"{_NOT_PRONOUN}{_YEAR}"
)
_D_ISO: Final = re.compile(
    rf"(?:\b(?:on|for|by|until|till|from){_SEP})?(?<![0-9\-/.])"
    r"(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})(?![0-9\-/])"
)
_D_ORD: Final = re.compile(
    rf"\b(?:(?:on|for|by|until|till|from){_SEP}(?:the\s+)?|the\s+)(?P<day>{_ORD})\b{_ORD_NOUN}"
)
_D_BARE_ORD: Final = re.compile(rf"\b(?P<day>{_ORD})\b{_ORD_NOUN}")
_D_BARE_NUM: Final = re.compile(
    rf"^[^\w]*(?:(?:on|the)\s+)*(?P<n>[0-9]{{1,2}}|{_NUM_WORDS})[^\w]*$"
)


def _add_days(today: date, days: int) -> date:
    return today + timedelta(days=days)


def _day_of_month(today: date, day: int) -> date | None:
    """``day`` this month unless already past, else the first later month that has it."""
    if not 1 <= day <= 31:
        return None
    year, month = today.year, today.month
    for i in range(13):
        if day <= calendar.monthrange(year, month)[1] and (i > 0 or day >= today.day):
            return date(year, month, day)
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return None


def _month_day(today: date, month: int, day: int, year: int | None) -> date | None:
    """The date, never in the past unless ``year`` says so."""
    if year is not None:
        return date(year, month, day)
    for y in range(today.year, today.year + 9):
        try:
            candidate = date(y, month, day)
        except ValueError:  # Feb 29 outside a leap year
            continue
        if candidate >= today:
            return candidate
    return None


def _weekday(today: date, weekday: int, following_week: bool) -> date:
    if following_week:
        return _add_days(today, 7 - today.weekday() + weekday)
    return _add_days(today, (weekday - today.weekday()) % 7)


def _weekend(today: date, next_one: bool) -> date:
    wd = today.weekday()
    if next_one:
        return _add_days(today, 6 if wd == 6 else 12 - wd)
    return today if wd >= 5 else _add_days(today, 5 - wd)


def _read_rel(m: re.Match[str], today: date) -> date:
    rel = " ".join(m.group("rel").split())
    if rel.endswith("day after tomorrow"):
        return _add_days(today, 2)
    if rel in ("tomorrow", "tmrw"):
        return _add_days(today, 1)
    return today


def _read_in(m: re.Match[str], today: date) -> date | None:
    n = 1 if _group(m, "a") else _num_value(m.group("n"))
    if n > 400:
        return None
    return _add_days(today, n * (7 if m.group("unit").startswith("week") else 1))


def _read_weekday(m: re.Match[str], today: date) -> date:
    following = _group(m, "q") == "next" or _group(m, "q2") == "next"
    return _weekday(today, _WEEKDAYS[m.group("wd")], following)


def _day_number(text: str) -> int:
    return int(text) if text.isdigit() else _ord_value(text)


def _read_month_day(m: re.Match[str], today: date) -> date | None:
    year = _group(m, "year")
    return _month_day(
        today,
        _MONTHS[m.group("mon")],
        _day_number(m.group("day")),
        int(year) if year else None,
    )


def _find_date(t: _Text, today: date, expecting: bool) -> _Hit | None:
    low = t.low

    def day_of_month(m: re.Match[str]) -> date | None:
        return _day_of_month(today, _ord_value(m.group("day")))

    hit = _first(
        [
            _scan(_D_ISO, low, lambda m: date(int(m["y"]), int(m["m"]), int(m["d"]))),
            _scan(_D_REL, low, lambda m: _read_rel(m, today)),
            _scan(_D_IN, low, lambda m: _read_in(m, today)),
            _scan(_D_WEEKEND, low, lambda m: _weekend(today, _group(m, "q") == "next")),
            _scan(_D_WEEKDAY, low, lambda m: _read_weekday(m, today)),
            _scan(_D_WEEKDAY_ORD, low, day_of_month),
            _scan(_D_MONTH_DAY, low, lambda m: _read_month_day(m, today)),
            _scan(_D_DAY_MONTH, low, lambda m: _read_month_day(m, today)),
            _scan(_D_ORD, low, day_of_month),
        ]
    )
    if hit is None and expecting:
        hit = _first(
            [
                _scan(_D_BARE_ORD, low, day_of_month),
                _scan(_D_BARE_NUM, low, lambda m: _day_of_month(today, _num_value(m["n"]))),
            ]
        )
    return hit


# --- party size and number -----------------------------------------------------------------

_FOLLOW_WORDS: Final = (
    r"(?:please|pls|at|on|in|this|next|tonight|today|tomorrow|and|under|with|thanks|thank"
    rf"|then|if|from|around|by|for|the|is|would|will|so|but|or|including|plus|{_WEEKDAY})"
)
_PARTY_FOLLOW: Final = rf"(?=\s*(?:[,.!?;:)\0]|$)|{_SEP}{_FOLLOW_WORDS}\b)"
_NOT_TIME: Final = rf"(?![\s,]*(?:[ap]\.?\s?m\b|o'?\s?clock\b|(?:{_MIN_WORDS})\b|[:.][0-9]))"
_RELATIVES: Final = (
    r"(?:wife|husband|partner|girlfriend|boyfriend|friend|fianc[eé]e?|date|mom|mum|mother|dad"
    r"|father|son|daughter|sister|brother|colleague|boss|kid|child|plus[\s-]one|other\s+half)"
)

_P_FOR: Final = re.compile(
    rf"\bfor{_SEP}(?:a\s+(?:party|group|table)\s+of{_SEP})?{_num('n')}"
    rf"(?:{_SEP}{_PEOPLE}\b|{_PARTY_FOLLOW})"
)
_P_PEOPLE: Final = re.compile(rf"(?:\bthe\s+)?{_num('n')}{_SEP}{_PEOPLE}\b")
_P_PARTY: Final = re.compile(
    rf"\b(?:party|group|table|booking|reservation)\s+(?:of|for){_SEP}{_num('n')}{_NOT_TIME}"
)
_P_WE: Final = re.compile(
    r"\b(?:we\s+are|we're|we\s+will\s+be|we'll\s+be|we'd\s+be|there\s+(?:are|will\s+be|"
    rf"would\s+be)|there'll\s+be|there'd\s+be){_SEP}(?:(?:about|around|maybe){_SEP})?"
    rf"{_num('n')}(?:{_SEP}{_PEOPLE}\b|{_PARTY_FOLLOW})"
)
_P_SOLO: Final = re.compile(
    r"\b(?:(?:just|only)\s+(?:me|myself)\b(?!\s+and\b)|by\s+myself\b|on\s+my\s+own\b"
    r"|me\s+alone\b)"
)
_P_COUPLE: Final = re.compile(
    rf"\b(?:(?:me|myself)\s+and\s+(?:my|a)\s+{_RELATIVES}\b(?!\s+and\b)"
    rf"|my\s+{_RELATIVES}\s+and\s+(?:i|me|myself)\b)"
)
_P_ADULTS_KIDS: Final = re.compile(
    rf"{_num('a')}{_SEP}(?:adults?|grown[\s-]?ups){_SEP}(?:and|plus|&|with){_SEP}{_num('k')}"
    r"[\s,]+(?:kids?|children|child|babies|baby|toddlers?|infants?|teens|teenagers)\b"
)
_P_BARE: Final = re.compile(
    r"(?<!\bat )(?<!\bby )(?<!\baround )(?<!\buntil )(?<!\btill )(?<!\bbefore )(?<!\bafter )"
    rf"{_num('n')}{_NOT_TIME}(?![\s,]*(?:of\s+)?(?:{_UNITS_AFTER}|%)(?:\b|$))"
)

_N_DIGITS: Final = re.compile(
    r"(?<![\w:/'+\-])(?<![0-9][.,])(?P<n>[0-9]{1,3}(?:,[0-9]{3}){1,5}|[0-9]{1,18})"
    r"(?![\w:/'+]|-\w|[.,][0-9])"
)
_N_AFTER_WORD: Final = re.compile(rf"\bnumber(?:\s+is)?{_SEP}{_num('n')}")
_N_BARE: Final = re.compile(_num("n"))


def _party(value: int) -> int | None:
    return value if 1 <= value <= 30 else None


def _find_party_size(t: _Text, today: date, expecting: bool) -> _Hit | None:
    low = t.low

    def size(m: re.Match[str]) -> int | None:
        return _party(_num_value(m.group("n")))

    hit = _first(
        [
            _scan(_P_FOR, low, size),
            _scan(_P_PEOPLE, low, size),
            _scan(_P_PARTY, low, size),
            _scan(_P_WE, low, size),
            _scan(_P_SOLO, low, lambda m: 1),
            _scan(_P_COUPLE, low, lambda m: 2),
            _scan(_P_ADULTS_KIDS, low, lambda m: _party(_num_value(m["a"]) + _num_value(m["k"]))),
        ]
    )
    if hit is None and expecting:
        hit = _scan(_P_BARE, low, size)
    return hit


def _find_number(t: _Text, today: date, expecting: bool) -> _Hit | None:
    def value(m: re.Match[str]) -> int:
        return _num_value(m.group("n"))

    hit = _first([_scan(_N_DIGITS, t.low, value), _scan(_N_AFTER_WORD, t.low, value)])
    if hit is None and expecting:
        hit = _scan(_N_BARE, t.low, value)
    return hit


# --- name ----------------------------------------------------------------------------------

_NAME_CUE_STRONG: Final = re.compile(
    r"\b(?:my\s+name(?:'s|\s+is)|the\s+name(?:'s|\s+is|\s+will\s+be|\s+would\s+be)|name's"
    r"|name\s+is|under\s+the\s+name(?:\s+of)?|name\s*:|you\s+can\s+call\s+me)"
)
_NAME_CUE_WEAK: Final = re.compile(
    r"\b(?:i'm|i\s+am|im|this\s+is|it's|it\s+is|under|call\s+me)(?![\w'])"
)
_NAME_WORD: Final = re.compile(r"[^\W\d_]+(?:['\-][^\W\d_]+)*")
_NAME_LEAD_GAP: Final = re.compile(r"[\s,:]*")
_NAME_GAP: Final = re.compile(r"[ \t]+")
_TITLES: Final = frozenset({"mr", "mrs", "ms", "miss", "dr", "doctor", "mister", "prof"})
_PARTICLES: Final = frozenset(
    {"van", "von", "de", "der", "den", "da", "di", "del", "della", "le", "la", "du", "bin", "al"}
)
_NOT_NAME: Final = frozenset(
    """
    a an the and or but nor for at on in to from with by of as if so than then now
    please pls thanks thank you cheers i i'm im i'd i'll i've me my mine myself we we're
    we'll us our you your he she him her his hers they them their it it's its this that these
    those there there's here is are was were be been am being do does did will would shall
    should can could may might must have has had not no yes yeah yep yup nope ok okay sure
    fine good great well hi hello hey sorry calling speaking again too also just only really
    very actually about regarding like want need booking book reservation table party people
    person guests name number phone email reference today tonight tomorrow yesterday morning
    afternoon evening night weekend week month year who what when where why how which all any
    some none one over under up down out into after before next last new old hungry ready
    done looking trying going gonna wanna wondering afraid glad happy interested available
    free back right wrong correct confused let let's hold wait hang pardon excuse repeat huh
    oh ah um uh hmm er one couple dozen half quarter noon midnight midday o'clock pm am
    """.split()
    + list(_WEEKDAYS)
    + list(_WORD_VALUES)
    + list(_ORD_WORDS)
)
_ACK_WORDS: Final = frozenset(
    "yes yeah yep yup sure ok okay hi hello hey well so oh right alright certainly".split()
)
_POLITE_WORDS: Final = frozenset({"please", "thanks", "cheers"})
_BARE_TOKEN: Final = re.compile(r"[^\W\d_]+(?:['\-][^\W\d_]+)*|[0-9]+|[^\w\s]")


def _title(word: str) -> str:
    if any(c.isupper() for c in word) and not word.isupper():
        return word  # "McDonald"
    return re.sub(r"[^\W\d_]+", lambda p: p.group().capitalize(), word.lower())


def _is_name_word(word: str) -> bool:
    return word not in _NOT_NAME


def _take_name(t: _Text, pos: int, need_capital: bool) -> tuple[int, str] | None:
    """Read a name starting at ``pos``: ``(end, name)``, or ``None``."""
    i = _NAME_LEAD_GAP.match(t.low, pos)
    at = i.end() if i else pos
    spans: list[tuple[int, int]] = []
    first_capital = False
    end = at
    while len(spans) < 4:
        m = _NAME_WORD.match(t.low, at)
        if m is None:
            break
        word = m.group()
        capital = t.orig[m.start()].isupper()
        if not spans and word in _TITLES:
            after = re.compile(r"\.?[ \t]+").match(t.low, m.end())
            if after is None:
                break
            at = after.end()
            continue
        if not _is_name_word(word) and not (spans and word in _PARTICLES):
            break
        if not spans:
            if need_capital and not capital:
                return None
            first_capital = capital
        elif first_capital and not capital and word not in _PARTICLES:
            break
        elif not first_capital and len(spans) == 3:
            break
        spans.append(m.span())
        end = m.end()
        gap = _NAME_GAP.match(t.low, end)
        if gap is None:
            break
        at = gap.end()
    while spans and t.low[spans[-1][0] : spans[-1][1]] in _PARTICLES:
        spans.pop()
    if not spans:
        return None
    words = [t.orig[a:b] for a, b in spans]
    return spans[-1][1], " ".join(
        w if i and w.islower() and w in _PARTICLES else _title(w) for i, w in enumerate(words)
    )


def _bare_name(t: _Text) -> _Hit | None:
    """The whole short answer as a name ("Jane Smith", "Sure, Jane.", "Smith, please")."""
    low = t.low
    tokens = list(_BARE_TOKEN.finditer(low))
    first, last = 0, len(tokens)

    def word(i: int) -> str:
        return tokens[i].group()

    while first < last and (not word(first)[0].isalnum() or word(first) in _ACK_WORDS):
        first += 1
    while first < last:
        if not word(last - 1)[0].isalnum() or word(last - 1) in _POLITE_WORDS:
            last -= 1
        elif word(last - 1) == "you" and last - 2 >= first and word(last - 2) == "thank":
            last -= 2
        else:
            break
    tokens = tokens[first:last]
    if not 1 <= len(tokens) <= 4:
        return None
    if not all(_NAME_WORD.fullmatch(m.group()) and _is_name_word(m.group()) for m in tokens):
        return None
    if all(m.group() in _PARTICLES for m in tokens):
        return None
    name = " ".join(_title(t.orig[m.start() : m.end()]) for m in tokens)
    return _Hit(tokens[0].start(), tokens[-1].end(), name)


def _find_name(t: _Text, today: date, expecting: bool) -> _Hit | None:
    hits: list[_Hit | None] = []
    for cues, need_capital in ((_NAME_CUE_STRONG, False), (_NAME_CUE_WEAK, not expecting)):
        for cue in cues.finditer(t.low):
            taken = _take_name(t, cue.end(), need_capital)
            if taken is not None:
                hits.append(_Hit(cue.start(), taken[0], taken[1]))
                break
    hit = _first(hits)
    if hit is None and expecting:
        hit = _bare_name(t)
    return hit


# --- reference -----------------------------------------------------------------------------

_NATO: Final = {
    w: w[0]
    for w in (
        "alpha alfa bravo charlie delta echo foxtrot golf hotel india juliet juliett kilo lima"
        " mike november oscar papa quebec romeo sierra tango uniform victor whiskey whisky"
        " xray yankee zulu"
    ).split()
}
_DIGIT_WORDS: Final = {"zero": "0", **{k: str(v) for k, v in _UNITS.items()}}
_REF_CANON: Final = re.compile(
    r"(?<![\w@.\-])(?P<a>[a-z]{2})(?P<dash>-?)(?P<b>[a-z0-9]{4})(?![\w@\-]|\.\w)"
)
_REF_TOKEN: Final = re.compile(r"[a-z0-9]+")
_REF_GAP: Final = re.compile(r"[\s\-.,]+")


def _read_ref_canon(m: re.Match[str], t: _Text) -> str | None:
    b = m.group("b")
    written = t.orig[m.start() : m.end()]
    if any(c.isdigit() for c in b) or written.isupper():
        return f"{m.group('a')}-{b}".upper()
    return None


def _ref_chars(token: str, orig: str, first: bool, expecting: bool) -> str | None:
    """What one spelled token contributes to a reference, or ``None`` if it can't."""
    if len(token) == 1:
        return token
    if token in _DIGIT_WORDS:
        return _DIGIT_WORDS[token]
    if token in _NATO:
        return _NATO[token]
    if len(token) <= 6 and any(c.isdigit() for c in token):
        return token
    if first and len(token) == 2 and token.isalpha() and (expecting or orig.isupper()):
        return token
    return None


def _spelled_refs(t: _Text, expecting: bool) -> Iterable[_Hit]:
    run: list[tuple[int, int, str]] = []  # start, end, chars

    def flush() -> Iterable[_Hit]:
        # The run's last 6 characters, when they start a token and with two letters.
        length = 0
        for i in range(len(run) - 1, -1, -1):
            length += len(run[i][2])
            if length >= 6:
                chars = "".join(c for _, _, c in run[i:])
                if length == 6 and chars[:2].isalpha():
                    yield _Hit(run[i][0], run[-1][1], f"{chars[:2]}-{chars[2:]}".upper())
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


def _find_reference(t: _Text, today: date, expecting: bool) -> _Hit | None:
    canon = _scan(_REF_CANON, t.low, lambda m: _read_ref_canon(m, t))
    spelled = next(iter(_spelled_refs(t, expecting)), None)
    return _first([canon, spelled])


# --- phone ---------------------------------------------------------------------------------

_PHONE_TOKEN: Final = re.compile(r"\+|[0-9]+|[^\W\d_]+")
_PHONE_GAP: Final = re.compile(r"[\s\-.,()]*")
_PHONE_CUE: Final = re.compile(
    r"\b(?:number|phone|call|reach|mobile|cell|contact|text|whatsapp|ring|dial)\b"
)
_PHONE_WORD_DIGITS: Final = {"oh": "0", "o": "0", **_DIGIT_WORDS}
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}")


def _phone_run(low: str, tokens: list[re.Match[str]], i: int) -> tuple[int, str, bool, bool]:
    """Digits read from ``tokens[i:]``: ``(next index, digits, plus, spoken)``."""
    digits, plus, spoken = "", False, False
    j = i
    if tokens[j].group() in ("+", "plus"):
        plus, spoken, j = True, tokens[j].group() == "plus", j + 1
    n = len(tokens)

    def joined(k: int) -> bool:
        return (
            k < n and _PHONE_GAP.fullmatch(low, tokens[k - 1].end(), tokens[k].start()) is not None
        )

    def single(k: int) -> str | None:
        word = tokens[k].group()
        if word.isdigit() and len(word) == 1:
            return word
        return _PHONE_WORD_DIGITS.get(word)

    while j < n and (j == i or joined(j)):
        word = tokens[j].group()
        if word.isdigit():
            digits += word
        elif word in _PHONE_WORD_DIGITS:
            if (
                not digits
                and word in ("oh", "o")
                and not (joined(j + 1) and single(j + 1) is not None)
            ):
                break  # "Oh, 555 …" is an exclamation
            digits += _PHONE_WORD_DIGITS[word]
            spoken = True
        elif word in ("double", "triple") and joined(j + 1) and single(j + 1) is not None:
            digits += (single(j + 1) or "") * (2 if word == "double" else 3)
            spoken, j = True, j + 1
        elif word in _TEENS:
            digits += str(_TEENS[word])
            spoken = True
        elif word in _TENS:
            unit = tokens[j + 1].group() if joined(j + 1) else ""
            if unit in _UNITS:
                digits += str(_TENS[word] + _UNITS[unit])
                j += 1
            else:
                digits += str(_TENS[word])
            spoken = True
        elif word == "hundred" and digits:
            digits += "00"
            spoken = True
        elif word == "thousand" and digits:
            digits += "000"
            spoken = True
        else:
            break
        j += 1
    return j, digits, plus, spoken


def _find_phone(t: _Text, today: date, expecting: bool) -> _Hit | None:
    low = t.low
    tokens = list(_PHONE_TOKEN.finditer(low))
    i = 0
    while i < len(tokens):
        j, digits, plus, spoken = _phone_run(low, tokens, i)
        if j <= i or not digits:
            i += 1
            continue
        start, end = tokens[i].start(), tokens[j - 1].end()
        ok = 7 <= len(digits) <= 15 and not _ISO_DATE.fullmatch(low, start, end)
        if ok and spoken and not expecting:
            ok = _PHONE_CUE.search(low, 0, start) is not None
        if ok:
            return _Hit(start, end, ("+" if plus else "") + digits)
        i = j
    return None


# --- email ---------------------------------------------------------------------------------

_E_ATOM: Final = r"[a-z0-9]+"
_E_DOT: Final = r"(?:\.|\s+dot\s+)"
_E_LABEL: Final = r"[a-z0-9][a-z0-9-]{0,62}"
_EMAIL: Final = re.compile(
    r"(?<![\w.+\-@])(?<!dot )(?<!dash )(?<!plus )(?<!hyphen )(?<!underscore )"
    rf"(?P<local>{_E_ATOM}(?:(?:[._+\-]|\s+(?:dot|underscore|dash|hyphen|plus)\s+)"
    rf"{_E_ATOM})*)(?:\s*@\s*|\s+at\s+)(?P<domain>{_E_LABEL}(?:{_E_DOT}{_E_LABEL})*{_E_DOT}"
    r"[a-z]{2,24})\b(?!-)"
)
_E_SPOKEN: Final = {"dot": ".", "underscore": "_", "dash": "-", "hyphen": "-", "plus": "+"}


def _read_email(m: re.Match[str]) -> str:
    local = re.sub(
        r"\s+(dot|underscore|dash|hyphen|plus)\s+", lambda w: _E_SPOKEN[w[1]], m["local"]
    )
    domain = re.sub(r"\s+dot\s+", ".", m["domain"])
    return f"{local}@{domain}"


def _find_email(t: _Text, today: date, expecting: bool) -> _Hit | None:
    return _scan(_EMAIL, t.low, _read_email)


# --- text and the public API ---------------------------------------------------------------


def _text_value(text: str) -> str | None:
    stripped = text.strip()
    return stripped if any(c.isalnum() for c in stripped) else None


_Finder = Callable[[_Text, date, bool], _Hit | None]
_FINDERS: Final[Mapping[str, _Finder]] = {
    "email": _find_email,
    "reference": _find_reference,
    "phone": _find_phone,
    "time": _find_time,
    "date": _find_date,
    "party_size": _find_party_size,
    "name": _find_name,
    "number": _find_number,
}
# extract_all's order: most distinctive shapes first, so "7" of "7pm" is the time's before the
# party size can take it, and loose numbers last.
_FIRST_PASS: Final = ("email", "reference", "phone", "time", "date", "party_size", "name")


def _check_type(slot_type: str) -> None:
    if slot_type not in SLOT_TYPES:
        raise ValueError(f"unknown slot type {slot_type!r}; expected one of {sorted(SLOT_TYPES)}")


def extract(
    slot_type: SlotType, text: str, now: datetime, *, expecting: bool = False
) -> _Value | None:
    """The value of one slot in ``text``, or ``None`` when the text doesn't hold it.

    ``now`` (tz-aware, in the agent's timezone) anchors relative dates. Pass
    ``expecting=True`` when the agent just asked for this slot, so a bare answer counts.
    Raises :class:`ValueError` for an unknown ``slot_type``.
    """
    _check_type(slot_type)
    if slot_type == "text":
        return _text_value(text) if expecting else None
    hit = _FINDERS[slot_type](_prepare(text), now.date(), expecting)
    return None if hit is None else hit.value


def extract_all(
    slot_types: Mapping[str, SlotType],
    text: str,
    now: datetime,
    *,
    expecting: str | None = None,
) -> dict[str, object]:
    """Fill the named slots that ``text`` holds; words used by one slot aren't reused.

    Slots are tried in a fixed order of types (email, reference, phone, time, date, party
    size, name, then numbers); slots of the same type in ``slot_types`` order, each taking the
    next unused mention ("from the 3rd to the 5th"). ``expecting`` names the slot the agent
    just asked for: after the explicit pass it may also take a bare answer from the words
    left. The result keeps ``slot_types`` order and leaves out slots not found. Raises
    :class:`ValueError` for an unknown slot type or an ``expecting`` that isn't a slot name.
    """
    for slot_type in slot_types.values():
        _check_type(slot_type)
    if expecting is not None and expecting not in slot_types:
        raise ValueError(f"expecting={expecting!r} is not one of the slots {list(slot_types)}")
    t = _prepare(text)
    today = now.date()
    found: dict[str, object] = {}

    def fill(name: str, slot_type: str, bare: bool) -> None:
        nonlocal t
        hit = _FINDERS[slot_type](t, today, bare)
        if hit is not None:
            found[name] = hit.value
            t = _mask(t, hit)

    for slot_type in _FIRST_PASS:
        for name, st in slot_types.items():
            if st == slot_type:
                fill(name, st, False)
    if expecting is not None and expecting not in found:
        st = slot_types[expecting]
        if st == "text":
            value = _text_value(text)
            if value is not None:
                found[expecting] = value
        else:
            fill(expecting, st, True)
    for name, st in slot_types.items():
        if st == "number" and name not in found:
            fill(name, st, False)
    return {name: found[name] for name in slot_types if name in found}
