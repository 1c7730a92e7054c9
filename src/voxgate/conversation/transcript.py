"""What the user has heard of a spoken reply: a pure playback model, time passed in."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


def split_clauses(text: str, first_max_words: int = 12) -> list[str]:
    """Split reply text into speakable pieces: sentences, and a long first sentence at a
    comma so speech can start sooner."""
    parts: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        if not sentence:
            continue
        if not parts and len(sentence.split()) > first_max_words and "," in sentence:
            head, _, tail = sentence.partition(",")
            parts.extend([head + ",", tail.strip()] if tail.strip() else [head + ","])
        else:
            parts.append(sentence)
    return parts


class SentenceBuffer:
    """Collects streamed text and releases speakable pieces as soon as they end: sentences,
    and clauses (at ``, ; :``) when a clause is long enough to be worth speaking alone —
    the first clause of a reply sooner (``first_clause_words``), so speech starts early;
    later ones only when long (``clause_words``), to keep the TTS fed without choppy
    prosody."""

    __slots__ = ("_buf", "_released", "clause_words", "first_clause_words")

    def __init__(self, *, first_clause_words: int = 6, clause_words: int = 14) -> None:
        self._buf = ""
        self._released = False
        self.first_clause_words = first_clause_words
        self.clause_words = clause_words

    def feed(self, chunk: str) -> list[str]:
        self._buf += chunk
        out: list[str] = []
        while True:
            piece = self._next_piece()
            if piece is None:
                return out
            if piece:
                out.append(piece)
                self._released = True

    def _next_piece(self) -> str | None:
        sentence = re.search(r"[.!?](\s+)", self._buf)
        minimum = self.clause_words if self._released else self.first_clause_words
        for clause in re.finditer(r"[,;:](\s+)", self._buf):
            if sentence is not None and clause.start() > sentence.start():
                break
            if len(self._buf[: clause.start()].split()) >= minimum:
                return self._take(clause.start() + 1, clause.end())
        if sentence is None:
            return None
        return self._take(sentence.start() + 1, sentence.end())

    def _take(self, cut: int, rest: int) -> str:
        piece, self._buf = self._buf[:cut].strip(), self._buf[rest:]
        return piece

    def flush(self) -> list[str]:
        rest, self._buf = self._buf.strip(), ""
        self._released = False
        return [rest] if rest else []


@dataclass(slots=True)
class _Segment:
    text: str
    start_ms: float  # position in the reply's audio
    length_ms: float


def _prefix_by_fraction(text: str, fraction: float) -> str:
    """Words of ``text`` covering about ``fraction`` of its characters."""
    if fraction >= 1.0:
        return text
    if fraction <= 0.0:
        return ""
    cut = int(len(text) * fraction)
    words = text.split()
    out: list[str] = []
    used = 0
    for w in words:
        used += len(w) + (1 if out else 0)
        if used > cut:
            break
        out.append(w)
    return " ".join(out)


@dataclass(slots=True)
class Playback:
    """Models a gapless client player fed with paced chunks.

    Call :meth:`sent` for every chunk handed to the transport, with the monotonic time in
    ms; :meth:`played_ms` then tells how much the client has played at a given time: the
    audio sent minus what is still queued, never more than was sent.
    """

    segments: list[_Segment] = field(default_factory=list)
    sent_ms: float = 0.0
    queued_until: float = 0.0  # monotonic ms at which the client's queue runs dry
    first_sent_at: float | None = None

    def add_segment(self, text: str, length_ms: float) -> None:
        """Register the next sentence of the reply and its audio length."""
        start = self.segments[-1].start_ms + self.segments[-1].length_ms if self.segments else 0.0
        self.segments.append(_Segment(text, start, length_ms))

    def sent(self, duration_ms: float, now_ms: float) -> None:
        if self.first_sent_at is None:
            self.first_sent_at = now_ms
        self.queued_until = max(self.queued_until, now_ms) + duration_ms
        self.sent_ms += duration_ms

    def lead_ms(self, now_ms: float) -> float:
        """How far ahead of the client's playback we are."""
        return max(0.0, self.queued_until - now_ms)

    def played_ms(self, now_ms: float) -> float:
        return max(0.0, self.sent_ms - self.lead_ms(now_ms))

    def text_at(self, position_ms: float) -> str:
        """The reply's text up to ``position_ms`` of its audio (whole words)."""
        out: list[str] = []
        for seg in self.segments:
            if position_ms >= seg.start_ms + seg.length_ms:
                out.append(seg.text)
                continue
            if seg.length_ms > 0 and position_ms > seg.start_ms:
                part = _prefix_by_fraction(seg.text, (position_ms - seg.start_ms) / seg.length_ms)
                if part:
                    out.append(part)
            break
        return " ".join(out)

    @property
    def full_text(self) -> str:
        return " ".join(s.text for s in self.segments)
