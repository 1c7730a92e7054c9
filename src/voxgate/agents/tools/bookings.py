"""Restaurant bookings as tools: create, list and cancel a table booking in the store."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from voxgate.agents.tools.runner import ToolContext, ToolDefinition, object_schema
from voxgate.errors import ToolError
from voxgate.store import Booking as StoredBooking
from voxgate.store import NewBooking

MAX_LISTED_BOOKINGS = 20
MAX_PARTY_SIZE = 20


def booking_tools() -> dict[str, ToolDefinition]:
    """Fresh definitions of ``create_booking``, ``list_bookings`` and ``cancel_booking``."""
    tools = [
        ToolDefinition(
            name="create_booking",
            description=(
                "Book a table. Collect the name, number of people, date and time first, and "
                "confirm them with the user before calling. Convert relative dates "
                "('tomorrow', 'next Friday') to YYYY-MM-DD and times to 24-hour HH:MM in the "
                "business's local time. Dates and times in the past are rejected. Read the "
                "returned reference to the user letter by letter."
            ),
            parameters=object_schema(
                {
                    "name": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 200,
                        "description": "Name the booking is under.",
                    },
                    "party_size": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_PARTY_SIZE,
                        "description": "Number of people.",
                    },
                    "date": {
                        "type": "string",
                        "pattern": r"^\d{4}-\d{2}-\d{2}$",
                        "description": "Day of the booking, YYYY-MM-DD.",
                    },
                    "time": {
                        "type": "string",
                        "pattern": r"^\d{2}:\d{2}$",
                        "description": "Time of the booking, 24-hour HH:MM.",
                    },
                    "notes": {
                        "type": "string",
                        "maxLength": 1000,
                        "description": "Special requests (allergies, high chair, occasion).",
                    },
                },
                ("name", "party_size", "date", "time"),
            ),
            run=_create_booking,
        ),
        ToolDefinition(
            name="list_bookings",
            description=(
                "Find existing (not cancelled) bookings, by the name they are under and/or by "
                "date. Use it to look up the caller's own booking, asking for their name "
                "first; do not read out other people's bookings."
            ),
            parameters=object_schema(
                {
                    "name": {
                        "type": "string",
                        "minLength": 1,
                        "description": "Name the booking is under (whole name, any case).",
                    },
                    "date": {
                        "type": "string",
                        "pattern": r"^\d{4}-\d{2}-\d{2}$",
                        "description": "Only bookings on this day, YYYY-MM-DD.",
                    },
                }
            ),
            run=_list_bookings,
        ),
        ToolDefinition(
            name="cancel_booking",
            description=(
                "Cancel a booking by its reference (like BK-7K3QX). Confirm with the user "
                "that they want to cancel before calling. If they do not know the "
                "reference, find it with list_bookings by their name."
            ),
            parameters=object_schema(
                {
                    "reference": {
                        "type": "string",
                        "minLength": 1,
                        "description": "The booking reference, e.g. BK-7K3QX.",
                    }
                },
                ("reference",),
            ),
            run=_cancel_booking,
        ),
    ]
    return {tool.name: tool for tool in tools}


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ToolError(f"{text!r} is not a valid date (use YYYY-MM-DD)") from None


def _parse_time(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise ToolError(f"{text!r} is not a valid time (use 24-hour HH:MM)") from None


def _booking_view(booking: StoredBooking) -> dict[str, Any]:
    return {
        "reference": booking.reference,
        "name": booking.name,
        "party_size": booking.party_size,
        "date": booking.date.isoformat(),
        "time": booking.time.strftime("%H:%M"),
    }


async def _create_booking(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    day = _parse_date(args["date"])
    at = _parse_time(args["time"])
    if datetime.combine(day, at, tzinfo=ctx.now.tzinfo) < ctx.now:
        raise ToolError(
            f"{day.isoformat()} {at.strftime('%H:%M')} is in the past (it is now "
            f"{ctx.now.strftime('%Y-%m-%d %H:%M')}); ask the user for a later date or time"
        )
    notes = args.get("notes")
    booking = await ctx.store.create_booking(
        NewBooking(
            tenant_id=ctx.tenant_id,
            agent_id=ctx.agent_id,
            conversation_id=ctx.conversation_id,
            name=args["name"],
            party_size=args["party_size"],
            date=day,
            time=at,
            notes=notes or None,
        )
    )
    return _booking_view(booking)


async def _list_bookings(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    on_date = _parse_date(args["date"]) if "date" in args else None
    found = await ctx.store.list_bookings(
        ctx.tenant_id, ctx.agent_id, name=args.get("name"), on_date=on_date
    )
    shown = [{**_booking_view(b), "notes": b.notes} for b in found[:MAX_LISTED_BOOKINGS]]
    result: dict[str, Any] = {"bookings": shown}
    if len(found) > len(shown):
        result["more"] = len(found) - len(shown)
    return result


async def _cancel_booking(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    booking = await ctx.store.cancel_booking(ctx.tenant_id, args["reference"])
    if booking is None:
        raise ToolError(f"no booking with reference {args['reference']!r}")
    return {**_booking_view(booking), "status": booking.status}
