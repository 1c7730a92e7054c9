"""Agent definitions: the YAML schema, validated at load with ``file:line`` messages.

One definition serves every channel. Load with :func:`load_spec` (one file) or
:func:`load_specs` (a folder); both raise :class:`~voxgate.errors.ConfigError` whose
message names the file, the line and what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from voxgate.agents.tools.webhook import WebhookToolSpec
from voxgate.conversation.turns import TurnSettings
from voxgate.errors import ConfigError

Scalar = str | int | float | bool
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")]
BUILTIN_TOOLS = (
    "end_call",
    "transfer_to_human",
    "search_knowledge",
    "create_booking",
    "list_bookings",
    "cancel_booking",
)
VOICES = ("joe-us",)
SlotType = Literal[
    "date", "time", "number", "party_size", "name", "text", "reference", "phone", "email"
]


def _error_at(at: tuple[str | int, ...], message: str) -> PydanticCustomError:
    """A validation error about the part ``at`` of the value being validated (a path relative
    to it), so that :func:`load_spec` can point at that part's line."""
    return PydanticCustomError("agent_spec", "{message}", {"message": message, "at": at})


def _scalar(value: object) -> object:
    if isinstance(value, str | int | float | bool):
        return value
    kind = {dict: "a mapping", list: "a list", type(None): "empty"}.get(
        type(value), f"a {type(value).__name__}"
    )
    raise ValueError(f"a variable must be text, a number or true/false, not {kind}")


def _builtin_tool(name: str) -> str:
    if name not in BUILTIN_TOOLS:
        raise ValueError(f"unknown built-in tool {name!r}; known: {', '.join(BUILTIN_TOOLS)}")
    return name


