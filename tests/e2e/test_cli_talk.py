"""`voxgate talk` against a running server, and the Atoms `variables` reaching the agent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from voxgate.audio.pcm import rms_dbfs
from voxgate.audio.wav import read_wav
from voxgate.cli.main import main
from voxgate.client import AtomsClient

from .conftest import SPEECH_DIR, RunningServer
from .helpers import normalize

pytestmark = [pytest.mark.e2e, pytest.mark.models]


def test_talk_prints_both_transcripts(server: RunningServer, tmp_path: Path) -> None:
    out = tmp_path / "reply.wav"
    result = CliRunner().invoke(
        main,
        [
            "talk",
            "--wav",
            str(SPEECH_DIR / "spk1_snt5.wav"),
            "--out",
            str(out),
            "--url",
            server.ws_url,
            "--key",
            server.dev_key,
            "--agent",
            "quick",
            "--sample-rate",
            "16000",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert normalize(lines[0]) == "user " + normalize("sunday is the best part of the week")
    assert lines[1] == "agent: Got it."
    samples, rate = read_wav(out)
    assert rate == 16000 and len(samples) > 0.3 * rate and rms_dbfs(samples) > -35


def test_talk_with_a_bad_key_fails_clearly(server: RunningServer) -> None:
    result = CliRunner().invoke(
        main,
        ["talk", "--wav", str(SPEECH_DIR / "spk1_snt5.wav"), "--url", server.ws_url, "--key", "x"],
    )
    assert result.exit_code == 1
    assert "bad API key" in result.output


async def test_variables_reach_the_agent(server: RunningServer) -> None:
    client = await AtomsClient.connect(
        server.ws_url,
        token=server.dev_key,
        agent_id="greeter",
        mode="chat",
        variables={"name": "Ada", "user_number": "+15550100"},  # the latter is reserved
    )
    async with asyncio.timeout(10):
        greeting = await client.recv()
        while greeting is not None and greeting["type"] != "transcript":
            greeting = await client.recv()
    assert greeting is not None and greeting["text"] == "Hello Ada, welcome back."
    await client.send_text("who am I?")
    async with asyncio.timeout(10):
        while (event := await client.recv()) is not None:
            if event["type"] == "transcript" and event["role"] == "assistant":
                break
    assert event is not None and event["text"] == "You are caller Ada."
    await client.close()


def test_say_then_talk(server: RunningServer, tmp_path: Path) -> None:
    question = tmp_path / "question.wav"
    said = CliRunner().invoke(main, ["say", "What time is it?", "--out", str(question)])
    assert said.exit_code == 0, said.output
    samples, rate = read_wav(question)
    assert rate == 22050 and len(samples) > rate * 0.5
    result = CliRunner().invoke(
        main,
        [
            "talk",
            "--wav",
            str(question),
            "--url",
            server.ws_url,
            "--key",
            server.dev_key,
            "--agent",
            "quick",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "time" in result.stdout.splitlines()[0].lower()


def test_talk_in_datagrid_writes_the_reply_at_24_khz(server: RunningServer, tmp_path: Path) -> None:
    out = tmp_path / "reply.wav"
    args = ["talk", "--wav", str(SPEECH_DIR / "spk1_snt2.wav"), "--out", str(out)]
    args += ["--url", server.http_url, "--key", server.dev_key, "--agent", "quick"]
    result = CliRunner().invoke(main, [*args, "--dialect", "datagrid"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert normalize(lines[0]) == "user " + normalize("drop the two when you add the figures")
    assert lines[1] == "agent: Got it."
    samples, rate = read_wav(out)
    assert rate == 24000 and len(samples) > 0.3 * rate and rms_dbfs(samples) > -35


def test_talk_to_an_unreachable_server_fails_clearly(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    wav = str(SPEECH_DIR / "spk1_snt5.wav")
    result = CliRunner().invoke(
        main, ["talk", "--wav", wav, "--url", f"http://127.0.0.1:{port}", "--key", "k"]
    )
    assert result.exit_code == 1
    assert f"cannot reach http://127.0.0.1:{port}" in result.output


def test_talk_without_an_audio_device_fails_clearly(server: RunningServer) -> None:
    """This machine has no sound card (and no PortAudio): the microphone path must say so,
    and point at --wav."""
    from voxgate.client import AudioDeviceError, Microphone

    try:
        Microphone()
    except AudioDeviceError:
        pass
    else:
        pytest.skip("this machine has a microphone")
    result = CliRunner().invoke(main, ["talk", "--url", server.http_url, "--key", server.dev_key])
    assert result.exit_code == 1
    assert "--wav" in result.output
    assert "PortAudio" in result.output or "no audio" in result.output


def test_chat_streams_replies(server: RunningServer) -> None:
    result = CliRunner().invoke(
        main,
        ["chat", "--url", server.http_url, "--key", server.dev_key, "--agent", "greeter"],
        input="who am I?\n/quit\n",
    )
    assert result.exit_code == 0, result.output
    assert "Hello , welcome back." in result.output
    assert "You are caller ." in result.output


def test_chat_with_a_bad_key_fails_clearly(server: RunningServer) -> None:
    result = CliRunner().invoke(main, ["chat", "--url", server.http_url, "--key", "nope"])
    assert result.exit_code == 1
    assert "bad API key" in result.output


def test_chat_over_the_messaging_api(server: RunningServer) -> None:
    from .test_messaging_ws import HOST, register

    token = register(server, "greeter")
    args = ["chat", "--url", server.http_url, "--connector", token, "--host", HOST]
    result = CliRunner().invoke(main, args, input="who am I?\n/quit\n")
    assert result.exit_code == 0, result.output
    assert "Hello , welcome back." in result.output
    assert "You are caller ." in result.output
    assert "the chat ended (REASON_USER_END)" in result.output


def test_chat_with_a_bad_connector_fails_clearly(server: RunningServer) -> None:
    args = ["chat", "--url", server.http_url, "--connector", "vmc_nope"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "connector token" in result.output
