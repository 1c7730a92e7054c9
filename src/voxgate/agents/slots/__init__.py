"""Slot extraction for the flow brain: dates, times, party sizes, names, … from one utterance.

Pure: no I/O, no asyncio, no clock (``now`` is passed in). The input is English as a speech
recognizer (Whisper) or a typing user writes it: digits mixed with number words, punctuation,
fillers ("um", "uh"), any casing.

One module per parser (:mod:`.times`, :mod:`.dates`, :mod:`.party`, :mod:`.numerals`,
:mod:`.names`, :mod:`.references`, :mod:`.phones`, :mod:`.emails`) over the shared
:mod:`.scanning` and :mod:`.vocabulary`; this module ties them together.

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

from collections.abc import Mapping
from datetime import datetime
from typing import Final, Literal, get_args

from voxgate.agents.slots.dates import find_date
from voxgate.agents.slots.emails import find_email
from voxgate.agents.slots.names import find_name
from voxgate.agents.slots.numerals import find_number
from voxgate.agents.slots.party import find_party_size
from voxgate.agents.slots.phones import find_phone
from voxgate.agents.slots.references import find_reference
from voxgate.agents.slots.scanning import Finder, Value, mask, prepare
from voxgate.agents.slots.times import find_time

__all__ = ["SLOT_TYPES", "SlotType", "extract", "extract_all"]

SlotType = Literal[
    "date", "time", "number", "party_size", "name", "text", "reference", "phone", "email"
]
SLOT_TYPES: Final[frozenset[str]] = frozenset(get_args(SlotType))


def _text_value(text: str) -> str | None:
    stripped = text.strip()
    return stripped if any(c.isalnum() for c in stripped) else None


_FINDERS: Final[Mapping[str, Finder]] = {
    "email": find_email,
    "reference": find_reference,
    "phone": find_phone,
    "time": find_time,
    "date": find_date,
    "party_size": find_party_size,
    "name": find_name,
    "number": find_number,
}
# extract_all's order: most distinctive shapes first, so "7" of "7pm" is the time's before the
# party size can take it, and loose numbers last.
_FIRST_PASS: Final = ("email", "reference", "phone", "time", "date", "party_size", "name")


def _check_type(slot_type: str) -> None:
    if slot_type not in SLOT_TYPES:
        raise ValueError(f"unknown slot type {slot_type!r}; expected one of {sorted(SLOT_TYPES)}")


def extract(
    slot_type: SlotType, text: str, now: datetime, *, expecting: bool = False
) -> Value | None:
    """The value of one slot in ``text``, or ``None`` when the text doesn't hold it.

    ``now`` (tz-aware, in the agent's timezone) anchors relative dates. Pass
    ``expecting=True`` when the agent just asked for this slot, so a bare answer counts.
    Raises :class:`ValueError` for an unknown ``slot_type``.
    """
    _check_type(slot_type)
    if slot_type == "text":
        return _text_value(text) if expecting else None
    hit = _FINDERS[slot_type](prepare(text), now.date(), expecting)
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
    t = prepare(text)
    today = now.date()
    found: dict[str, object] = {}

    def fill(name: str, slot_type: str, bare: bool) -> None:
        nonlocal t
        hit = _FINDERS[slot_type](t, today, bare)
        if hit is not None:
            found[name] = hit.value
            t = mask(t, hit)

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
