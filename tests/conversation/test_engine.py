"""The conversation engine on fake speech and a fake clock: no models, no real time."""

from __future__ import annotations

import asyncio

import pytest

from voxgate.conversation.turns import TurnSettings
from voxgate.events import (
    AgentAudio,
    AgentTalking,
    Error,
    Interruption,
    PauseRequested,
    ResumeRequested,
    SessionEnded,
    SessionStarted,
    TextIn,
    Transcript,
    TranscriptDelta,
    UserSpeechStarted,
)
from voxgate.speech.base import VAD_FRAME_MS

from .fakes import LOUD, QUIET, Call, FakeAgent, FakeStt, FakeTts, FakeTurnModel, settle

LONG = "One two three four. Five six seven eight. Nine ten eleven twelve."


def texts(call: Call, role: str) -> list[str]:
    return [e.text for e in call.of(Transcript) if isinstance(e, Transcript) and e.role == role]


def after(call: Call, kind: type) -> list[object]:
    """What was sent after the first event of ``kind``."""
    index = next(i for i, e in enumerate(call.sent) if isinstance(e, kind))
    return call.sent[index + 1 :]


async def replied(call: Call, seconds: float = 4.0) -> None:
    """Let the reply play out."""
    for _ in range(int(seconds / 0.05)):
        await call.clock.advance(0.05)


# --- turn taking ----------------------------------------------------------------------------


async def test_a_turn_is_transcribed_answered_spoken_and_stored() -> None:
    async with Call(stt=FakeStt("book a table")) as call:
        await call.say()
        await replied(call)
        assert isinstance(call.sent[0], SessionStarted)
        assert len(call.of(UserSpeechStarted)) == 1
        assert texts(call, "user") == ["book a table"]
        assert call.agent.heard == ["book a table"]
        assert texts(call, "assistant") == ["Sure. I can help with that."]
        talking = [e.talking for e in call.of(AgentTalking) if isinstance(e, AgentTalking)]
        assert talking == [True, False]
        expected_ms = len("Sure.") * 50 + len("I can help with that.") * 50
        assert call.audio_ms() == pytest.approx(expected_ms, abs=1)
        user, agent = call.recorder.turns
        assert (user.role, user.text, agent.role, agent.interrupted) == (
            "user",
            "book a table",
            "assistant",
            False,
        )
        assert user.latency.endpointing_ms is not None and user.latency.stt_ms is not None
        assert agent.latency.first_byte_ms is not None
        assert agent.latency.voice_to_voice_ms is not None


async def test_speculative_stt_at_the_pause_is_reused_when_the_turn_ends_there() -> None:
    async with Call(stt=FakeStt("hello")) as call:
        await call.say()
        await settle()
        assert len(call.stt.calls) == 1  # started at the pause, used at the end of turn
        assert texts(call, "user") == ["hello"]


async def test_speculative_stt_is_cancelled_when_the_user_goes_on() -> None:
    stt = FakeStt("hello", "hello there friend")
    stt.gate = asyncio.Event()
    async with Call(stt=stt) as call:
        await call.audio(LOUD, 600)
        await call.audio(QUIET, 250)  # a pause: speculative STT starts, held by the gate
        assert len(stt.calls) == 1
        await call.audio(LOUD, 600)  # the user goes on
        await call.audio(QUIET, 250)  # a new pause supersedes the first transcription
        assert stt.cancelled == 1
        stt.gate.set()
        await call.audio(QUIET, 600)
        await settle()
        assert len(stt.calls) == 2
        assert stt.calls[1] > stt.calls[0]  # the whole turn, not the first part
        assert texts(call, "user") == ["hello there friend"]


async def test_the_end_of_turn_model_ends_a_turn_at_the_pause() -> None:
    settings = TurnSettings(echo_cancel=False, smart_turn=True)
    async with Call(stt=FakeStt("done"), turn_model=FakeTurnModel(0.9), settings=settings) as call:
        await call.audio(LOUD, 600)
        await call.audio(QUIET, 250)  # well before silence_ms
        await settle()
        assert call.turn_model is not None and call.turn_model.calls == 1
        assert texts(call, "user") == ["done"]


async def test_an_unsure_end_of_turn_model_waits_for_the_silence() -> None:
    settings = TurnSettings(echo_cancel=False, smart_turn=True)
    async with Call(stt=FakeStt("not yet"), turn_model=FakeTurnModel(0.1), settings=settings) as c:
        await c.audio(LOUD, 600)
        await c.audio(QUIET, 250)
        await settle()
        assert texts(c, "user") == []
        await c.audio(QUIET, 600)
        await settle()
        assert texts(c, "user") == ["not yet"]


async def test_empty_transcripts_are_noise_and_not_answered() -> None:
    async with Call(stt=FakeStt("")) as call:
        await call.say()
        await replied(call, 1)
        assert texts(call, "user") == [] and call.agent.heard == []


