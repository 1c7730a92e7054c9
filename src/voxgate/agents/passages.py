"""Knowledge files split into passages: pure text processing, no I/O and no embedding.

Files are split into passages of about 40-120 words: first by Markdown headings (the
heading path, e.g. "Menu" then "Desserts" joined by :data:`HEADING_SEPARATOR`, stays with
each passage as context and is embedded with it), then by paragraphs and lists; small
blocks of one section are merged, long ones are cut at sentence (or list item)
boundaries. Passages never cross a heading.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

SPLITTER_VERSION = "1"
"""Bump whenever :func:`split_passages` changes its output: it invalidates cached vectors."""

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
TEXT_SUFFIXES = frozenset({".txt"})
SUFFIXES = MARKDOWN_SUFFIXES | TEXT_SUFFIXES

MIN_WORDS = 40
MAX_WORDS = 120
HEADING_SEPARATOR = " \u203a "
"""Joins the titles of a heading path (a single right-pointing angle quotation mark)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Passage:
    """A piece of a knowledge file, small enough to quote in an answer."""

    text: str
    source: str
    """The file, relative to the folder it was found in (or its name, if given directly)."""
    line: int
    """1-based line of the file where the passage starts."""
    heading: str = ""
    """The titles of the headings above the passage, outermost first, joined by
    :data:`HEADING_SEPARATOR`; empty before the first heading."""

    @property
    def embedding_text(self) -> str:
        """What is embedded: the heading path, then the text."""
        return f"{self.heading}\n{self.text}" if self.heading else self.text


# Markdown blocks: headings, fences, rules, list items, table rules.
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])[ \t]+")
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")


@dataclass(slots=True)
class _Block:
    line: int
    kind: str  # "para" | "list" | "code" | "table"
    lines: list[str]


@dataclass(slots=True)
class _Piece:
    line: int
    text: str
    words: int


def split_passages(text: str, source: str, *, markdown: bool | None = None) -> list[Passage]:
    """Split a file's text into passages, in file order. Pure: no I/O, no embedding.

    ``markdown``: parse headings, lists, fences and tables; by default, unless ``source``
    ends in ``.txt`` (plain text is split at blank lines only).
    """
    if markdown is None:
        markdown = not source.lower().endswith(tuple(TEXT_SUFFIXES))
    passages: list[Passage] = []
    for heading, blocks in _sections(text.splitlines(), markdown=markdown):
        pieces = [piece for block in blocks for piece in _cut(block)]
        for piece in _merge(pieces):
            passages.append(
                Passage(text=piece.text, source=source, line=piece.line, heading=heading)
            )
    return passages


def _sections(lines: list[str], *, markdown: bool) -> Iterator[tuple[str, list[_Block]]]:
    """Yield (heading path, blocks) for each run of lines under one heading."""
    path: list[tuple[int, str]] = []
    blocks: list[_Block] = []
    block: _Block | None = None
    fence = ""
    start = _front_matter_end(lines) if markdown else 0

    def heading() -> str:
        return HEADING_SEPARATOR.join(title for _, title in path if title)

    for index in range(start, len(lines)):
        raw = lines[index].rstrip()
        number = index + 1
        if fence:
            if raw.lstrip().startswith(fence):
                fence = ""
                block = None
            elif block is not None:
                block.lines.append(raw)
            continue
        if not raw.strip():
            block = None
            continue
        if markdown:
            if match := _FENCE.match(raw):
                fence = match.group(1)[0] * 3
                block = _Block(number + 1, "code", [])
                blocks.append(block)
                continue
            atx = _ATX.match(raw)
            setext = _SETEXT.match(raw)
            if setext and block is not None and block.kind == "para" and len(block.lines) == 1:
                # The previous line was a heading underlined with === or ---.
                blocks.pop()
                level = 1 if setext.group(1)[0] == "=" else 2
                title = block.lines[0]
            elif atx:
                level, title = len(atx.group(1)), atx.group(2) or ""
            else:
                level = 0
            if level:
                if blocks:
                    yield heading(), blocks
                blocks, block = [], None
                while path and path[-1][0] >= level:
                    path.pop()
                path.append((level, _inline(title.strip())))
                continue
            if _RULE.match(raw):
                block = None
                continue
        kind = _kind(raw) if markdown else "para"
        starts_item = kind == "list" and _ITEM.match(raw) is not None
        if block is None or (kind == "table") != (block.kind == "table"):
            block = _Block(number, kind, [])
            blocks.append(block)
        elif block.kind == "para" and starts_item:
            block = _Block(number, "list", [])
            blocks.append(block)
        block.lines.append(raw)
    if blocks:
        yield heading(), blocks


def _front_matter_end(lines: list[str]) -> int:
    if not lines or lines[0].strip() != "---":
        return 0
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            return index + 1
    return 0


def _kind(line: str) -> str:
    if line.lstrip().startswith("|"):
        return "table"
    if _ITEM.match(line):
        return "list"
    return "para"


