"""``{{name}}`` templates: lookups, rendering of values, and the built-in variables."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from voxgate.agents.templating import builtins, fill, lookup, render

VALUES: dict[str, Any] = {
    "name": "Ann",
    "party_size": 4,
    "price": 12.5,
    "zero": 0,
    "empty": "",
    "vip": True,
    "smoking": False,
    "nothing": None,
    "day": date(2026, 3, 6),
    "when": datetime(2026, 3, 6, 19, 30),
    "result": {
        "reference": "BD-7K2Q",
        "booking": {"table": {"number": 12}},
        "bookings": [{"reference": "BD-1"}, {"reference": "BD-2"}],
        "tags": ("quiet", "window"),
    },
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hello {{name}}.", "Hello Ann."),
        ("Hello {{ name }}, table for {{party_size}}.", "Hello Ann, table for 4."),
        ("{{name}} and {{name}}", "Ann and Ann"),
        ("No placeholders here.", "No placeholders here."),
        ("", ""),
        ("{{price}} euros", "12.5 euros"),
        ("[{{zero}}]", "[0]"),
        ("[{{empty}}]", "[]"),
        # dotted names reach into mappings
        ("Your reference is {{result.reference}}.", "Your reference is BD-7K2Q."),
        ("Table {{result.booking.table.number}}", "Table 12"),
        # and into lists by index
        ("{{result.bookings.0.reference}}, {{result.bookings.1.reference}}", "BD-1, BD-2"),
        ("{{result.tags.1}}", "window"),
        ("[{{result.bookings.2.reference}}]", "[]"),
        ("[{{result.bookings.first}}]", "[]"),
        # unknown names become empty text
        ("Hi {{nobody}}!", "Hi !"),
        ("[{{result.missing}}]", "[]"),
        ("[{{name.first}}]", "[]"),
        ("[{{nothing}}]", "[]"),
        ("[{{nothing.at.all}}]", "[]"),
        # booleans read as yes/no
        ("VIP: {{vip}}, smoking: {{smoking}}", "VIP: yes, smoking: no"),
        # dates and times
        ("{{day}}", "2026-03-06"),
        ("{{when}}", "Friday 06 March at 19:30"),
        # not placeholders: left as written
        ("{name} {{1st}} {{a-b}} {{ }} {{name", "{name} {{1st}} {{a-b}} {{ }} {{name"),
    ],
)
def test_fill(template: str, expected: str) -> None:
    assert fill(template, VALUES) == expected


def test_fill_with_no_values() -> None:
    assert fill("Hello {{name}}, it is {{current_time}}.", {}) == "Hello , it is ."


def test_lookup() -> None:
    assert lookup(VALUES, "result.bookings.1") == {"reference": "BD-2"}
    assert lookup(VALUES, "result.tags.0") == "quiet"
    assert lookup(VALUES, "zero") == 0
    assert lookup(VALUES, "vip") is True
    assert lookup(VALUES, "result.bookings.-1") is None
    assert lookup(VALUES, "result.bookings.9") is None
    assert lookup(VALUES, "name.0") is None  # text is not a list of characters
    assert lookup({"a.b": 1}, "a.b") is None


def test_render() -> None:
    assert render(None) == ""
    assert render(True) == "yes"
    assert render(False) == "no"
    assert render(0) == "0"
    assert render(2.5) == "2.5"
    assert render("text") == "text"
    assert render(date(2026, 12, 25)) == "2026-12-25"
    assert render(datetime(2026, 12, 25, 8, 5)) == "Friday 25 December at 08:05"


def _builtins(now: datetime) -> dict[str, str]:
    return builtins(now, agent_name="Blue Door Bistro", call_id="c-1", channel="voice")


def test_builtins_in_the_agents_timezone() -> None:
    now = datetime(2026, 3, 6, 19, 5, tzinfo=ZoneInfo("Europe/London"))
    assert _builtins(now) == {
        "current_date": "Friday, 06 March 2026",
        "current_time": "19:05",
        "current_day": "Friday",
        "timezone": "Europe/London",
        "agent_name": "Blue Door Bistro",
        "call_id": "c-1",
        "channel": "voice",
    }


def test_builtins_convert_an_instant_to_local_time() -> None:
    # 23:30 UTC on a Friday is already Saturday morning in Tokyo
    instant = datetime(2026, 3, 6, 23, 30, tzinfo=UTC)
    values = _builtins(instant.astimezone(ZoneInfo("Asia/Tokyo")))
    assert values["current_date"] == "Saturday, 07 March 2026"
    assert values["current_time"] == "08:30"
    assert values["current_day"] == "Saturday"
    assert values["timezone"] == "Asia/Tokyo"
    # and still Friday afternoon in New York
    values = _builtins(instant.astimezone(ZoneInfo("America/New_York")))
    assert (values["current_day"], values["current_time"]) == ("Friday", "18:30")


def test_builtins_follow_daylight_saving_time() -> None:
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC).astimezone(ZoneInfo("Europe/London"))
    winter = datetime(2026, 1, 1, 12, 0, tzinfo=UTC).astimezone(ZoneInfo("Europe/London"))
    assert _builtins(summer)["current_time"] == "13:00"
    assert _builtins(winter)["current_time"] == "12:00"


def test_builtins_fill_a_system_prompt() -> None:
    now = datetime(2026, 3, 6, 19, 5, tzinfo=ZoneInfo("Europe/London"))
    values = {"restaurant": "Blue Door", **_builtins(now)}
    prompt = "{{agent_name}} ({{restaurant}}): today is {{current_date}}, it is {{current_time}}."
    assert fill(prompt, values) == (
        "Blue Door Bistro (Blue Door): today is Friday, 06 March 2026, it is 19:05."
    )
