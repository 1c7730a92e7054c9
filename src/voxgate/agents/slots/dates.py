"""The ``date`` slot's parser: relative days ("tomorrow", "next Friday", "in two weeks"),
month and day ("the 5th of May"), ISO dates; never in the past unless a year says so."""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from typing import Final

from voxgate.agents.slots.numerals import NUM_WORDS, ORD, num, num_value, ord_value
from voxgate.agents.slots.scanning import Text, alt, finder, group
from voxgate.agents.slots.vocabulary import PEOPLE, SEP, UNITS_AFTER, WEEKDAY, WEEKDAYS

_MONTHS: Final = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11,
    "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
_MONTH: Final = rf"(?P<mon>{alt(_MONTHS)})\b\.?"
_PREP: Final = rf"(?:(?:on|for|by|until|till|from|before|after){SEP})?"
_DAYNUM: Final = rf"(?P<day>{ORD}|[0-9]{{1,2}})\b"
_YEAR: Final = r"(?:,?\s+(?P<year>(?:19|20)[0-9]{2})\b)?"
_NOT_COUNT: Final = (
    rf"(?![\s,]*(?::|[ap]\.?\s?m\b|o'?\s?clock\b|(?:{PEOPLE}|kids|children|{UNITS_AFTER})\b))"
)
_NOT_PRONOUN: Final = r"(?!\s+(?:i|we|you|he|she|it|they)\b)"
_ORD_NOUN: Final = (
    r"(?![\s,]*(?:time|times|floor|person|caller|one|row|attempt|place|course|week|month|year"
    r"|thing|item|option|choice)\b)"
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


def _read_iso(m: re.Match[str], t: Text, today: date) -> date:
    return date(int(m["y"]), int(m["m"]), int(m["d"]))


def _read_rel(m: re.Match[str], t: Text, today: date) -> date:
    rel = " ".join(m.group("rel").split())
    if rel.endswith("day after tomorrow"):
        return _add_days(today, 2)
    if rel in ("tomorrow", "tmrw"):
        return _add_days(today, 1)
    return today


def _read_in(m: re.Match[str], t: Text, today: date) -> date | None:
    n = 1 if group(m, "a") else num_value(m.group("n"))
    if n > 400:
        return None
    return _add_days(today, n * (7 if m.group("unit").startswith("week") else 1))


def _read_weekend(m: re.Match[str], t: Text, today: date) -> date:
    return _weekend(today, group(m, "q") == "next")


def _read_weekday(m: re.Match[str], t: Text, today: date) -> date:
    following = group(m, "q") == "next" or group(m, "q2") == "next"
    return _weekday(today, WEEKDAYS[m.group("wd")], following)


def _day_number(text: str) -> int:
    return int(text) if text.isdigit() else ord_value(text)


def _read_month_day(m: re.Match[str], t: Text, today: date) -> date | None:
    year = group(m, "year")
    return _month_day(
        today,
        _MONTHS[m.group("mon")],
        _day_number(m.group("day")),
        int(year) if year else None,
    )


def _read_ordinal(m: re.Match[str], t: Text, today: date) -> date | None:
    return _day_of_month(today, ord_value(m.group("day")))


def _read_bare_number(m: re.Match[str], t: Text, today: date) -> date | None:
    return _day_of_month(today, num_value(m["n"]))


find_date: Final = finder(
    [
        (
            rf"(?:\b(?:on|for|by|until|till|from){SEP})?(?<![0-9\-/.])"
            r"(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})(?![0-9\-/])",
            _read_iso,
        ),
        (
            rf"\b{_PREP}(?P<rel>(?:the\s+)?day\s+after\s+tomorrow|tomorrow|tmrw|today|tonight"
            r"|this\s+(?:morning|afternoon|evening))\b",
            _read_rel,
        ),
        (rf"\bin{SEP}(?:(?P<a>an?)|{num('n')})\s+(?P<unit>days?|weeks?)\b", _read_in),
        (
            rf"\b(?:(?:on|for|over|at){SEP})?(?:(?P<q>this\s+coming|this|next|the|coming)\s+)?"
            r"weekend\b",
            _read_weekend,
        ),
        (
            rf"\b{_PREP}(?:(?P<q>this\s+coming|this|coming|next)\s+)?(?P<wd>{WEEKDAY})\b"
            r"(?:\s+(?P<q2>next|this)\s+week\b)?",
            _read_weekday,
        ),
        (
            rf"\b{_PREP}(?:(?:this|next)\s+)?{WEEKDAY}(?:{SEP}the)?{SEP}(?P<day>{ORD})\b",
            _read_ordinal,
        ),
        (
            rf"\b{_PREP}(?:{WEEKDAY}{SEP}(?:the\s+)?)?{_MONTH}{_NOT_PRONOUN}{SEP}(?:the\s+)?"
            rf"{_DAYNUM}{_NOT_COUNT}{_YEAR}",
            _read_month_day,
        ),
        (
            rf"\b{_PREP}(?:{WEEKDAY}{SEP})?(?:the\s+)?{_DAYNUM}(?:\s+of)?{SEP}{_MONTH}"
            rf"{_NOT_PRONOUN}{_YEAR}",
            _read_month_day,
        ),
        (
            rf"\b(?:(?:on|for|by|until|till|from){SEP}(?:the\s+)?|the\s+)(?P<day>{ORD})\b{_ORD_NOUN}",
            _read_ordinal,
        ),
    ],
    [
        (rf"\b(?P<day>{ORD})\b{_ORD_NOUN}", _read_ordinal),
        (rf"^[^\w]*(?:(?:on|the)\s+)*(?P<n>[0-9]{{1,2}}|{NUM_WORDS})[^\w]*$", _read_bare_number),
    ],
)
