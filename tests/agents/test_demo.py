"""The keyword agent: loading and validating definitions, matching, templating."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxgate.agents.base import AgentContext, EndCall, ReplyText
from voxgate.agents.demo import KeywordAgent, fill, load_agents, load_keyword_agent
from voxgate.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def context(**variables: str) -> AgentContext:
    return AgentContext(call_id="call_x", channel="voice", variables=variables)


async def reply(agent: KeywordAgent, text: str) -> tuple[str, bool]:
    parts = [p async for p in agent.respond(context(), text)]
    said = "".join(p.text for p in parts if isinstance(p, ReplyText))
    return said, any(isinstance(p, EndCall) for p in parts)


def test_shipped_agents_load() -> None:
    agents = load_agents(ROOT / "agents")
    assert "demo" in agents
    assert agents["demo"].greeting(context())


async def test_demo_intents() -> None:
    demo = load_agents(ROOT / "agents")["demo"]
    hours, end = await reply(demo, "When are you open on Sunday?")
    assert "noon" in hours and not end
    address, _ = await reply(demo, "Where are you located?")
    assert "Harbour Street" in address
    booking, _ = await reply(demo, "Can I book a table for two?")
    assert "book" in booking
    fallback, end = await reply(demo, "The child almost hurt the small dog.")
    assert fallback == demo.fallback and not end
    bye, end = await reply(demo, "Okay, goodbye!")
    assert "Goodbye" in bye and end


def test_fill_templates() -> None:
    assert fill("Hi {{ name }}, it is {{day}}.", {"name": "Ada"}) == "Hi Ada, it is ."
    assert fill("no vars", {}) == "no vars"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id: x\n", "'fallback' must be a str"),
        ("fallback: hi\n", "'id' must be a str"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("id: x\nfallback: y\nturn: {silence_ms: -5}\n", "silence_ms must not be negative"),
        ("id: x\nfallback: y\nturn: {speed: 2}\n", "'turn' may only set"),
        ("id: x\nfallback: y\nintents: [{keywords: [a]}]\n", "intents[0]: 'reply'"),
        ("id: x\nfallback: y\ngreeting: [1]\n", "'greeting' must be a string"),
        ("id: x\nfallback: [unclosed\n", "while parsing"),
    ],
)
def test_invalid_definitions_name_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_keyword_agent(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text("id: same\nfallback: hi\n")
    with pytest.raises(ConfigError, match="duplicate agent id 'same'"):
        load_agents(tmp_path)