async def test_chat_mode_answers_text_and_refuses_audio() -> None:
    async with Call(mode="chat") as call:
        await call.conv.handle(TextIn(text="hi"))
        await settle()
        assert texts(call, "user") == ["hi"]
        assert texts(call, "assistant") == ["Sure. I can help with that."]
        assert call.of(AgentAudio) == []
        await call.audio(LOUD, 32)
        await settle()
        assert [e.code for e in call.of(Error) if isinstance(e, Error)] == ["invalid_event"]
        assert call.vad.acquired == 0


async def test_the_greeting_is_spoken_first() -> None:
    async with Call(agent=FakeAgent(greet="Welcome.")) as call:
        await replied(call, 1)
        assert texts(call, "assistant") == ["Welcome."]


# --- barge-in -------------------------------------------------------------------------------


async def test_barge_in_stops_the_reply_and_keeps_what_was_heard() -> None:
    async with Call(stt=FakeStt("tell me", "stop"), agent=FakeAgent(reply=LONG)) as call:
        await call.say()
        await replied(call, 1.2)  # about a second of the reply has played
        assert call.of(AgentAudio)
        await call.audio(LOUD, 300)  # longer than barge_in_min_ms
        interruptions = call.of(Interruption)
        assert len(interruptions) == 1
        cut = [e for e in call.of(Transcript) if isinstance(e, Transcript) and e.interrupted]
        assert len(cut) == 1
        heard = cut[0].text
        assert heard and LONG.startswith(heard) and heard != LONG
        await call.audio(QUIET, 800)
        await replied(call, 1)
        stored = [t for t in call.recorder.turns if t.interrupted]
        assert [(t.text, t.heard_text) for t in stored] == [(LONG, heard)]
        assert call.conv.history[1].text == heard


async def test_nothing_of_an_interrupted_reply_is_sent_after_the_interruption() -> None:
    async with Call(stt=FakeStt("tell me"), agent=FakeAgent(reply=LONG)) as call:
        await call.say()
        await replied(call, 0.6)
        await call.audio(LOUD, 300)
        await replied(call, 3)
        later = after(call, Interruption)
        assert not any(isinstance(e, AgentAudio) for e in later)
        assert not any(
            isinstance(e, TranscriptDelta | Transcript)
            and e.role == "assistant"
            and not getattr(e, "interrupted", False)
            for e in later
        )


async def test_speech_before_the_agent_talks_merges_the_turns() -> None:
    agent = FakeAgent(gate=asyncio.Event())
    async with Call(stt=FakeStt("first", "second"), agent=agent) as call:
        await call.say()
        assert agent.heard == ["first"]  # thinking, held by the gate
        await call.audio(LOUD, 300)  # the user goes on before the agent talks
        await call.audio(QUIET, 800)
        agent.gate.set()
        await replied(call, 3)
        assert agent.heard == ["first", "first second"]
        assert call.of(Interruption) == []


# --- pause and resume -----------------------------------------------------------------------


async def test_pause_stops_talking_ignores_audio_and_resume_listens_again() -> None:
    async with Call(stt=FakeStt("tell me", "again"), agent=FakeAgent(reply=LONG)) as call:
        await call.say()
        await replied(call, 0.6)
        await call.conv.handle(PauseRequested())
        await settle()
        assert len(call.of(Interruption)) == 1
        await call.say()  # the app paused: not heard
        assert len(call.stt.calls) == 1 and len(call.of(UserSpeechStarted)) == 1
        await call.conv.handle(ResumeRequested())
        await call.say()
        await replied(call, 1)
        assert texts(call, "user") == ["tell me", "again"]


# --- ending ---------------------------------------------------------------------------------


async def test_close_while_replying_keeps_the_heard_part_and_ends_last() -> None:
    call = Call(stt=FakeStt("tell me"), agent=FakeAgent(reply=LONG))
    async with call:
        await call.say()
        await replied(call, 0.6)
        await call.conv.close("client_requested")
        assert call.conv.finished.is_set()
    assert isinstance(call.sent[-1], SessionEnded)
    assert call.of(Interruption) == []  # a forced end is not a barge-in
    (agent_turn,) = [t for t in call.recorder.turns if t.role == "assistant"]
    assert agent_turn.interrupted and agent_turn.heard_text
    assert call.recorder.ended == ["client_requested"]
    assert call.vad.released == 1


async def test_the_agent_ends_the_call_after_its_reply_has_played() -> None:
    call = Call(stt=FakeStt("bye"), agent=FakeAgent(reply="Goodbye.", end_call=True))
    async with call:
        await call.say()
        await replied(call, 2)
        assert call.conv.finished.is_set()
        assert call.conv.end_reason == "ended"
    assert isinstance(call.sent[-1], SessionEnded)
    assert texts(call, "assistant") == ["Goodbye."]


async def test_silence_ends_the_call_on_the_fake_clock() -> None:
    async with Call(silence_timeout_s=5) as call:
        await call.clock.advance(4)
        assert not call.conv.finished.is_set()
        for _ in range(4):
            await call.clock.advance(0.5)
        assert call.conv.end_reason == "timeout"
        assert isinstance(call.sent[-1], SessionEnded)


