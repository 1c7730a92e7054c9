"""The ``phone`` slot's parser: 7-15 digits, written or spoken ("double five", "plus four
four"), as ``"+digits"`` or digits."""

from __future__ import annotations

import re
from datetime import date
from typing import Final

from voxgate.agents.slots.numerals import DIGIT_WORDS, TEENS, TENS, UNITS
from voxgate.agents.slots.scanning import Hit, Text

_PHONE_TOKEN: Final = re.compile(r"\+|[0-9]+|[^\W\d_]+")
_PHONE_GAP: Final = re.compile(r"[\s\-.,()]*")
_PHONE_CUE: Final = re.compile(
    r"\b(?:number|phone|call|reach|mobile|cell|contact|text|whatsapp|ring|dial)\b"
)
_PHONE_WORD_DIGITS: Final = {"oh": "0", "o": "0", **DIGIT_WORDS}
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
        elif word in TEENS:
            digits += str(TEENS[word])
            spoken = True
        elif word in TENS:
            unit = tokens[j + 1].group() if joined(j + 1) else ""
            if unit in UNITS:
                digits += str(TENS[word] + UNITS[unit])
                j += 1
            else:
                digits += str(TENS[word])
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


def find_phone(t: Text, today: date, expecting: bool) -> Hit | None:
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
            return Hit(start, end, ("+" if plus else "") + digits)
        i = j
    return None
