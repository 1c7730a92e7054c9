"""Slot extraction: table-driven cases per slot type, combined utterances, and fuzzing.

``NOW`` is Wednesday 2026-03-04 10:00 in a UTC+1 agent timezone unless a case says otherwise.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_pure_core import violations
from voxgate.agents import slots
from voxgate.agents.slots import SLOT_TYPES, SlotType, extract, extract_all

TZ = timezone(timedelta(hours=1))
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=TZ)  # a Wednesday
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
ALL_TYPES: list[SlotType] = ["date", "time", "number", "party_size", "name", "text", "reference",
                             "phone", "email"]  # fmt: skip
TYPES_OF_VALUES: dict[str, type] = {
    "date": date,
    "time": time,
    "number": int,
    "party_size": int,
    "name": str,
    "text": str,
    "reference": str,
    "phone": str,
    "email": str,
}


def at(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(10, 0), tzinfo=TZ)


def d(day: str) -> date:
    return date.fromisoformat(day)


# --- date ----------------------------------------------------------------------------------

DATE_CASES: list[tuple[str, bool, date | None]] = [
    ("today", False, d("2026-03-04")),
    ("Tonight, please.", False, d("2026-03-04")),
    ("this evening", False, d("2026-03-04")),
    ("tomorrow", False, d("2026-03-05")),
    ("Tomorrow evening.", False, d("2026-03-05")),
    ("the day after tomorrow", False, d("2026-03-06")),
    ("on Friday", False, d("2026-03-06")),
    ("Friday at 7", False, d("2026-03-06")),
    ("this Friday", False, d("2026-03-06")),
    ("next Friday", False, d("2026-03-13")),
    ("friday next week", False, d("2026-03-13")),
    ("on wednesday", False, d("2026-03-04")),  # today's weekday is today
    ("next Wednesday", False, d("2026-03-11")),
    ("Monday", False, d("2026-03-09")),
    ("next Monday", False, d("2026-03-09")),  # the following calendar week's Monday
    ("this weekend", False, d("2026-03-07")),
    ("on the weekend", False, d("2026-03-07")),
    ("next weekend", False, d("2026-03-14")),
    ("the 5th", False, d("2026-03-05")),
    ("on the fifth", False, d("2026-03-05")),
    ("on the 4th", False, d("2026-03-04")),
    ("on the third", False, d("2026-04-03")),  # past this month: next month
    ("the thirty first", False, d("2026-03-31")),
    ("on the twenty-first", False, d("2026-03-21")),
    ("December 3rd", False, d("2026-12-03")),
    ("3rd of December", False, d("2026-12-03")),
    ("the third of December", False, d("2026-12-03")),
    ("3 December", False, d("2026-12-03")),
    ("Dec 3", False, d("2026-12-03")),
    ("Dec. 3rd, 2027", False, d("2027-12-03")),
    ("December the 3rd", False, d("2026-12-03")),
    ("2026-12-03", False, d("2026-12-03")),
    ("on Friday the 13th", False, d("2026-03-13")),
    ("in 3 days", False, d("2026-03-07")),
    ("in a week", False, d("2026-03-11")),
    ("in two weeks", False, d("2026-03-18")),
    ("March 1st", False, d("2027-03-01")),  # past: next year
    ("March 4", False, d("2026-03-04")),
    ("Feb 29", False, d("2028-02-29")),
    ("February 30th", False, None),
    ("12/3", False, None),
    ("3/12/2026", False, None),
    ("friday", True, d("2026-03-06")),
    ("Um, Friday?", True, d("2026-03-06")),
    ("fifth", True, d("2026-03-05")),
    ("5th", True, d("2026-03-05")),
    ("the 5", True, d("2026-03-05")),
    ("5", True, d("2026-03-05")),
    ("fifth", False, None),
    ("5", False, None),
    ("my fifth visit", False, None),
    ("for the first time", False, None),
    ("May I book a table?", False, None),
    ("May 4 people come?", False, None),
    ("what time do you open on sundays", False, None),
    ("in December", False, None),
]


@pytest.mark.parametrize(("text", "expecting", "expected"), DATE_CASES)
def test_date(text: str, expecting: bool, expected: date | None) -> None:
    assert extract("date", text, NOW, expecting=expecting) == expected


DATE_ROLLOVER_CASES: list[tuple[str, str, date | None]] = [
    ("2026-12-30", "tomorrow", d("2026-12-31")),
    ("2026-12-30", "the day after tomorrow", d("2027-01-01")),
    ("2026-12-30", "the 5th", d("2027-01-05")),
    ("2026-12-30", "the 30th", d("2026-12-30")),
    ("2026-12-30", "Jan 2nd", d("2027-01-02")),
    ("2026-12-30", "December 3rd", d("2027-12-03")),
    ("2026-12-30", "December 31st", d("2026-12-31")),
    ("2026-12-30", "on Friday", d("2027-01-01")),
    ("2026-12-30", "next weekend", d("2027-01-09")),
    ("2026-12-30", "in a week", d("2027-01-06")),
    ("2026-12-31", "on the 31st", d("2026-12-31")),
    ("2026-12-31", "the 1st", d("2027-01-01")),
    ("2026-01-31", "the 30th", d("2026-03-30")),  # February has no 30th
    ("2026-01-31", "the 31st", d("2026-01-31")),
    ("2026-01-31", "this weekend", d("2026-01-31")),  # a Saturday: today
    ("2026-01-31", "next weekend", d("2026-02-07")),
    ("2026-01-31", "Sunday", d("2026-02-01")),
    ("2026-02-01", "this weekend", d("2026-02-01")),  # a Sunday: today
    ("2026-02-01", "next weekend", d("2026-02-07")),
    ("2026-02-01", "next Monday", d("2026-02-02")),
    ("2026-02-01", "Saturday", d("2026-02-07")),
    ("2026-04-30", "the 31st", d("2026-05-31")),
    ("2027-03-01", "Feb 29", d("2028-02-29")),
    ("2027-03-01", "29th of February", d("2028-02-29")),
]


@pytest.mark.parametrize(("today", "text", "expected"), DATE_ROLLOVER_CASES)
def test_date_rollover(today: str, text: str, expected: date | None) -> None:
    assert extract("date", text, at(today)) == expected


# --- time ----------------------------------------------------------------------------------

TIME_CASES: list[tuple[str, bool, time | None]] = [
    ("7pm", False, time(19, 0)),
    ("7 p.m.", False, time(19, 0)),
    ("Seven p.m.", False, time(19, 0)),
    ("7 PM", False, time(19, 0)),
    ("at 7:30 pm", False, time(19, 30)),
    ("7.30pm", False, time(19, 30)),
    ("11am", False, time(11, 0)),
    ("12pm", False, time(12, 0)),
    ("12am", False, time(0, 0)),
    ("19:00", False, time(19, 0)),
    ("7:30", False, time(19, 30)),  # bare 1-11: pm
    ("09:15", False, time(9, 15)),  # zero-padded: 24-hour
    ("at 7", False, time(19, 0)),
    ("At seven.", False, time(19, 0)),
    ("around 8", False, time(20, 0)),
    ("at 11", False, time(23, 0)),
    ("at 12", False, time(12, 0)),
    ("at 19", False, time(19, 0)),
    ("seven o'clock", False, time(19, 0)),
    ("7 o'clock in the morning", False, time(7, 0)),
    ("half past seven", False, time(19, 30)),
    ("quarter past eight in the morning", False, time(8, 15)),
    ("quarter to eight", False, time(19, 45)),
    ("a quarter to one", False, time(12, 45)),
    ("ten past six", False, time(18, 10)),
    ("twenty five to nine", False, time(20, 35)),
    ("noon", False, time(12, 0)),
    ("at midday", False, time(12, 0)),
    ("Midnight.", False, time(0, 0)),
    ("at seven in the evening", False, time(19, 0)),
    ("at 9 in the morning", False, time(9, 0)),
    ("tomorrow morning at 9", False, time(9, 0)),
    ("seven thirty tonight", False, time(19, 30)),
    ("at half seven", False, time(19, 30)),
    ("for seven thirty", False, time(19, 30)),
    ("at seven forty-five", False, time(19, 45)),
    ("at eight oh five", False, time(20, 5)),
    ("seven", True, time(19, 0)),
    ("7", True, time(19, 0)),
    ("seven thirty", True, time(19, 30)),
    ("7 30", True, time(19, 30)),
    ("half seven", True, time(19, 30)),
    ("Um, eight?", True, time(20, 0)),
    ("ten", True, time(22, 0)),
    ("seven", False, None),
    ("seven thirty", False, None),
    ("I have two dogs", False, None),
    ("at least two", False, None),
    ("at 2 people", False, None),
    ("table for four", False, None),
    ("it costs 7.50", False, None),
    ("we need 2 hours", False, None),
    ("at 25", False, None),
    ("13pm", False, None),
    ("four people", True, None),
    ("two days", True, None),
]


@pytest.mark.parametrize(("text", "expecting", "expected"), TIME_CASES)
def test_time(text: str, expecting: bool, expected: time | None) -> None:
    assert extract("time", text, NOW, expecting=expecting) == expected


# --- party size and number -----------------------------------------------------------------

PARTY_CASES: list[tuple[str, bool, int | None]] = [
    ("For four, please.", False, 4),
    ("a table for 2", False, 2),
    ("for four people", False, 4),
    ("Table for two.", False, 2),
    ("party of six", False, 6),
    ("a party of 6 people", False, 6),
    ("four of us", False, 4),
    ("just the two of us", False, 2),
    ("just me", False, 1),
    ("only myself", False, 1),
    ("me and my wife", False, 2),
    ("my husband and I", False, 2),
    ("we are five", False, 5),
    ("We'll be 3.", False, 3),
    ("two adults and two kids", False, 4),
    ("for a couple", False, 2),
    ("a dozen of us", False, 12),
    ("for twenty-one", False, 21),
    ("for twenty one people", False, 21),
    ("for 4 at 7pm", False, 4),
    ("for, um, four people", False, 4),
    ("table for one", False, 1),
    ("I have two dogs", False, None),
    ("for 2 nights", False, None),
    ("for 7 pm", False, None),
    ("for 7:30", False, None),
    ("for four thirty", False, None),
    ("for 2 hours", False, None),
    ("for 50 people", False, None),  # out of range
    ("we are 2 minutes away", False, None),
    ("four", False, None),
    ("one of those please", False, None),
    ("four", True, 4),
    ("4", True, 4),
    ("Four.", True, 4),
    ("uh, six please", True, 6),
    ("a couple", True, 2),
    ("I have two dogs", True, 2),  # a bare number when asked
    ("40", True, None),
    ("zero", True, None),
    ("at 7", True, None),
    ("two hours", True, None),
]


@pytest.mark.parametrize(("text", "expecting", "expected"), PARTY_CASES)
def test_party_size(text: str, expecting: bool, expected: int | None) -> None:
    assert extract("party_size", text, NOW, expecting=expecting) == expected


NUMBER_CASES: list[tuple[str, bool, int | None]] = [
    ("42", False, 42),
    ("I need 3", False, 3),
    ("order 1,200", False, 1200),
    ("number five", False, 5),
    ("the number is twenty two", False, 22),
    ("forty two", True, 42),
    ("a dozen", True, 12),
    ("one hundred and five", True, 105),
    ("a hundred", True, 100),
    ("twenty-one", True, 21),
    ("zero", True, 0),
    ("forty two", False, None),
    ("no one", False, None),
    ("7:30", False, None),
    ("2026-12-03", False, None),
    ("3.5", False, None),
    ("nothing here", True, None),
]


@pytest.mark.parametrize(("text", "expecting", "expected"), NUMBER_CASES)
def test_number(text: str, expecting: bool, expected: int | None) -> None:
    assert extract("number", text, NOW, expecting=expecting) == expected


# --- name ----------------------------------------------------------------------------------

NAME_CASES: list[tuple[str, bool, str | None]] = [
    ("my name is jane smith", False, "Jane Smith"),
    ("My name's Jane.", False, "Jane"),
    ("Name's Bond, James Bond.", False, "Bond"),
    ("I'm Jane", False, "Jane"),
    ("Hi, this is Jane Smith speaking", False, "Jane Smith"),
    ("It's Jane.", False, "Jane"),
    ("call me Ishmael", False, "Ishmael"),
    ("It's under Patel", False, "Patel"),
    ("book it under the name of O'Brien", False, "O'Brien"),
    ("under the name Jane Smith at 7", False, "Jane Smith"),
    ("my name is jane and I'd like a table", False, "Jane"),
    ("This is Dr. Smith", False, "Smith"),
    ("I'm Mary-Jane Watson", False, "Mary-Jane Watson"),
    ("my name is Ludwig van Beethoven", False, "Ludwig van Beethoven"),
    ("My name is JANE", False, "Jane"),
    ("My name is McDonald", False, "McDonald"),
    ("name: jane doe", False, "Jane Doe"),
    ("my name is, um, José García", False, "José García"),
    ("Smith", True, "Smith"),
    ("jane smith", True, "Jane Smith"),
    ("It's Jane.", True, "Jane"),
    ("Sure, Jane.", True, "Jane"),
    ("Jane Smith, please.", True, "Jane Smith"),
    ("Um, Jane. Thank you", True, "Jane"),
    ("i'm jane", True, "Jane"),
    ("o'brien", True, "O'Brien"),
    ("yes", True, None),
    ("I don't know", True, None),
    ("for four", True, None),
    ("Jane Smith for four", True, None),  # not a short answer; extract_all masks "for four"
    ("Please hold on one moment", True, None),
    ("jane smith", False, None),
    ("i'm jane", False, None),
    ("I'm looking for a table", False, None),
    ("I'm Sorry", False, None),
    ("This is great", False, None),
    ("It's fine", False, None),
    ("call me tomorrow", False, None),
    ("under the table", False, None),
]


@pytest.mark.parametrize(("text", "expecting", "expected"), NAME_CASES)
def test_name(text: str, expecting: bool, expected: str | None) -> None:
    assert extract("name", text, NOW, expecting=expecting) == expected


# --- reference, phone, email, text ---------------------------------------------------------

REFERENCE_CASES: list[tuple[str, bool, str | None]] = [
    ("BD-7K3Q", False, "BD-7K3Q"),
    ("bd-7k3q", False, "BD-7K3Q"),
    ("bd7k3q", False, "BD-7K3Q"),
    ("B D 7 K 3 Q", False, "BD-7K3Q"),
    ("B, D, 7, K, 3, Q.", False, "BD-7K3Q"),
    ("b-d-seven-k-three-q", False, "BD-7K3Q"),
    ("my reference is BD 7K3Q", False, "BD-7K3Q"),
    ("bravo delta seven kilo three quebec", False, "BD-7K3Q"),
    ("It's B.D. 7K3Q", False, "BD-7K3Q"),
    ("AB1234", False, "AB-1234"),
    ("bd 7k3q", True, "BD-7K3Q"),
    ("bd 7k3q", False, None),
    ("re-book", False, None),
    ("co-host", False, None),
    ("at 7pm", False, None),
    ("table for 2 at 1930", False, None),
    ("BD-7K3QX", False, None),
    ("5 5 5 1 2 3 4", False, None),
]


@pytest.mark.parametrize(("text", "expecting", "expected"), REFERENCE_CASES)
def test_reference(text: str, expecting: bool, expected: str | None) -> None:
    assert extract("reference", text, NOW, expecting=expecting) == expected


PHONE_CASES: list[tuple[str, bool, str | None]] = [
    ("+1 (555) 123-4567", False, "+15551234567"),
    ("555-123-4567", False, "5551234567"),
    ("call me on 020 7946 0958", False, "02079460958"),
    ("my number is five five five, oh one two, three four five six", False, "5550123456"),
    ("my number is double five five, one two three four", False, "5551234"),
    ("phone: plus four four, seven seven hundred, nine hundred", False, "+447700900"),
    ("Oh, 555 123 4567", False, "5551234567"),
    ("five five five one two three four", True, "5551234"),
    ("five five five one two three four", False, None),  # spoken without a cue
    ("2026-12-03", False, None),
    ("123456", False, None),
    ("1234567890123456", False, None),
]


@pytest.mark.parametrize(("text", "expecting", "expected"), PHONE_CASES)
def test_phone(text: str, expecting: bool, expected: str | None) -> None:
    assert extract("phone", text, NOW, expecting=expecting) == expected


EMAIL_CASES: list[tuple[str, str | None]] = [
    ("jane@example.com", "jane@example.com"),
    ("It's Jane.Smith@Example.co.uk.", "jane.smith@example.co.uk"),
    ("jane at example dot com", "jane@example.com"),
    ("jane dot smith at example dot com", "jane.smith@example.com"),
    ("my email is j underscore doe at mail dot example dot org", "j_doe@mail.example.org"),
    ("jane at example.com", "jane@example.com"),
    ("meet me at the cafe", None),
    ("look at this", None),
    ("jane@localhost", None),
]


@pytest.mark.parametrize(("text", "expected"), EMAIL_CASES)
def test_email(text: str, expected: str | None) -> None:
    assert extract("email", text, NOW) == expected
    assert extract("email", text, NOW, expecting=True) == expected


TEXT_CASES: list[tuple[str, bool, str | None]] = [
    ("  I'd like to change my booking. ", True, "I'd like to change my booking."),
    ("no", True, "no"),
    ("...", True, None),
    ("", True, None),
    ("I'd like to change my booking.", False, None),
]


@pytest.mark.parametrize(("text", "expecting", "expected"), TEXT_CASES)
def test_text(text: str, expecting: bool, expected: str | None) -> None:
    assert extract("text", text, NOW, expecting=expecting) == expected


NO_SLOT_SENTENCES = [
    "The child almost hurt the small dog.",
    "Hello, how are you?",
    "Can I speak to someone?",
    "I'd like to book a table",
    "What are your opening hours?",
    "no one is here",
    "It's fine, thanks.",
    "",
]


@pytest.mark.parametrize("text", NO_SLOT_SENTENCES)
@pytest.mark.parametrize("slot_type", ALL_TYPES)
def test_no_slot_without_expecting(slot_type: SlotType, text: str) -> None:
    assert extract(slot_type, text, NOW) is None


# --- extract_all ---------------------------------------------------------------------------

BOOKING: dict[str, SlotType] = {
    "party": "party_size",
    "day": "date",
    "at": "time",
    "name": "name",
}
CONTACT: dict[str, SlotType] = {"email": "email", "phone": "phone", "ref": "reference"}

EXTRACT_ALL_CASES: list[tuple[str, dict[str, SlotType], str | None, dict[str, object]]] = [
    (
        "book a table for four on friday at 7pm under the name Jane Smith",
        BOOKING,
        None,
        {"party": 4, "day": d("2026-03-06"), "at": time(19, 0), "name": "Jane Smith"},
    ),
    (
        "Hi, this is Jane Smith, I'd like a table for 4 tomorrow at 7:30 PM.",
        BOOKING,
        None,
        {"party": 4, "day": d("2026-03-05"), "at": time(19, 30), "name": "Jane Smith"},
    ),
    (
        "Um, for, uh, four people on the fifth of December, please.",
        BOOKING,
        None,
        {"party": 4, "day": d("2026-12-05")},
    ),
    ("a table for four thirty", BOOKING, None, {"at": time(16, 30)}),
    ("for four at seven thirty", BOOKING, None, {"party": 4, "at": time(19, 30)}),
    ("7pm for 2", BOOKING, None, {"party": 2, "at": time(19, 0)}),
    (
        "at 8 tonight for 2",
        BOOKING,
        None,
        {"party": 2, "day": d("2026-03-04"), "at": time(20, 0)},
    ),
    (
        "party of 12 on Dec 31st at 9 pm under Smith",
        BOOKING,
        None,
        {"party": 12, "day": d("2026-12-31"), "at": time(21, 0), "name": "Smith"},
    ),
    (
        "tomorrow at 7 in the morning for six people",
        BOOKING,
        None,
        {"party": 6, "day": d("2026-03-05"), "at": time(7, 0)},
    ),
    (
        "We're six, next Friday at half past eight",
        BOOKING,
        None,
        {"party": 6, "day": d("2026-03-13"), "at": time(20, 30)},
    ),
    ("For four, please.", BOOKING, None, {"party": 4}),
    ("The child almost hurt the small dog.", {**BOOKING, **CONTACT}, None, {}),
    (
        "my email is jane at example dot com and my number is 555 123 4567",
        CONTACT,
        None,
        {"email": "jane@example.com", "phone": "5551234567"},
    ),
    (
        "reference BD-7K3Q, I need to move it to Saturday at noon",
        {**BOOKING, **CONTACT},
        None,
        {"ref": "BD-7K3Q", "day": d("2026-03-07"), "at": time(12, 0)},
    ),
    ("seven for four", BOOKING, "at", {"party": 4, "at": time(19, 0)}),
    ("four at seven", BOOKING, "party", {"party": 4, "at": time(19, 0)}),
    (
        "Jane, for four on Friday",
        BOOKING,
        "name",
        {"name": "Jane", "party": 4, "day": d("2026-03-06")},
    ),
    ("7", {"at": "time", "count": "number"}, "at", {"at": time(19, 0)}),
    (
        "for 4, order number 12",
        {"count": "number", "party": "party_size"},
        None,
        {"count": 12, "party": 4},
    ),
    (
        "I want to ask about friday",
        {"question": "text", "day": "date"},
        "question",
        {"question": "I want to ask about friday", "day": d("2026-03-06")},
    ),
    ("I want to ask about friday", {"question": "text"}, None, {}),
]


@pytest.mark.parametrize(("text", "slot_types", "expecting", "expected"), EXTRACT_ALL_CASES)
def test_extract_all(
    text: str, slot_types: dict[str, SlotType], expecting: str | None, expected: dict[str, object]
) -> None:
    assert extract_all(slot_types, text, NOW, expecting=expecting) == expected


def test_extract_all_gives_each_slot_of_a_type_the_next_mention() -> None:
    found = extract_all(
        {"arrive": "date", "leave": "date"}, "from the 3rd to the 5th", at("2026-03-01")
    )
    assert found == {"arrive": d("2026-03-03"), "leave": d("2026-03-05")}


def test_extract_all_keeps_slot_order() -> None:
    found = extract_all(BOOKING, "under Smith at 9pm on Friday for 2", NOW)
    assert list(found) == ["party", "day", "at", "name"]


def test_misuse_raises() -> None:
    with pytest.raises(ValueError, match="slot type"):
        extract("colour", "red", NOW)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="slot type"):
        extract_all({"c": "colour"}, "red", NOW)  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="expecting"):
        extract_all(BOOKING, "four", NOW, expecting="guests")


def test_slot_types_match_the_literal() -> None:
    assert set(ALL_TYPES) == SLOT_TYPES


@pytest.mark.parametrize("module", sorted(Path(slots.__file__).parent.glob("*.py")), ids=str)
def test_module_is_pure(module: Path) -> None:
    source = module.read_text(encoding="utf-8")
    assert violations(source) == []


# --- properties ----------------------------------------------------------------------------

VOCAB = (
    "for four 4 at 7 7pm p.m. a.m. the 5th fifth of December dec may my name is I'm it's "
    "this Jane Smith half past quarter to oh double dot @ - , . ... b d k 3 q BD-7K3Q next "
    "friday weekend um uh people us and twenty one 12 : 30 19:00 2026-12-03 + plus call number "
    "under o'clock noon in the morning tonight tomorrow a couple dozen hundred seven thirty"
).split()
utterances = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(VOCAB), max_size=14).map(" ".join),
)


def check_value(slot_type: str, value: object) -> None:
    if value is not None:
        assert type(value) is TYPES_OF_VALUES[slot_type]


@FUZZ
@given(text=utterances, slot_type=st.sampled_from(ALL_TYPES), expecting=st.booleans())
def test_extract_never_raises(text: str, slot_type: SlotType, expecting: bool) -> None:
    check_value(slot_type, extract(slot_type, text, NOW, expecting=expecting))


@FUZZ
@given(text=utterances, expecting=st.sampled_from([None, "party", "day", "at", "name", "email"]))
def test_extract_all_never_raises(text: str, expecting: str | None) -> None:
    slot_types: dict[str, SlotType] = {**BOOKING, "email": "email", "ref": "reference"}
    found = extract_all(slot_types, text, NOW, expecting=expecting)
    assert set(found) <= set(slot_types)
    for name, value in found.items():
        check_value(slot_types[name], value)


MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December"]  # fmt: skip


@FUZZ
@given(
    today=st.dates(min_value=d("2000-01-01"), max_value=d("2099-12-31")),
    month=st.integers(1, 12),
    day=st.integers(1, 31),
    day_first=st.booleans(),
)
def test_month_day_is_never_in_the_past(today: date, month: int, day: int, day_first: bool) -> None:
    name = MONTH_NAMES[month - 1]
    text = f"the {day}th of {name}" if day_first else f"{name} {day}"
    found = extract("date", text, datetime.combine(today, time(12, 0), tzinfo=TZ))
    assert isinstance(found, date | None)
    if found is not None:
        assert found >= today and (found.month, found.day) == (month, day)
        assert found.year - today.year <= 8


@FUZZ
@given(hour=st.integers(1, 12), minute=st.integers(0, 59), pm=st.booleans())
def test_clock_times_round_trip(hour: int, minute: int, pm: bool) -> None:
    said = f"at {hour}:{minute:02d} {'p.m.' if pm else 'am'}"
    assert extract("time", said, NOW) == time(hour % 12 + (12 if pm else 0), minute)


@FUZZ
@given(
    digits=st.text(alphabet="0123456789", min_size=7, max_size=15),
    separator=st.sampled_from([" ", "-", ".", ""]),
)
def test_written_phone_numbers_round_trip(digits: str, separator: str) -> None:
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    assert extract("phone", "call me on " + separator.join(groups), NOW) == digits


@pytest.mark.parametrize("size", range(1, 31))
def test_every_party_size_in_words_and_digits(size: int) -> None:
    words = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
             "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
             "eighteen", "nineteen", "twenty"]  # fmt: skip
    spoken = words[size - 1] if size <= 20 else f"twenty-{words[size - 21]}"
    if size == 30:
        spoken = "thirty"
    assert extract("party_size", f"a table for {spoken} please", NOW) == size
    assert extract("party_size", f"{size} people", NOW) == size
