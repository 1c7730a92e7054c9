"""voxgate.conversation.turns: the turn-taking state machine, fed synthetic VAD output.

Frames are 32 ms: frame ``i`` spans ``i*32 .. (i+1)*32`` ms of input.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxgate.conversation.turns import (
    Paused,
    SpeechStarted,
    TurnAction,
    TurnDetector,
    TurnEnded,
    TurnSettings,
)

FRAME = 32.0
SPEECH = 0.9
SILENCE = 0.05
MAYBE = 0.4  # between the release threshold (0.35) and the threshold (0.5)


def feed(
    detector: TurnDetector, probs: list[float], first: int = 0, *, pauses: bool = False
) -> list[tuple[int, TurnAction]]:
    """Feed frames ``first, first+1, …``; return (frame index, action) for each action
    (:class:`Paused` only with ``pauses``)."""
    out: list[tuple[int, TurnAction]] = []
    for i, prob in enumerate(probs, first):
        action = detector.feed(prob, i * FRAME, (i + 1) * FRAME)
        if action is not None and (pauses or not isinstance(action, Paused)):
            out.append((i, action))
    return out


def detector(**settings: float) -> TurnDetector:
    return TurnDetector(TurnSettings(**settings))


# -- starting a turn ---------------------------------------------------------------------


def test_defaults() -> None:
    s = TurnSettings()
    assert (s.vad_threshold, s.min_speech_ms, s.silence_ms) == (0.5, 150.0, 600.0)
    assert s.release_threshold == pytest.approx(0.35)
    assert not TurnDetector(s).in_user_turn


def test_speech_shorter_than_min_speech_is_ignored() -> None:
    d = detector()  # min_speech_ms=150: 4 frames (128 ms) are not enough
    assert feed(d, [SILENCE] * 5 + [SPEECH] * 4 + [SILENCE] * 40) == []
    assert not d.in_user_turn


def test_blips_separated_by_silence_do_not_add_up() -> None:
    d = detector()
    probs = ([SPEECH] * 4 + [SILENCE]) * 10
    assert feed(d, probs) == []


def test_turn_starts_at_onset_once_min_speech_is_reached() -> None:
    d = detector()
    actions = feed(d, [SILENCE] * 10 + [SPEECH] * 20)
    # Onset at frame 10 (320 ms); frame 14 ends at 480 ms = 160 ms of speech >= 150.
    assert actions == [(14, SpeechStarted(start_ms=320.0, barge_in=False))]
    assert d.in_user_turn


def test_exactly_min_speech_starts_a_turn() -> None:
    d = detector(min_speech_ms=160)
    assert feed(d, [SPEECH] * 4) == []
    assert feed(d, [SPEECH], first=4) == [(4, SpeechStarted(start_ms=0.0, barge_in=False))]


def test_zero_min_speech_starts_on_the_first_frame() -> None:
    d = detector(min_speech_ms=0)
    assert feed(d, [SILENCE, SPEECH]) == [(1, SpeechStarted(start_ms=32.0, barge_in=False))]


# -- ending a turn -----------------------------------------------------------------------


def test_turn_ends_after_silence_ms_with_start_and_end_of_speech() -> None:
    d = detector()
    actions = feed(d, [SILENCE] * 10 + [SPEECH] * 20 + [SILENCE] * 40)
    # Speech spans frames 10..29 = 320..960 ms. Silence reaches 600 ms at the end of the
    # first frame ending at or after 1560 ms: frame 48 (1568 ms).
    assert actions == [
        (14, SpeechStarted(start_ms=320.0, barge_in=False)),
        (48, TurnEnded(start_ms=320.0, end_ms=960.0)),
    ]
    assert not d.in_user_turn


def test_pauses_shorter_than_silence_ms_keep_the_turn() -> None:
    d = detector()
    probs = [SPEECH] * 10 + [SILENCE] * 18 + [SPEECH] * 10 + [SILENCE] * 30
    actions = feed(d, probs)
    # 18 frames = 576 ms < 600 ms: one turn, from 0 to the end of frame 37 (1216 ms).
    assert [a for _, a in actions] == [
        SpeechStarted(start_ms=0.0, barge_in=False),
        TurnEnded(start_ms=0.0, end_ms=1216.0),
    ]


def test_a_new_turn_can_follow() -> None:
    d = detector()
    one = [SPEECH] * 10 + [SILENCE] * 20
    actions = feed(d, one + one)
    assert [a for _, a in actions] == [
        SpeechStarted(start_ms=0.0, barge_in=False),
        TurnEnded(start_ms=0.0, end_ms=320.0),
        SpeechStarted(start_ms=960.0, barge_in=False),
        TurnEnded(start_ms=960.0, end_ms=1280.0),
    ]


# -- hysteresis --------------------------------------------------------------------------


def test_hysteresis_does_not_start_a_turn() -> None:
    d = detector()
    assert feed(d, [MAYBE] * 100) == []
    assert feed(d, [0.499] * 100, first=100) == []
    assert not d.in_user_turn


def test_hysteresis_does_not_end_a_turn() -> None:
    d = detector()
    # Far longer than silence_ms of "maybe speech": the turn goes on.
    actions = feed(d, [SPEECH] * 10 + [MAYBE] * 60)
    assert [a for _, a in actions] == [SpeechStarted(start_ms=0.0, barge_in=False)]
    assert d.in_user_turn


def test_hysteresis_does_not_abort_an_onset() -> None:
    d = detector()
    actions = feed(d, [SPEECH] * 3 + [MAYBE] + [SPEECH] * 2)
    # The "maybe" frame 3 counts towards min_speech_ms: frame 4 ends at 160 ms.
    assert actions == [(4, SpeechStarted(start_ms=0.0, barge_in=False))]


def test_silence_aborts_an_onset() -> None:
    d = detector()
    assert feed(d, [SPEECH] * 3 + [SILENCE] + [SPEECH] * 2) == []


def test_threshold_edges() -> None:
    settings = TurnSettings(vad_threshold=0.6, min_speech_ms=0)
    assert settings.release_threshold == pytest.approx(0.45)
    # At the threshold is speech.
    d = TurnDetector(settings)
    assert feed(d, [0.6]) == [(0, SpeechStarted(start_ms=0.0, barge_in=False))]
    # At the release threshold is not yet silence: the turn never ends.
    assert feed(d, [settings.release_threshold] * 50, first=1) == []
    assert d.in_user_turn
    # Just below it is; silence counts from there (frame 51 starts at 1632 ms).
    assert feed(d, [0.449] * 19, first=51) == [(69, TurnEnded(start_ms=0.0, end_ms=1632.0))]


def test_silence_is_counted_from_the_end_of_hysteresis() -> None:
    """Regression: "maybe" frames were counted as silence once a real dip came, so after
    silence_ms of soft speech one low frame ended the turn at once."""
    d = detector()
    probs = [SPEECH] * 10 + [MAYBE] * 25 + [SILENCE] * 30
    actions = feed(d, probs)
    # Speech and soft speech span frames 0..34 (0..1120 ms). The turn ends once 600 ms of
    # real silence have passed: at the end of frame 53 (1728 ms), not at frame 35.
    assert actions == [
        (4, SpeechStarted(start_ms=0.0, barge_in=False)),
        (53, TurnEnded(start_ms=0.0, end_ms=1120.0)),
    ]


def test_release_threshold_has_a_floor() -> None:
    assert TurnSettings(vad_threshold=0.1).release_threshold == pytest.approx(0.01)


# -- barge-in ----------------------------------------------------------------------------


def test_barge_in_needs_barge_in_min_ms() -> None:
    d = detector(barge_in_min_ms=200)
    d.agent_talking = True
    # 6 frames = 192 ms: ignored, though more than min_speech_ms (echo guard).
    assert feed(d, [SPEECH] * 6 + [SILENCE] * 5) == []
    assert not d.in_user_turn
    # 7 frames from frame 11 (352 ms): frame 17 ends at 576 ms = 224 ms of speech.
    actions = feed(d, [SPEECH] * 7, first=11)
    assert actions == [(17, SpeechStarted(start_ms=352.0, barge_in=True))]


def test_barge_in_threshold_is_configurable() -> None:
    d = detector(barge_in_min_ms=500)
    d.agent_talking = True
    assert feed(d, [SPEECH] * 15 + [SILENCE]) == []  # 480 ms
    actions = feed(d, [SPEECH] * 16, first=16)
    assert actions == [(31, SpeechStarted(start_ms=512.0, barge_in=True))]


def test_short_bursts_while_agent_talks_are_ignored() -> None:
    d = detector()
    d.agent_talking = True
    burst = [SPEECH] * 3 + [SILENCE] * 2
    assert feed(d, burst * 20) == []


def test_barge_in_turn_ends_like_any_turn() -> None:
    d = detector()
    d.agent_talking = True
    actions = feed(d, [SPEECH] * 10)
    assert [a for _, a in actions] == [SpeechStarted(start_ms=0.0, barge_in=True)]
    d.agent_talking = False  # the engine stops the agent on barge-in
    actions = feed(d, [SILENCE] * 20, first=10)
    assert [a for _, a in actions] == [TurnEnded(start_ms=0.0, end_ms=320.0)]


def test_not_a_barge_in_when_agent_is_quiet() -> None:
    d = detector()
    d.agent_talking = False
    actions = feed(d, [SPEECH] * 10)
    assert [a for _, a in actions] == [SpeechStarted(start_ms=0.0, barge_in=False)]


# -- max turn length ---------------------------------------------------------------------


def test_max_turn_ms_forces_an_end() -> None:
    d = detector(max_turn_ms=1000)
    actions = feed(d, [SPEECH] * 40)
    # Frame 31 ends at 1024 ms, the first frame end at or past 1000 ms after onset. The
    # speech goes on, so a new turn starts at 1024 ms and is confirmed 160 ms later.
    assert actions == [
        (4, SpeechStarted(start_ms=0.0, barge_in=False)),
        (31, TurnEnded(start_ms=0.0, end_ms=1024.0)),
        (36, SpeechStarted(start_ms=1024.0, barge_in=False)),
    ]


def test_max_turn_ms_counts_from_onset() -> None:
    d = detector(max_turn_ms=1000)
    actions = feed(d, [SILENCE] * 50 + [SPEECH] * 33)
    assert [a for _, a in actions] == [
        SpeechStarted(start_ms=1600.0, barge_in=False),
        TurnEnded(start_ms=1600.0, end_ms=2624.0),
    ]


def test_max_turn_ms_applies_during_pauses_too() -> None:
    d = detector(max_turn_ms=1000, silence_ms=5000)
    actions = feed(d, [SPEECH] * 10 + [SILENCE] * 30)
    assert [a for _, a in actions] == [
        SpeechStarted(start_ms=0.0, barge_in=False),
        TurnEnded(start_ms=0.0, end_ms=1024.0),
    ]


# -- reset -------------------------------------------------------------------------------


def test_reset_forgets_the_turn() -> None:
    d = detector()
    feed(d, [SPEECH] * 10)
    assert d.in_user_turn
    d.reset()
    assert not d.in_user_turn
    assert feed(d, [SILENCE] * 40, first=10) == []


def test_reset_forgets_an_onset() -> None:
    d = detector()
    feed(d, [SPEECH] * 3)
    d.reset()
    assert feed(d, [SILENCE] + [SPEECH] * 2, first=3) == []


# -- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.5, 1.5, float("nan")])
def test_settings_reject_bad_threshold(threshold: float) -> None:
    with pytest.raises(ValueError, match="vad_threshold must be between 0 and 1"):
        TurnSettings(vad_threshold=threshold)


@pytest.mark.parametrize(
    "name", ["min_speech_ms", "silence_ms", "prefix_padding_ms", "barge_in_min_ms", "max_turn_ms"]
)
def test_settings_reject_negative_durations(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must not be negative"):
        TurnSettings(**{name: -1.0})
    assert getattr(TurnSettings(**{name: 0.0}), name) == 0.0


def test_settings_are_frozen_and_keyword_only() -> None:
    s = TurnSettings()
    with pytest.raises(AttributeError):
        s.silence_ms = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        TurnSettings(0.5)  # type: ignore[misc]


# -- properties --------------------------------------------------------------------------


@given(
    st.lists(st.floats(min_value=0.0, max_value=1.0), max_size=400),
    st.lists(st.booleans(), max_size=400),
    st.floats(min_value=0.0, max_value=400.0),
    st.floats(min_value=0.0, max_value=1000.0),
    st.floats(min_value=0.0, max_value=3000.0),
)
def test_actions_are_well_formed(
    probs: list[float],
    talking: list[bool],
    min_speech_ms: float,
    silence_ms: float,
    max_turn_ms: float,
) -> None:
    settings = TurnSettings(
        min_speech_ms=min_speech_ms, silence_ms=silence_ms, max_turn_ms=max_turn_ms
    )
    d = TurnDetector(settings)
    started: SpeechStarted | None = None
    for i, prob in enumerate(probs):
        d.agent_talking = talking[i] if i < len(talking) else False
        action = d.feed(prob, i * FRAME, (i + 1) * FRAME)
        match action:
            case SpeechStarted():
                assert started is None  # starts and ends alternate
                assert action.start_ms <= i * FRAME
                assert action.barge_in == d.agent_talking
                started = action
            case TurnEnded():
                assert started is not None
                assert action.start_ms == started.start_ms
                assert action.start_ms < action.end_ms <= (i + 1) * FRAME
                # Forced at max_turn_ms, unless confirming the turn took longer.
                confirm = max(min_speech_ms, settings.barge_in_min_ms) + FRAME
                assert action.end_ms - action.start_ms <= max(max_turn_ms, confirm) + FRAME
                started = None
            case None:
                pass
        assert d.in_user_turn == (started is not None)


@given(st.lists(st.floats(min_value=0.0, max_value=0.4999), max_size=300))
def test_no_speech_frame_means_no_turn(probs: list[float]) -> None:
    d = detector(min_speech_ms=0)
    assert feed(d, probs) == []


# -- pauses (speculative work) and forced ends -------------------------------------------


def test_a_pause_is_announced_once_per_silence() -> None:
    d = detector(pause_ms=150, silence_ms=600)
    actions = feed(d, [SPEECH] * 10 + [SILENCE] * 6 + [SPEECH] * 5 + [SILENCE] * 30, pauses=True)
    kinds = [(i, type(a).__name__) for i, a in actions]
    # speech ends at frame 10 (320 ms); 150 ms of silence ends inside frame 14
    assert kinds == [(4, "SpeechStarted"), (14, "Paused"), (25, "Paused"), (39, "TurnEnded")]
    first, second = actions[1][1], actions[2][1]
    assert first == Paused(start_ms=0.0, end_ms=320.0)
    assert second == Paused(start_ms=0.0, end_ms=672.0)
    assert actions[3][1] == TurnEnded(start_ms=0.0, end_ms=672.0)


def test_end_turn_forces_the_end_with_the_paused_span() -> None:
    d = detector(pause_ms=150)
    actions = feed(d, [SPEECH] * 10 + [SILENCE] * 5, pauses=True)
    assert isinstance(actions[-1][1], Paused)
    assert d.end_turn() == TurnEnded(start_ms=0.0, end_ms=320.0)
    assert not d.in_user_turn
    assert d.end_turn() is None
    assert feed(d, [SILENCE] * 30, 15, pauses=True) == []


# --- onset lookback: the sound began before the VAD noticed --------------------------------


def feed_loud(d: TurnDetector, frames: list[tuple[float, bool]]) -> list[tuple[int, TurnAction]]:
    out: list[tuple[int, TurnAction]] = []
    for i, (prob, loud) in enumerate(frames):
        action = d.feed(prob, i * FRAME, (i + 1) * FRAME, loud=loud)
        if action is not None and not isinstance(action, Paused):
            out.append((i, action))
    return out


def test_loud_frames_before_the_first_speech_frame_date_the_onset_back() -> None:
    # "Sunday": a fricative the VAD misses (frames 1-6 loud, low probability), then a vowel.
    frames = [(0.01, False)] + [(0.2, True)] * 6 + [(0.99, True)] * 10
    d = detector()
    d.agent_talking = True
    (i, action), *_ = feed_loud(d, frames)
    assert isinstance(action, SpeechStarted) and action.barge_in
    assert action.start_ms == 1 * FRAME
    assert i == 7  # confirmed at the first speech frame: 224 ms of sound ≥ 150 ms


def test_without_loud_frames_the_onset_is_the_first_speech_frame() -> None:
    frames = [(0.01, False)] + [(0.2, False)] * 6 + [(0.99, True)] * 10
    d = detector()
    d.agent_talking = True
    (i, action), *_ = feed_loud(d, frames)
    assert isinstance(action, SpeechStarted) and action.start_ms == 7 * FRAME
    assert i == 7 + 4  # 150 ms of VAD speech: 5 frames


def test_lookback_is_bounded_and_can_be_switched_off() -> None:
    frames = [(0.2, True)] * 20 + [(0.99, True)] * 10
    d = detector(onset_lookback_ms=100)
    (_, action), *_ = feed_loud(d, frames)
    assert isinstance(action, SpeechStarted) and action.start_ms == 20 * FRAME - 100
    d = detector(onset_lookback_ms=0)
    (_, action), *_ = feed_loud(d, frames)
    assert isinstance(action, SpeechStarted) and action.start_ms == 20 * FRAME


def test_a_quiet_frame_breaks_the_loud_run() -> None:
    frames = [(0.2, True)] * 3 + [(0.1, False)] + [(0.2, True)] * 2 + [(0.99, True)] * 10
    d = detector()
    (_, action), *_ = feed_loud(d, frames)
    assert isinstance(action, SpeechStarted) and action.start_ms == 4 * FRAME
