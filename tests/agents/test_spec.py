"""Agent definitions: the shipped agents load, and broken files fail with ``file:line`` errors.

Every broken case is a small YAML text whose first line is line 1; the expected line is
counted by hand and is where the mistake is written (for a missing field: the line of the
mapping that lacks it).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from voxgate.agents.spec import AgentSpec, GreetingSpec, load_spec, load_specs
from voxgate.agents.tools.webhook import WebhookToolSpec
from voxgate.conversation.turns import TurnSettings
from voxgate.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _yaml(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    return str(info.value)


# --- the shipped agents ------------------------------------------------------------------


def test_demo_agent_loads() -> None:
    specs = load_specs(ROOT / "agents")
    assert list(specs) == ["demo"]
    spec, path = specs["demo"]
    assert path == ROOT / "agents" / "demo.yaml"
    assert spec.name == "Blue Door Bistro"
    assert spec.timezone == "Europe/London"
    assert spec.tz.key == "Europe/London"
    assert spec.brain == "flow"
    assert spec.voice == "joe-us"
    assert spec.llm is None
    assert spec.variables == {"restaurant": "Blue Door Bistro"}
    assert spec.tool_names == ["search_knowledge", "create_booking", "list_bookings",
                               "cancel_booking"]  # fmt: skip
    assert spec.knowledge == ["knowledge/blue-door-bistro.md"]
    assert (path.parent / spec.knowledge[0]).is_file()
    assert spec.handoff.queue == "front-desk"
    assert "manager" in spec.handoff.phrases
    assert "goodbye" in spec.end_call.phrases
    assert "{{current_date}}" in spec.system_prompt


def test_demo_agent_intents() -> None:
    spec = load_spec(ROOT / "agents" / "demo.yaml")
    intents = {intent.name: intent for intent in spec.flow.intents}
    assert list(intents) == ["cancel_booking", "list_bookings", "book_table", "hours",
                             "directions", "menu", "thanks"]  # fmt: skip
    assert {name: i.tool for name, i in intents.items() if i.tool} == {
        "cancel_booking": "cancel_booking",
        "list_bookings": "list_bookings",
        "book_table": "create_booking",
    }
    assert [name for name, i in intents.items() if i.knowledge] == ["hours", "directions", "menu"]
    book = intents["book_table"]
    assert [(s.name, s.type) for s in book.slots] == [
        ("party_size", "party_size"),
        ("date", "date"),
        ("time", "time"),
        ("name", "name"),
    ]
    assert all(s.required for s in book.slots)
    assert book.arguments == {
        "name": "{{name}}",
        "party_size": "{{party_size}}",
        "date": "{{date}}",
        "time": "{{time}}",
    }
    assert book.response is not None and "{{result.reference}}" in book.response
    assert "\n" not in book.response  # folded
    assert intents["cancel_booking"].failure_response
    assert intents["thanks"].keywords == ["thanks", "thank you"]
    for intent in spec.flow.intents:
        assert intent.examples and intent.keywords
        assert intent.tool is None or intent.tool in spec.tool_names


def test_demo_agent_greets_on_every_channel() -> None:
    spec = load_spec(ROOT / "agents" / "demo.yaml")
    voice = spec.greeting_for("voice")
    chat = spec.greeting_for("chat")
    assert voice == "Hi, thanks for calling the Blue Door Bistro. How can I help you?"
    assert chat is not None and chat.startswith("Hi! I'm the Blue Door Bistro's assistant.")
    assert spec.greeting_for("messaging") == chat


def test_demo_agent_turn_settings_are_the_defaults() -> None:
    spec = load_spec(ROOT / "agents" / "demo.yaml")
    settings = spec.turn.settings()
    assert isinstance(settings, TurnSettings)
    assert settings == TurnSettings()
    assert settings.silence_ms == 600.0
    assert settings.max_turn_ms == 28000.0


def test_e2e_agents_load() -> None:
    specs = load_specs(ROOT / "tests" / "e2e" / "agents")
    assert sorted(specs) == ["acme-bot", "greeter", "quick", "talker"]
    assert {agent_id: spec.tenant for agent_id, (spec, _) in specs.items()} == {
        "acme-bot": "acme",
        "greeter": "default",
        "quick": "default",
        "talker": "default",
    }
    greeter = specs["greeter"][0]
    for channel in ("voice", "chat", "messaging"):
        assert greeter.greeting_for(channel) == "Hello {{name}}, welcome back."
    quick = specs["quick"][0]
    assert quick.greeting_for("voice") is None
    assert quick.end_call.phrases == ["goodbye"]
    talker = specs["talker"][0].greeting_for("voice")
    assert talker is not None and talker.startswith("Hello and welcome.")
    assert "\n" not in talker
    for spec, _ in specs.values():
        # None needs sentence embeddings (greeter's one intent, for messaging extras, is
        # matched by keyword).
        assert all(not intent.examples for intent in spec.flow.intents)
        assert spec.turn.settings() == TurnSettings()


def test_greeting_per_channel_leaves_the_others_silent() -> None:
    spec = AgentSpec(id="a", greeting=GreetingSpec(voice="Hello."))
    assert spec.greeting_for("voice") == "Hello."
    assert spec.greeting_for("chat") is None
    assert spec.greeting_for("messaging") is None
    assert AgentSpec(id="b").greeting_for("voice") is None


def test_webhook_tool_loads(tmp_path: Path) -> None:
    text = """
        id: a
        tools:
          - end_call
          - name: crm_lookup
            description: Look up the caller.
            method: get
            url: "https://crm.example.com/callers/{{phone}}"
            parameters:
              type: object
              properties: {phone: {type: string}}
              required: [phone]
        variables: {shop: Ann's, open: true, tables: 12, rating: 4.5}
        turn: {silence_ms: 800}
    """
    path = tmp_path / "agent.yaml"
    path.write_text(_yaml(text))
    spec = load_spec(path)
    assert spec.tool_names == ["end_call", "crm_lookup"]
    webhook = spec.tools[1]
    assert isinstance(webhook, WebhookToolSpec)
    assert webhook.method == "GET"
    assert spec.variables == {"shop": "Ann's", "open": True, "tables": 12, "rating": 4.5}
    assert type(spec.variables["open"]) is bool
    assert type(spec.variables["tables"]) is int
    assert spec.turn.settings().silence_ms == 800.0


# --- broken files --------------------------------------------------------------------------

INVALID = [
    # YAML syntax
    pytest.param("""
        id: a
        tools: [end_call, search_knowledge
        name: Ann
    """, 2, "flow sequence", id="yaml-unclosed-bracket"),
    pytest.param("""
        id: a
        name: Ann
        tools: [end_call
    """, 3, "end of the file", id="yaml-unclosed-bracket-last-line"),
    pytest.param("""
        id: a
        turn: {silence_ms: 500
        name: Ann
    """, 2, "flow mapping", id="yaml-unclosed-brace"),
    pytest.param("""
        id: a
        name: "Ann
        greeting: Hi
    """, 2, "quoted scalar", id="yaml-unclosed-quote"),
    pytest.param("""
        id: a
        turn:
          silence_ms: 500
            min_speech_ms: 100
    """, 4, "mapping values are not allowed", id="yaml-over-indented"),
    pytest.param("""
        id: a
        tools:
          - end_call
         - search_knowledge
    """, 4, "expected <block end>", id="yaml-under-indented"),
    pytest.param("""
        id: a
        turn:
        \tsilence_ms: 500
    """, 3, "cannot start any token", id="yaml-tab"),
    pytest.param("""
        id: a
        name Ann
        greeting: Hi
    """, 2, "could not find expected ':'", id="yaml-missing-colon"),
    pytest.param("""
        id: a
        ---
        id: b
    """, 2, "single document", id="yaml-two-documents"),
    # not a mapping
    pytest.param("""
        - id: a
        - id: b
    """, 1, "must be a YAML mapping", id="a-list"),
    pytest.param("""
        # agents
        - id: a
    """, 2, "must be a YAML mapping", id="a-list-after-a-comment"),
    pytest.param("""
        just some text
    """, 1, "must be a YAML mapping", id="a-scalar"),
    pytest.param("", 1, "must be a YAML mapping", id="empty"),
    pytest.param("""
        # nothing here yet
    """, 1, "must be a YAML mapping", id="only-a-comment"),
    # top level
    pytest.param("""
        # The shop's agent.
        name: Ann
        greeting: Hi
    """, 2, "id: Field required", id="missing-id"),
    pytest.param("""
        name: Ann
        id: my agent
    """, 2, "id: String should match pattern", id="id-with-a-space"),
    pytest.param("""
        id: a
        greting: Hello
    """, 2, "greting: Extra inputs are not permitted", id="unknown-key"),
    pytest.param("""
        id: a
        name: Ann
        timezone: Europe/Londn
    """, 3, "unknown timezone 'Europe/Londn'", id="unknown-timezone"),
    pytest.param("""
        id: a
        voice: amy-uk
    """, 2, "voice: Input should be 'joe-us'", id="unknown-voice"),
    pytest.param("""
        id: a
        language: fr
    """, 2, "language: Input should be 'en'", id="unknown-language"),
    pytest.param("""
        id: a
        greeting:
          voice: Hi
          chta: Hello
    """, 4, "greeting.chta: Extra inputs are not permitted", id="greeting-channel-typo"),
    pytest.param("""
        id: a
        greeting: [Hi, Hello]
    """, 2, "greeting: Input should be a valid string", id="greeting-a-list"),
    # turn
    pytest.param("""
        id: a
        turn: {silence_ms: fast}
    """, 2, "turn.silence_ms: Input should be a valid number", id="turn-wrong-type"),
    pytest.param("""
        id: a
        turn:
          min_speech_ms: 100
          silence_ms: fast
    """, 4, "turn.silence_ms: Input should be a valid number", id="turn-wrong-type-block"),
    pytest.param("""
        id: a
        turn:
          silence_ms: 5
    """, 3, "turn.silence_ms: Input should be greater than or equal to 50", id="turn-too-low"),
    pytest.param("""
        id: a
        turn:
          silence_ms: 500
          max_turn_ms: 60000
    """, 4, "less than or equal to 28000", id="turn-too-high"),
    pytest.param("""
        id: a
        turn:
          silence_ms: 500
          silense_ms: 400
    """, 4, "turn.silense_ms: Extra inputs are not permitted", id="turn-unknown-key"),
    pytest.param("""
        id: a
        turn: fast
    """, 2, "turn: Input should be a valid dictionary", id="turn-not-a-mapping"),
    # tools
    pytest.param("""
        id: a
        tools:
          - end_call
          - book_flight
    """, 4, "unknown built-in tool 'book_flight'", id="unknown-builtin-tool"),
    pytest.param("""
        id: a
        tools:
          - end_call
          - search_knowledge
          - end_call
    """, 5, "tools[2]: tool 'end_call' is listed twice", id="tool-listed-twice"),
    pytest.param("""
        id: a
        tools:
          - end_call
          - name: end_call
            description: Hang up politely.
            url: https://example.com/hangup
    """, 4, "tool 'end_call' is listed twice", id="webhook-named-like-a-listed-tool"),
    pytest.param("""
        id: a
        tools:
          - name: crm
            description: Look up the caller.
            method: FETCH
            url: https://crm.example.com/lookup
    """, 5, "tools[0].method: Input should be 'GET', 'POST'", id="webhook-bad-method"),
    pytest.param("""
        id: a
        tools:
          - name: crm
            description: Look up the caller.
            url: ftp://crm.example.com/lookup
    """, 5, "url must be an http:// or https:// URL", id="webhook-not-http"),
    pytest.param("""
        id: a
        tools:
          - name: crm
            description: Look up the caller.
            parameters: {type: object, properties: {tenant: {type: string}}}
            url: "https://{{tenant}}.example.com/lookup"
    """, 6, "placeholders may only be used in the path and query", id="webhook-host-placeholder"),
    pytest.param("""
        id: a
        tools:
          - end_call
          - name: crm
            url: https://crm.example.com/lookup
    """, 4, "tools[1].description: Field required", id="webhook-missing-description"),
    pytest.param("""
        id: a
        tools:
          - name: crm
            description: Look up the caller.
            url: https://crm.example.com/lookup
            timeout: 3
    """, 6, "tools[0].timeout: Extra inputs are not permitted", id="webhook-unknown-key"),
    # intents
    pytest.param("""
        id: a
        flow:
          intents:
            - name: hours
              response: We open at nine.
    """, 4, "flow.intents[0]: an intent needs 'examples' or 'keywords'", id="intent-no-matchers"),
    pytest.param("""
        id: a
        flow:
          intents:
            - name: thanks
              keywords: [thanks]
              response: You're welcome.
            - name: hours
              keywords: [open]
    """, 7, "flow.intents[1]: an intent needs a 'response'", id="intent-no-response"),
    pytest.param("""
        id: a
        tools: [search_knowledge]
        flow:
          intents:
            - name: book
              keywords: [book]
              tool: create_booking
              response: Booked.
    """, 7, "uses tool 'create_booking', which is not in this agent's 'tools'",
        id="intent-tool-not-listed"),
    pytest.param("""
        id: a
        flow:
          intents:
            - name: hours
              keywords: [open]
              knowledge: true
    """, 6, "intent 'hours' answers from knowledge, but none is set",
        id="intent-knowledge-without-knowledge"),
    pytest.param("""
        id: a
        flow:
          intents:
            - name: hours
              keywords: [open]
              response: Nine to five.
            - name: menu
              keywords: [menu]
              response: Pizza.
            - name: hours
              keywords: [close]
              response: At five.
    """, 10, "flow.intents[2].name: duplicate intent name 'hours'", id="duplicate-intent"),
    pytest.param("""
        id: a
        flow:
          intents:
            - name: order
              keywords: [order]
              response: Ordered.
              slots:
                - name: colour
                  type: colour
                  prompt: Which colour?
    """, 9, "flow.intents[0].slots[0].type: Input should be 'date'", id="slot-unknown-type"),
    pytest.param("""
        id: a
        flow:
          intents:
            - name: order
              keywords: [order]
              response: Ordered.
              slots:
                - {name: day, type: date, prompt: "Which day?"}
                - {name: colour, type: colour, prompt: "Which colour?"}
    """, 9, "slots[1].type: Input should be 'date'", id="slot-unknown-type-flow-style"),
    pytest.param("""
        id: a
        flow:
          intents:
            - name: order
              keywords: [order]
              response: Ordered.
              slots:
                - name: day
                  type: date
    """, 8, "flow.intents[0].slots[0].prompt: Field required", id="slot-missing-prompt"),
    pytest.param("""
        id: a
        flow:
          intents:
            - name: my hours
              keywords: [open]
              response: Nine.
    """, 4, "flow.intents[0].name: String should match pattern", id="intent-bad-name"),
    pytest.param("""
        id: a
        flow:
          fallback: Sorry?
          confidence_floor: 1.5
    """, 4, "flow.confidence_floor: Input should be less than 1", id="flow-floor-out-of-range"),
    pytest.param("""
        id: a
        flow:
          intent:
            - name: hours
    """, 3, "flow.intent: Extra inputs are not permitted", id="flow-unknown-key"),
    # llm
    pytest.param("""
        id: a
        name: Ann
        brain: llm
    """, 3, "the llm brain needs an 'llm' section", id="llm-brain-without-llm"),
    pytest.param("""
        id: a
        brain: gpt
    """, 2, "brain: Input should be 'flow' or 'llm'", id="unknown-brain"),
    pytest.param("""
        id: a
        brain: llm
        llm:
          model: qwen
          base_url: ftp://models.example.com/v1
    """, 5, "llm.base_url: String should match pattern '^https?://'", id="llm-url-not-http"),
    pytest.param("""
        id: a
        brain: llm
        llm:
          base_url: http://localhost:8000/v1
    """, 3, "llm.model: Field required", id="llm-missing-model"),
    pytest.param("""
        id: a
        brain: llm
        llm:
          base_url: http://localhost:8000/v1
          model: qwen
          temperature: 3
    """, 6, "llm.temperature: Input should be less than or equal to 2", id="llm-temperature"),
    # knowledge
    pytest.param("""
        id: a
        knowledge:
          - missing/faq.md
    """, 3, "knowledge[0]: 'missing/faq.md' does not exist", id="knowledge-missing"),
    pytest.param("""
        id: a
        knowledge: faq.md
    """, 2, "knowledge: Input should be a valid list", id="knowledge-not-a-list"),
    # variables
    pytest.param("""
        id: a
        variables:
          restaurant: Blue Door
          address:
            street: Harbour Street
    """, 4, "variables.address: a variable must be text, a number or true/false, not a mapping",
        id="variable-nested-mapping"),
    pytest.param("""
        id: a
        variables: {restaurant: Blue Door, tags: [quiet, cosy]}
    """, 2, "variables.tags: a variable must be text, a number or true/false, not a list",
        id="variable-list"),
    pytest.param("""
        id: a
        variables:
          restaurant:
    """, 3, "variables.restaurant: a variable must be text, a number or true/false, not empty",
        id="variable-empty"),
    pytest.param("""
        id: a
        variables: shop
    """, 2, "variables: Input should be a valid dictionary", id="variables-not-a-mapping"),
    # handoff / end_call
    pytest.param("""
        id: a
        handoff:
          queue: front desk
    """, 3, "handoff.queue: String should match pattern", id="handoff-bad-queue"),
    pytest.param("""
        id: a
        end_call:
          phrase: [bye]
    """, 3, "end_call.phrase: Extra inputs are not permitted", id="end-call-unknown-key"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "phrase"), INVALID)
def test_invalid_agent_names_file_and_line(
    tmp_path: Path, text: str, line: int, phrase: str
) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(_yaml(text), encoding="utf-8")
    message = _error(path)
    assert message.startswith(f"{path}:{line}: "), message
    assert phrase in message, message
    # one mistake, one message (no complaint from the union members that were not meant)
    assert len(message.splitlines()) == 1, message


def test_every_mistake_in_a_file_is_reported(tmp_path: Path) -> None:
    text = """
        id: a
        greting: Hello
        turn:
          silence_ms: 5
        tools: [end_call, fly]
    """
    path = tmp_path / "agent.yaml"
    path.write_text(_yaml(text))
    lines = sorted(_error(path).splitlines())  # in the schema's order; sort by line
    assert len(lines) == 3, lines
    assert lines[0].startswith(f"{path}:2: greting: ")
    assert lines[1].startswith(f"{path}:4: turn.silence_ms: ")
    assert lines[2].startswith(f"{path}:5: tools[1]: unknown built-in tool 'fly'")


def test_every_missing_knowledge_path_is_reported(tmp_path: Path) -> None:
    (tmp_path / "faq.md").write_text("# FAQ\n")
    (tmp_path / "docs").mkdir()
    text = """
        id: a
        knowledge:
          - faq.md
          - menu.md
          - docs
          - prices.md
    """
    path = tmp_path / "agent.yaml"
    path.write_text(_yaml(text))
    assert _error(path).splitlines() == [
        f"{path}:4: knowledge[1]: 'menu.md' does not exist",
        f"{path}:6: knowledge[3]: 'prices.md' does not exist",
    ]


def test_knowledge_paths_are_relative_to_the_agent_file(tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "faq.md").write_text("# FAQ\n")
    path = tmp_path / "agent.yaml"
    path.write_text("id: a\nknowledge: [kb/faq.md, kb]\n")
    assert load_spec(path).knowledge == ["kb/faq.md", "kb"]


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    assert _error(path).startswith(f"{path}: cannot read")


# --- folders -------------------------------------------------------------------------------


def test_folder_errors_are_reported_together(tmp_path: Path) -> None:
    (tmp_path / "a-typo.yaml").write_text("id: a\ngreting: Hello\n")
    (tmp_path / "b-good.yaml").write_text("id: b\n")
    (tmp_path / "c-range.yml").write_text("id: c\nturn:\n  silence_ms: 5\n")
    (tmp_path / "d-syntax.yaml").write_text("id: d\ntools: [end_call\n")
    (tmp_path / "notes.txt").write_text("not: [an agent\n")
    with pytest.raises(ConfigError) as info:
        load_specs(tmp_path)
    lines = str(info.value).splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith(f"{tmp_path / 'a-typo.yaml'}:2: greting: ")
    assert lines[1].startswith(f"{tmp_path / 'c-range.yml'}:3: turn.silence_ms: ")
    assert lines[2].startswith(f"{tmp_path / 'd-syntax.yaml'}:2: invalid YAML")


def test_folder_loads_yaml_and_yml_only(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text("id: one\n")
    (tmp_path / "two.yml").write_text("id: two\n")
    (tmp_path / "README.md").write_text("# agents\n")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "three.yaml").write_text("id: three\n")
    specs = load_specs(tmp_path)
    assert sorted(specs) == ["one", "two"]
    assert specs["two"][1] == tmp_path / "two.yml"


def test_duplicate_ids_across_files_name_both(tmp_path: Path) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("id: shop\nname: First\n")
    second.write_text("# The same agent again.\nname: Second\nid: shop\n")
    with pytest.raises(ConfigError) as info:
        load_specs(tmp_path)
    message = str(info.value)
    assert message == f"{second}:3: id: duplicate agent id 'shop' (also in {first}:1)"


def test_empty_folder_has_no_agents(tmp_path: Path) -> None:
    assert load_specs(tmp_path) == {}


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="agents folder not found") as info:
        load_specs(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(info.value)


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("id: a\n")
    with pytest.raises(ConfigError, match="agents folder not found"):
        load_specs(path)


@pytest.mark.parametrize(
    ("text", "line", "where"),
    [
        ("id: x\ngreeting: hi\nflow:\n  fallback: a\ngreeting: again\n", 5, "greeting"),
        ("id: x\nflow:\n  fallback: a\n  fallback: b\n", 4, "flow.fallback"),
    ],
)
def test_a_key_given_twice_is_refused(tmp_path: Path, text: str, line: int, where: str) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    assert str(info.value) == f"{path}:{line}: {where}: key given twice"
