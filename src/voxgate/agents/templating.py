"""``{{name}}`` templates for greetings, replies and tool arguments.

Variables resolve in this order (later wins): the agent's defaults, the session's
variables, the built-ins (``current_date``, ``current_time``, ``current_day``, ``timezone``,
``agent_name``, ``call_id``, ``channel``). Dotted names reach into mappings:
``{{result.reference}}``. Unknown names become empty text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}")


def lookup(values: Mapping[str, Any], dotted: str) -> Any:
    """The value at ``a.b.c`` in nested mappings, or ``None``."""
    current: Any = values
    for part in dotted.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list | tuple) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def render(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%A %d %B at %H:%M")
    if hasattr(value, "strftime") and hasattr(value, "isoformat"):
        text: str = value.isoformat()
        return text
    return str(value)


def fill(template: str, values: Mapping[str, Any]) -> str:
    """Replace every ``{{name}}`` in ``template``."""
    return _VAR.sub(lambda m: render(lookup(values, m.group(1))), template)


def builtins(now: datetime, *, agent_name: str, call_id: str, channel: str) -> dict[str, str]:
    """The built-in variables at ``now`` (tz-aware, in the agent's timezone)."""
    return {
        "current_date": now.strftime("%A, %d %B %Y"),
        "current_time": now.strftime("%H:%M"),
        "current_day": now.strftime("%A"),
        "timezone": str(now.tzinfo),
        "agent_name": agent_name,
        "call_id": call_id,
        "channel": channel,
    }