# Unions are tagged by the input's shape so that a mistake gets one message, about the member
# that was meant (untagged, pydantic reports every member's complaint). Tags are capitalized:
# error locations skip them.
Variable = Annotated[Scalar, BeforeValidator(_scalar)]
ToolEntry = Annotated[
    Annotated[str, AfterValidator(_builtin_tool), Tag("Builtin")]
    | Annotated[WebhookToolSpec, Tag("Webhook")],
    Discriminator(lambda v: "Webhook" if isinstance(v, dict | WebhookToolSpec) else "Builtin"),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TurnSpec(_Model):
    """Turn-taking settings; see :class:`~voxgate.conversation.turns.TurnSettings`."""

    vad_threshold: float = Field(default=0.5, gt=0, lt=1)
    min_speech_ms: float = Field(default=150.0, ge=0, le=5000)
    silence_ms: float = Field(default=600.0, ge=50, le=10000)
    prefix_padding_ms: float = Field(default=300.0, ge=0, le=2000)
    barge_in_min_ms: float = Field(default=150.0, ge=0, le=5000)
    onset_lookback_ms: float = Field(default=300.0, ge=0, le=1000)
    echo_cancel: bool = True
    smart_turn: bool = True
    smart_turn_threshold: float = Field(default=0.5, gt=0, lt=1)
    pause_ms: float = Field(default=150.0, ge=32, le=5000)
    max_turn_ms: float = Field(default=28000.0, ge=1000, le=28000)

    def settings(self) -> TurnSettings:
        return TurnSettings(**self.model_dump())


class GreetingSpec(_Model):
    """What the agent says first, per channel (omit a channel to stay silent there)."""

    voice: str | None = None
    chat: str | None = None
    messaging: str | None = None


class SlotSpec(_Model):
    name: Identifier
    type: SlotType
    prompt: str = Field(min_length=1)
    """What the agent asks when the slot is missing."""
    required: bool = True


class AttachmentSpec(_Model):
    title: str = Field(min_length=1, max_length=200)
    content_url: str = Field(min_length=1, max_length=2000)
    content_type: Literal["url", "image"] = "url"
    preview_image_url: str = Field(default="", max_length=2000)
    call_to_action_text: str = Field(default="", max_length=100)


class IntentSpec(_Model):
    name: Identifier
    examples: list[str] = Field(default_factory=list)
    """Phrases matched by meaning (sentence embeddings)."""
    keywords: list[str] = Field(default_factory=list)
    """Words or phrases matched literally (case-insensitive, whole words)."""
    slots: list[SlotSpec] = Field(default_factory=list)
    tool: str | None = None
    """Tool to call once every required slot is filled."""
    arguments: dict[str, str] = Field(default_factory=dict)
    """Tool arguments, templated from the slots: ``{party_size: "{{party_size}}"}``."""
    response: str | None = None
    """Reply, templated from variables, slots and the tool's ``result``."""
    failure_response: str | None = None
    """Reply when the tool fails (default: a generic apology)."""
    knowledge: bool = False
    """Answer from the knowledge base (when there is no ``response``)."""
    handoff: bool = False
    end_call: bool = False
    suggestions: list[str] = Field(default_factory=list)
    """Tappable replies shown with the answer in messaging (``response_suggestions``)."""
    attachments: list[AttachmentSpec] = Field(default_factory=list)
    """Links and images shown with the answer in messaging."""

    @model_validator(mode="after")
    def _has_matchers_and_reply(self) -> IntentSpec:
        if not self.examples and not self.keywords:
            raise ValueError("an intent needs 'examples' or 'keywords'")
        if self.response is None and not (self.knowledge or self.handoff):
            raise ValueError("an intent needs a 'response' (or knowledge: true, handoff: true)")
        return self


class FlowSpec(_Model):
    """The offline brain: intents by meaning, slots, tools, knowledge."""

    intents: list[IntentSpec] = Field(default_factory=list)
    fallback: str = "Sorry, I didn't catch that. Could you say it another way?"
    confidence_floor: float = Field(default=0.88, gt=0, lt=1)
    """Cosine similarity an intent example must reach (e5 scores sit high: unrelated
    sentences score 0.77-0.86, paraphrases 0.90+)."""
    knowledge_floor: float = Field(default=0.84, gt=0, lt=1)
    """Similarity a knowledge passage must reach to answer an unmatched question."""

    @field_validator("intents")
    @classmethod
    def _unique_names(cls, intents: list[IntentSpec]) -> list[IntentSpec]:
        seen: set[str] = set()
        for i, intent in enumerate(intents):
            if intent.name in seen:
                raise _error_at((i, "name"), f"duplicate intent name {intent.name!r}")
            seen.add(intent.name)
        return intents


class LlmSpec(_Model):
    """An OpenAI-compatible Chat Completions endpoint."""

    base_url: str = Field(pattern=r"^https?://")
    model: str = Field(min_length=1)
    api_key_env: str | None = None
    """Environment variable holding the API key (never the key itself)."""
    temperature: float = Field(default=0.4, ge=0, le=2)
    max_tokens: int = Field(default=300, ge=1, le=8192)
    timeout_s: float = Field(default=20.0, gt=0, le=120)
    first_token_timeout_s: float = Field(default=8.0, gt=0, le=120)
    retries: int = Field(default=2, ge=0, le=5)
    max_tool_rounds: int = Field(default=4, ge=1, le=10)
    tool_choice: str | None = None
    """``auto`` (default), ``none``, ``required``, or a tool name to force on the first round."""
    tool_results_as: Literal["tool", "user"] = "tool"
    """How tool results go back to the model: OpenAI's ``tool`` messages, or ``user``
    messages for servers whose chat template ignores the ``tool`` role."""
    apology: str = (
        "I'm sorry, I'm having trouble answering right now. Please try again in a moment."
    )


class HandoffSpec(_Model):
    queue: Identifier = "default"
    phrases: list[str] = Field(
        default_factory=lambda: ["human", "real person", "agent", "operator", "representative"]
    )
    """User words that ask for a human (matched literally)."""
    message: str = "Of course. I'm transferring you to a colleague now."
    timeout_s: float = Field(default=300.0, gt=0, le=86400)
    """Messaging: how long a chat waits in the queue for a human before the agent takes
    it back (``HANDOFF_TIMEOUT``)."""


class EndCallSpec(_Model):
    phrases: list[str] = Field(default_factory=lambda: ["goodbye", "bye bye", "that's all"])
    message: str = "Thanks for calling. Goodbye!"


Greeting = Annotated[
    Annotated[str, Tag("Text")] | Annotated[GreetingSpec, Tag("Channels")],
    Discriminator(lambda v: "Channels" if isinstance(v, dict | GreetingSpec) else "Text"),
]


class AgentSpec(_Model):
    """One agent, as written in ``agents/<id>.yaml``."""

    id: Identifier
    tenant: Identifier = "default"
    name: str = ""
    description: str = ""
    language: Literal["en"] = "en"
    timezone: str = "UTC"
    voice: Literal[VOICES] = "joe-us"  # type: ignore[valid-type]
    greeting: Greeting | None = None
    turn: TurnSpec = Field(default_factory=TurnSpec)
    brain: Literal["flow", "llm"] = "flow"
    system_prompt: str = ""
    variables: dict[str, Variable] = Field(default_factory=dict)
    tools: list[ToolEntry] = Field(default_factory=list)
    knowledge: list[str] = Field(default_factory=list)
    """Files or folders (Markdown or text), relative to the agent file."""
    flow: FlowSpec = Field(default_factory=FlowSpec)
    llm: LlmSpec | None = None
    handoff: HandoffSpec = Field(default_factory=HandoffSpec)
    end_call: EndCallSpec = Field(default_factory=EndCallSpec)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (use an IANA name)") from None
        return value

    @field_validator("tools")
    @classmethod
    def _known_tools(cls, tools: list[str | WebhookToolSpec]) -> list[str | WebhookToolSpec]:
        names: set[str] = set()
        for i, tool in enumerate(tools):
            name = tool if isinstance(tool, str) else tool.name
            if name in names:
                at: tuple[str | int, ...] = (i,) if isinstance(tool, str) else (i, "name")
                raise _error_at(at, f"tool {name!r} is listed twice")
            names.add(name)
        return tools

    @model_validator(mode="after")
    def _consistent(self) -> AgentSpec:
        if self.brain == "llm" and self.llm is None:
            raise _error_at(("brain",), "the llm brain needs an 'llm' section (base_url, model)")
        tools = set(self.tool_names)
        for i, intent in enumerate(self.flow.intents):
            if intent.tool is not None and intent.tool not in tools:
                raise _error_at(
                    ("flow", "intents", i, "tool"),
                    f"intent {intent.name!r} uses tool {intent.tool!r}, "
                    "which is not in this agent's 'tools'",
                )
            if intent.knowledge and not self.knowledge:
                raise _error_at(
                    ("flow", "intents", i, "knowledge"),
                    f"intent {intent.name!r} answers from knowledge, but none is set",
                )
        return self

    @property
    def tool_names(self) -> list[str]:
        return [t if isinstance(t, str) else t.name for t in self.tools]

    def greeting_for(self, channel: str) -> str | None:
        if self.greeting is None or isinstance(self.greeting, str):
            return self.greeting
        return getattr(self.greeting, "voice" if channel == "voice" else channel, None)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# --- loading with file:line errors -------------------------------------------------------


class _DuplicateKey(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def _line_index(node: yaml.Node, path: tuple[str | int, ...], out: dict[Any, int]) -> None:
    """Record the 1-based line of every part under ``node``: a mapping entry's key line, a
    sequence item's first line (the caller records the document's own line under ``()``)."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            k = key.value if isinstance(key, yaml.ScalarNode) else str(key)
            if (*path, k) in out:
                # YAML would silently keep the last value: a typo or a paste gone wrong.
                where = ".".join(str(p) for p in (*path, k))
                raise _DuplicateKey(key.start_mark.line + 1, f"{where}: key given twice")
            out[(*path, k)] = key.start_mark.line + 1
            _line_index(value, (*path, k), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*path, i)] = item.start_mark.line + 1
            _line_index(item, (*path, i), out)


def _where(loc: tuple[str | int, ...], lines: Mapping[Any, int]) -> int:
    """The line of the deepest part of ``loc`` written in the file. Parts that are not there
    (a missing field, a union tag) are skipped: a missing field points at its mapping."""
    path: tuple[str | int, ...] = ()
    line = lines.get(path, 1)
    for part in loc:
        if (*path, part) in lines:
            path = (*path, part)
            line = lines[path]
    return line


def _yaml_error(path: Path, text: str, exc: yaml.MarkedYAMLError) -> ConfigError:
    """``exc`` as ``file:line``. An unclosed bracket or quote, or a key without its colon, is
    reported where it starts (PyYAML notices it later, often at the end of the file)."""
    last = max(text.count("\n") + (not text.endswith("\n")), 1)

    def line_of(mark: yaml.Mark) -> int:
        return min(mark.line + 1, last)

    problem, mark, context = exc.problem or "", exc.problem_mark, exc.context or ""
    at_end = mark is not None and mark.index >= len(text.rstrip())
    where = "at the end of the file" if at_end or mark is None else f"on line {line_of(mark)}"
    starts = ("flow sequence", "flow mapping", "quoted scalar", "simple key")
    if exc.context_mark is not None and any(s in context for s in starts):
        line = line_of(exc.context_mark)
        what = re.sub(r"^while \w+ an? ", "", context)
        return ConfigError(
            f"{path}:{line}: invalid YAML: in the {what} that starts here: {problem} {where}"
        )
    line = line_of(mark) if mark is not None else 1
    if context and not context.startswith("while "):
        problem = f"{context}, {problem}"  # "expected a single document in the stream, but ..."
    return ConfigError(f"{path}:{line}: invalid YAML: {problem}")


def _loc_text(loc: tuple[str | int, ...]) -> str:
    parts = [f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc if not str(p)[:1].isupper()]
    return "".join(parts).lstrip(".") or "(top level)"


def load_spec(path: Path) -> AgentSpec:
    """Load and validate one agent file; knowledge paths are checked to exist."""
    return _load(path)[0]


def _load(path: Path) -> tuple[AgentSpec, dict[Any, int]]:
    """The agent in ``path`` and the line of every part of it (see :func:`_line_index`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        node = yaml.compose(text)
        doc = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(path, text, exc) from None
    if node is None or not isinstance(doc, dict):
        line = node.start_mark.line + 1 if node is not None else 1
        raise ConfigError(f"{path}:{line}: an agent file must be a YAML mapping")
    lines: dict[Any, int] = {(): node.start_mark.line + 1}
    try:
        _line_index(node, (), lines)
    except _DuplicateKey as exc:
        raise ConfigError(f"{path}:{exc.line}: {exc}") from None
    try:
        spec = AgentSpec.model_validate(doc)
    except ValidationError as exc:
        messages = []
        for err in exc.errors():
            loc = (*err["loc"], *err.get("ctx", {}).get("at", ()))
            msg = re.sub(r"^Value error, ", "", err["msg"])
            messages.append(f"{path}:{_where(loc, lines)}: {_loc_text(loc)}: {msg}")
        raise ConfigError("\n".join(dict.fromkeys(messages))) from None
    missing = [
        f"{path}:{_where(('knowledge', i), lines)}: knowledge[{i}]: {source!r} does not exist"
        for i, source in enumerate(spec.knowledge)
        if not (path.parent / source).exists()
    ]
    if missing:
        raise ConfigError("\n".join(missing))
    return spec, lines


def load_specs(folder: Path) -> dict[str, tuple[AgentSpec, Path]]:
    """Every ``*.yaml``/``*.yml`` in ``folder`` (not recursive), by agent id. All errors of
    all files are reported together."""
    if not folder.is_dir():
        raise ConfigError(f"{folder}: agents folder not found")
    specs: dict[str, tuple[AgentSpec, Path]] = {}
    id_lines: dict[str, int] = {}
    errors: list[str] = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            spec, lines = _load(path)
        except ConfigError as exc:
            errors.append(str(exc))
            continue
        line = _where(("id",), lines)
        if spec.id in specs:
            first = f"{specs[spec.id][1]}:{id_lines[spec.id]}"
            errors.append(f"{path}:{line}: id: duplicate agent id {spec.id!r} (also in {first})")
            continue
        specs[spec.id] = (spec, path)
        id_lines[spec.id] = line
    if errors:
        raise ConfigError("\n".join(errors))
    return specs
