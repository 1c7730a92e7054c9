"""Words and phrases more than one slot parser reads."""

from __future__ import annotations

from typing import Final

from voxgate.agents.slots.scanning import alt

SEP: Final = r"(?:[\s,]|\.\.\.)+"
PEOPLE: Final = r"(?:people|persons?|guests?|adults?|diners|pax|covers|of\s+us)"
UNITS_AFTER: Final = (
    r"(?:minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|nights?|dollars|euros|"
    r"pounds|bucks|percent|times)"
)
WEEKDAYS: Final = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3,
    "friday": 4, "saturday": 5, "sunday": 6,
}  # fmt: skip
WEEKDAY: Final = rf"(?:{alt(WEEKDAYS)})"
