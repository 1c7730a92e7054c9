"""voxgate.conversation.transcript: clause splitting, sentence streaming, playback model."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxgate.conversation.transcript import Playback, SentenceBuffer, split_clauses

# -- split_clauses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("   ", []),
        ("Hello.", ["Hello."]),
        ("Hello there", ["Hello there"]),
        (
            "Hello there. How are you? Fine!  Thanks.",
            ["Hello there.", "How are you?", "Fine!", "Thanks."],
        ),
        ("  Padded.  Text.  ", ["Padded.", "Text."]),
        ("Line one.\nLine two.", ["Line one.", "Line two."]),
        ("It costs 3.50 euros. Okay?", ["It costs 3.50 euros.", "Okay?"]),
        ("Wait...  what?", ["Wait...", "what?"]),
    ],
)
def test_split_clauses_sentences(text: str, expected: list[str]) -> None:
    assert split_clauses(text) == expected


def test_split_clauses_cuts_a_long_first_sentence_at_a_comma() -> None:
    text = (
        "Thanks for calling the bakery on Main Street today, how can I help you "
        "with your order? We open at eight, and close at six."
    )
    assert split_clauses(text) == [
        "Thanks for calling the bakery on Main Street today,",
        "how can I help you with your order?",
        "We open at eight, and close at six.",  # only the first sentence is cut
    ]


def test_split_clauses_keeps_a_short_first_sentence_whole() -> None:
    assert split_clauses("Sure, I can help. Yes.") == ["Sure, I can help.", "Yes."]


def test_split_clauses_long_first_sentence_without_comma() -> None:
    text = "one two three four five six seven eight nine ten eleven twelve thirteen."
    assert split_clauses(text) == [text]


def test_split_clauses_first_max_words() -> None:
    assert split_clauses("Well, then.", first_max_words=1) == ["Well,", "then."]
    assert split_clauses("Well, then.", first_max_words=2) == ["Well, then."]


def test_split_clauses_comma_at_the_end() -> None:
    text = "a b c d e f g h i j k l m n,"
    assert split_clauses(text) == [text]


@given(st.text(alphabet=st.sampled_from("ab ,.!?\n"), max_size=120))
def test_split_clauses_keeps_every_word(text: str) -> None:
    parts = split_clauses(text)
    assert all(part and part == part.strip() for part in parts)
    # Nothing is lost or invented; only whitespace between the pieces may change.
    assert "".join("".join(parts).split()) == "".join(text.split())


# -- SentenceBuffer ----------------------------------------------------------------------


def test_sentence_buffer_streams_chunks_split_mid_word() -> None:
    buf = SentenceBuffer()
    assert buf.feed("Hel") == []
    assert buf.feed("lo wor") == []
    assert buf.feed("ld. How a") == ["Hello world."]
    assert buf.feed("re you?") == []  # the end of a sentence needs following whitespace
    assert buf.feed(" Fi") == ["How are you?"]
    assert buf.feed("ne") == []
    assert buf.flush() == ["Fine"]
    assert buf.flush() == []


def test_sentence_buffer_several_sentences_in_one_chunk() -> None:
    buf = SentenceBuffer()
    assert buf.feed("One. Two! Three? Fo") == ["One.", "Two!", "Three?"]
    assert buf.flush() == ["Fo"]


def test_sentence_buffer_keeps_decimals_together() -> None:
    buf = SentenceBuffer()
    assert buf.feed("That is 3.") == []
    assert buf.feed("50 euros. ") == ["That is 3.50 euros."]
    assert buf.flush() == []


def test_sentence_buffer_flush_of_whitespace_is_empty() -> None:
    buf = SentenceBuffer()
    assert buf.feed("  \n ") == []
    assert buf.flush() == []


def test_sentence_buffer_skips_empty_sentences() -> None:
    buf = SentenceBuffer()
    assert buf.feed(". Hi. ") == [".", "Hi."]
    assert buf.feed("\n\n") == []


@given(
    st.lists(st.sampled_from(["Hi", "there", "friend"]), min_size=1, max_size=5).map(" ".join),
    st.lists(st.sampled_from([".", "!", "?"]), min_size=1, max_size=6),
    st.lists(st.integers(min_value=0), max_size=10),
)
def test_sentence_buffer_any_chunking_matches_one_shot(
    words: str, ends: list[str], cuts: list[int]
) -> None:
    text = " ".join(f"{words}{end}" for end in ends)
    one_shot = SentenceBuffer()
    expected = one_shot.feed(text) + one_shot.flush()
    bounds = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    chunked = SentenceBuffer()
    got: list[str] = []
    for a, b in pairwise(bounds):
        got.extend(chunked.feed(text[a:b]))
    got.extend(chunked.flush())
    assert got == expected == [f"{words}{end}" for end in ends]


# -- Playback ----------------------------------------------------------------------------


def test_playback_gapless_stream() -> None:
    p = Playback()
    assert p.played_ms(0.0) == 0.0
    p.sent(100.0, now_ms=1000.0)
    assert p.first_sent_at == 1000.0
    assert p.played_ms(1000.0) == 0.0
    assert p.played_ms(1050.0) == 50.0
    p.sent(100.0, now_ms=1090.0)  # queued behind the first chunk
    assert p.played_ms(1100.0) == 100.0
    assert p.played_ms(1150.0) == 150.0
    assert p.played_ms(1200.0) == 200.0
    assert p.played_ms(5000.0) == 200.0  # never more than was sent
    assert p.sent_ms == 200.0


def test_playback_underrun_leaves_a_gap() -> None:
    p = Playback()
    p.sent(100.0, now_ms=0.0)
    assert p.played_ms(250.0) == 100.0
    # The client ran dry at 100 ms; the next chunk arrives at 300 ms and plays from there.
    p.sent(100.0, now_ms=300.0)
    assert p.played_ms(300.0) == 100.0
    assert p.played_ms(350.0) == 150.0
    assert p.played_ms(400.0) == 200.0


def test_playback_lead_ms() -> None:
    p = Playback()
    assert p.lead_ms(0.0) == 0.0
    p.sent(200.0, now_ms=0.0)
    assert p.lead_ms(0.0) == 200.0
    assert p.lead_ms(150.0) == 50.0
    assert p.lead_ms(300.0) == 0.0
    p.sent(20.0, now_ms=100.0)
    assert p.lead_ms(100.0) == 120.0


def test_playback_burst_is_played_at_real_time() -> None:
    p = Playback()
    for _ in range(10):  # a whole second sent at once
        p.sent(100.0, now_ms=0.0)
    assert p.lead_ms(0.0) == 1000.0
    assert p.played_ms(0.0) == 0.0
    assert p.played_ms(400.0) == 400.0


@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0.0, max_value=200.0),  # chunk length
            st.floats(min_value=0.0, max_value=300.0),  # time since the previous chunk
        ),
        min_size=1,
        max_size=40,
    ),
    st.floats(min_value=0.0, max_value=2000.0),
)
def test_playback_estimate_is_bounded_and_monotonic(
    chunks: list[tuple[float, float]], after: float
) -> None:
    p = Playback()
    now = 0.0
    previous = 0.0
    for length, gap in chunks:
        for t in (now + gap / 2, now + gap):  # time only moves forward
            played = p.played_ms(t)
            assert 0.0 <= played <= p.sent_ms + 1e-9
            assert played >= previous - 1e-9
            if p.first_sent_at is not None:
                assert played <= t - p.first_sent_at + 1e-9  # real time is the limit
            previous = played
        now += gap
        p.sent(length, now_ms=now)
        assert p.played_ms(now) == pytest.approx(previous)  # sending plays nothing
    assert p.played_ms(now + after) <= p.sent_ms + 1e-9
    end = now + p.lead_ms(now)
    assert p.played_ms(end) == pytest.approx(p.sent_ms)


def _reply() -> Playback:
    p = Playback()
    p.add_segment("Hello there.", 1000.0)
    p.add_segment("How are you today?", 2000.0)
    p.add_segment("Bye.", 500.0)
    return p


def test_full_text() -> None:
    assert _reply().full_text == "Hello there. How are you today? Bye."
    assert Playback().full_text == ""


def test_segments_are_laid_end_to_end() -> None:
    p = _reply()
    assert [(s.start_ms, s.length_ms) for s in p.segments] == [
        (0.0, 1000.0),
        (1000.0, 2000.0),
        (3000.0, 500.0),
    ]


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (0.0, ""),
        (-5.0, ""),
        (999.0, "Hello"),
        (1000.0, "Hello there."),
        (1001.0, "Hello there."),
        (3000.0, "Hello there. How are you today?"),
        (3500.0, "Hello there. How are you today? Bye."),
        (99999.0, "Hello there. How are you today? Bye."),
    ],
)
def test_text_at_sentence_boundaries(position: float, expected: str) -> None:
    assert _reply().text_at(position) == expected


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (400.0, ""),  # 40% of "Hello there." is 4 characters: not even "Hello"
        (500.0, "Hello"),
        (2000.0, "Hello there. How are"),  # half of "How are you today?" (9 characters)
        (2500.0, "Hello there. How are you"),
        (2999.0, "Hello there. How are you"),
    ],
)
def test_text_at_mid_sentence_cuts_whole_words(position: float, expected: str) -> None:
    assert _reply().text_at(position) == expected


def test_text_at_zero_length_segment() -> None:
    p = Playback()
    p.add_segment("Hm.", 0.0)
    p.add_segment("Okay then.", 1000.0)
    assert p.text_at(0.0) == "Hm."
    assert p.text_at(1000.0) == "Hm. Okay then."


_words = st.text(alphabet="abc", min_size=1, max_size=6)


@given(
    st.lists(
        st.tuples(
            st.lists(_words, min_size=1, max_size=8).map(" ".join),
            st.floats(min_value=0.0, max_value=3000.0),
        ),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.floats(min_value=-100.0, max_value=20000.0), min_size=1, max_size=10),
)
def test_text_at_is_a_growing_prefix_of_whole_words(
    segments: list[tuple[str, float]], positions: list[float]
) -> None:
    p = Playback()
    for text, length in segments:
        p.add_segment(text, length)
    full = p.full_text.split()
    previous: list[str] = []
    for position in sorted(positions):
        words = p.text_at(position).split()
        assert words == full[: len(words)]  # whole words, in order, nothing invented
        assert len(words) >= len(previous)
        previous = words
    total = sum(length for _, length in segments)
    assert p.text_at(total) == p.full_text


def test_sentence_buffer_releases_a_long_first_clause_early() -> None:
    buf = SentenceBuffer()
    assert buf.feed("Well, we are open Tuesday to Sunday, from noon") == [
        "Well, we are open Tuesday to Sunday,"
    ]
    # After the first piece, a clause must be long to be released alone.
    assert buf.feed(" until ten, and the kitchen closes") == []
    assert buf.feed(" at nine thirty. ") == [
        "from noon until ten, and the kitchen closes at nine thirty."
    ]


def test_sentence_buffer_long_later_clause_is_released() -> None:
    buf = SentenceBuffer(first_clause_words=3, clause_words=5)
    assert buf.feed("Yes. one two three four five, six seven") == [
        "Yes.",
        "one two three four five,",
    ]
    assert buf.flush() == ["six seven"]


def test_sentence_buffer_short_clauses_wait_for_the_sentence() -> None:
    buf = SentenceBuffer()
    assert buf.feed("Hi, yes, sure, ") == []
    assert buf.feed("of course. ") == ["Hi, yes, sure, of course."]