# --- errors: an error event, and the session goes on ----------------------------------------


async def test_an_stt_failure_is_reported_and_the_next_turn_works() -> None:
    async with Call(stt=FakeStt(RuntimeError("stt down"), "hello")) as call:
        await call.say()
        await settle()
        assert [e.message for e in call.of(Error) if isinstance(e, Error)] == [
            "speech recognition failed"
        ]
        await call.say()
        await replied(call)
        assert texts(call, "user") == ["hello"]
        assert texts(call, "assistant") == ["Sure. I can help with that."]


async def test_a_tts_failure_is_reported_and_the_next_turn_works() -> None:
    tts = FakeTts()
    tts.fail = RuntimeError("tts down")
    async with Call(stt=FakeStt("one", "two"), tts=tts) as call:
        await call.say()
        await replied(call, 1)
        assert [e.message for e in call.of(Error) if isinstance(e, Error)] == [
            "the agent could not reply"
        ]
        tts.fail = None
        await call.say()
        await replied(call)
        assert call.of(AgentAudio)
        assert texts(call, "assistant") == ["Sure. I can help with that."]


async def test_an_agent_failure_is_reported_and_the_next_turn_works() -> None:
    agent = FakeAgent(fail=RuntimeError("brain down"))
    async with Call(stt=FakeStt("one", "two"), agent=agent) as call:
        await call.say()
        await replied(call, 1)
        assert [e.code for e in call.of(Error) if isinstance(e, Error)] == ["internal_error"]
        agent.fail = None
        await call.say()
        await replied(call)
        assert texts(call, "assistant") == ["Sure. I can help with that."]


async def test_a_store_failure_does_not_stop_the_call() -> None:
    async with Call(stt=FakeStt("one")) as call:
        call.recorder.fail_turns = True
        await call.say()
        await replied(call)
        assert texts(call, "assistant") == ["Sure. I can help with that."]


# --- cancellation at every stage ------------------------------------------------------------


def leftover_tasks() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}


async def closed_cleanly(call: Call) -> None:
    await call.conv.close("client_requested")
    await settle()
    assert isinstance(call.sent[-1], SessionEnded)
    assert leftover_tasks() == set()
    assert call.vad.released == 1


async def test_close_during_speculative_stt_cancels_it() -> None:
    stt = FakeStt("hello")
    stt.gate = asyncio.Event()
    async with Call(stt=stt) as call:
        await call.audio(LOUD, 600)
        await call.audio(QUIET, 250)
        await closed_cleanly(call)
        assert stt.cancelled == 1


async def test_close_during_the_end_of_turn_check_cancels_it() -> None:
    model = FakeTurnModel(0.9)
    model.gate = asyncio.Event()
    settings = TurnSettings(echo_cancel=False, smart_turn=True)
    async with Call(turn_model=model, settings=settings) as call:
        await call.audio(LOUD, 600)
        await call.audio(QUIET, 250)
        assert model.calls == 1
        await closed_cleanly(call)


async def test_close_during_stt_waits_for_the_users_words() -> None:
    stt = FakeStt("my last words")
    stt.gate = asyncio.Event()
    async with Call(stt=stt) as call:
        await call.say()
        closing = asyncio.create_task(call.conv.close("client_requested"))
        await settle()
        assert not closing.done()
        stt.gate.set()
        await closing
        assert [t.text for t in call.recorder.turns] == ["my last words"]
        await closed_cleanly(call)


async def test_close_while_the_agent_thinks() -> None:
    agent = FakeAgent(gate=asyncio.Event())
    async with Call(stt=FakeStt("hi"), agent=agent) as call:
        await call.say()
        assert agent.heard == ["hi"]
        await closed_cleanly(call)
        assert agent.closed == 1
        assert texts(call, "assistant") == []


async def test_close_while_synthesizing() -> None:
    tts = FakeTts()
    tts.gate = asyncio.Event()
    async with Call(stt=FakeStt("hi"), tts=tts) as call:
        await call.say()
        assert tts.sentences
        await closed_cleanly(call)
        assert call.of(AgentAudio) == []


async def test_close_while_playing_and_pacing() -> None:
    async with Call(stt=FakeStt("hi"), agent=FakeAgent(reply=LONG)) as call:
        await call.say()
        await replied(call, 0.5)
        assert call.of(AgentAudio)
        await closed_cleanly(call)


async def test_audio_is_paced_at_most_lead_ms_ahead() -> None:
    async with Call(stt=FakeStt("hi"), agent=FakeAgent(reply=LONG)) as call:
        await call.audio(LOUD, 600)
        await call.audio(QUIET, 600 + VAD_FRAME_MS)  # the turn ends with this frame
        await settle()
        t0 = call.clock.t
        assert 0 < call.audio_ms() <= 250 + 40
        for _ in range(40):
            await call.clock.advance(0.05)
            assert call.audio_ms() <= (call.clock.t - t0) * 1000 + 250 + 40
        assert call.audio_ms() >= 2000