def _cut(block: _Block) -> list[_Piece]:
    """Turn a block into pieces of at most MAX_WORDS (a single long sentence excepted)."""
    if block.kind == "para":
        joined, starts = "", []
        for raw in block.lines:
            starts.append(len(joined))
            joined += raw.strip() + " "
        units = [
            (block.line + bisect.bisect_right(starts, offset) - 1, _inline(sentence))
            for offset, sentence in _sentences(joined)
        ]
        joiner = " "
    else:
        units = _line_units(block)
        joiner = "\n"
    units = [(line, unit) for line, unit in units if unit]
    if not units:
        return []
    counts = [_words(unit) for _, unit in units]
    total = sum(counts)
    parts = max(1, math.ceil(total / MAX_WORDS))
    target = total / parts
    pieces: list[_Piece] = []
    current: list[str] = []
    current_line, size = units[0][0], 0
    for (line, unit), count in zip(units, counts, strict=True):
        if current and (size >= target or size + count > MAX_WORDS):
            pieces.append(_Piece(current_line, joiner.join(current), size))
            current, size = [], 0
        if not current:
            current_line = line
        current.append(unit)
        size += count
    pieces.append(_Piece(current_line, joiner.join(current), size))
    return [piece for long in pieces for piece in _split_words(long)]


def _line_units(block: _Block) -> list[tuple[int, str]]:
    """One unit per list item (continuation lines joined), table row or code line."""
    units: list[tuple[int, str]] = []
    for offset, raw in enumerate(block.lines):
        line = block.line + offset
        if block.kind == "code":
            units.append((line, raw))
        elif block.kind == "table":
            if not _TABLE_RULE.match(raw):
                cells = [_inline(cell.strip()) for cell in raw.strip().strip("|").split("|")]
                units.append((line, " | ".join(cell for cell in cells if cell)))
        elif _ITEM.match(raw) or not units:
            units.append((line, "- " + _inline(_ITEM.sub("", raw).strip())))
        else:
            first, text = units[-1]
            units[-1] = (first, f"{text} {_inline(raw.strip())}")
    return units


def _split_words(piece: _Piece) -> list[_Piece]:
    """Cut a piece still over MAX_WORDS (one endless sentence) into even word runs."""
    if piece.words <= MAX_WORDS:
        return [piece]
    words = piece.text.split()
    parts = math.ceil(len(words) / MAX_WORDS)
    size = math.ceil(len(words) / parts)
    return [
        _Piece(piece.line, " ".join(chunk), len(chunk))
        for chunk in (words[i : i + size] for i in range(0, len(words), size))
    ]


def _merge(pieces: list[_Piece]) -> list[_Piece]:
    """Join neighbouring pieces of one section while they are small and fit together."""
    merged: list[_Piece] = []
    for piece in pieces:
        last = merged[-1] if merged else None
        if last is not None and (last.words < MIN_WORDS or piece.words < MIN_WORDS):
            if last.words + piece.words <= MAX_WORDS:
                merged[-1] = _Piece(
                    last.line, f"{last.text}\n{piece.text}", last.words + piece.words
                )
                continue
        merged.append(piece)
    return merged


# Sentence boundaries.
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*\s+")
_SENTENCE_START = re.compile(r"[A-Z0-9\"'(\u201c\u2018\u00a3$\u20ac]")
_ABBREVIATIONS = frozenset(
    {"Mr", "Mrs", "Ms", "Dr", "St", "No", "Tel", "tel", "vs", "e.g", "i.e", "approx", "incl"}
)


def _sentences(text: str) -> list[tuple[int, str]]:
    """(offset, sentence) pairs: cut after . ! ? when a capital, digit or quote follows."""
    sentences: list[tuple[int, str]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if not _SENTENCE_START.match(text, end):
            continue
        before = text[start : match.start()].split()
        if match.group().startswith(".") and before and before[-1] in _ABBREVIATIONS:
            continue
        sentences.append((start, text[start:end].strip()))
        start = end
    if text[start:].strip():
        sentences.append((start, text[start:].strip()))
    return sentences


# Inline decoration, dropped: links, bold, italics, code spans.
_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]*)(?:\s+\"[^\"]*\")?\)")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])")
_CODE = re.compile(r"`([^`]+)`")


def _inline(text: str) -> str:
    """Drop Markdown decoration that means nothing when the text is read or spoken."""

    def link(match: re.Match[str]) -> str:
        label, target = match.group(1).strip(), match.group(2)
        target = target.removeprefix("mailto:").removeprefix("tel:")
        if match.group().startswith("!") or not target or target in label or target[0] == "#":
            return label
        return f"{label} ({target})" if label else target

    text = _LINK.sub(link, text)
    text = _CODE.sub(r"\1", text)
    text = _STRONG.sub(r"\2", text)
    text = _EMPHASIS.sub(r"\1", text)
    return re.sub(r"<(https?://[^>]+|[^@\s>]+@[^>\s]+)>", r"\1", text)


def _words(text: str) -> int:
    return len(text.split())
