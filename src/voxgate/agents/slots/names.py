"""The ``name`` slot's parser: a person's name after a cue ("my name is", "I'm", "under")
or, when expecting, as the whole short answer; title-cased."""

from __future__ import annotations

import re
from datetime import date
from typing import Final

from voxgate.agents.slots.numerals import ORD_WORDS, WORD_VALUES
from voxgate.agents.slots.scanning import Hit, Text, first
from voxgate.agents.slots.vocabulary import WEEKDAYS

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
    + list(WEEKDAYS)
    + list(WORD_VALUES)
    + list(ORD_WORDS)
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


def _take_name(t: Text, pos: int, need_capital: bool) -> tuple[int, str] | None:
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


def _bare_name(t: Text) -> Hit | None:
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
    return Hit(tokens[0].start(), tokens[-1].end(), name)


def find_name(t: Text, today: date, expecting: bool) -> Hit | None:
    hits: list[Hit | None] = []
    for cues, need_capital in ((_NAME_CUE_STRONG, False), (_NAME_CUE_WEAK, not expecting)):
        for cue in cues.finditer(t.low):
            taken = _take_name(t, cue.end(), need_capital)
            if taken is not None:
                hits.append(Hit(cue.start(), taken[0], taken[1]))
                break
    hit = first(hits)
    if hit is None and expecting:
        hit = _bare_name(t)
    return hit
