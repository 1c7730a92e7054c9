"""The flow brain (the offline default): intents matched by keywords or by meaning, slots
filled across turns, tools, answers from the knowledge base, templated replies.

Deterministic given the same models and inputs. Its memory of a conversation (the intent
whose slots are being collected) lives in ``AgentContext.state``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import numpy as np
import numpy.typing as npt

from voxgate.agents.base import (
    AgentContext,
    Attachment,
    EndCall,
    Handoff,
    ReplyExtras,
    ReplyPart,
    ReplyText,
    ToolStatus,
)
from voxgate.agents.slots import extract, extract_all
from voxgate.agents.spec import AgentSpec, AttachmentSpec, IntentSpec
from voxgate.agents.templating import fill
from voxgate.agents.tools.runner import ToolContext, ToolRunner

_WORDS = re.compile(r"[a-z0-9']+")
_SENTENCES = re.compile(r"(?<=[.!?])\s+")
_STOP = frozenset(
    "a an the is are am be do does did you your we our i me my of to in on at for and or "
    "what when where how can could would will it its this that there any have has with".split()
)
DEFAULT_TOOL_FAILURE = "I'm sorry, I couldn't do that just now."


def words(text: str) -> list[str]:
    return _WORDS.findall(text.lower())


def phrase_in(phrase: str, text_words: list[str]) -> bool:
    """Whole-word, case-insensitive match of ``phrase`` in the words of a text."""
    target = words(phrase)
    n = len(target)
    return n > 0 and any(text_words[i : i + n] == target for i in range(len(text_words) - n + 1))


def best_sentences(passage: str, question: str, n: int = 2) -> str:
    """The ``n`` sentences of ``passage`` sharing most content words with ``question``, in
    their original order (a short spoken answer rather than the whole passage)."""
    sentences = [
        s.strip().lstrip("-*• ").strip()
        for line in passage.strip().splitlines()  # list items are units too
        for s in _SENTENCES.split(line)
        if s.strip() and not s.strip().startswith("#")
    ]
    if len(sentences) <= n:
        return " ".join(sentences)
    asked = {w for w in words(question) if w not in _STOP}
    scored = [(len(asked & set(words(s))), -i) for i, s in enumerate(sentences)]
    keep = sorted(sorted(range(len(sentences)), key=lambda i: scored[i], reverse=True)[:n])
    return " ".join(sentences[i] for i in keep)


def slot_value_for_tool(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return value


def speakable(value: Any) -> Any:
    """Slot values as a person would say them in a reply."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.strftime("%A %d %B").replace(" 0", " ")
    if isinstance(value, time):
        text = value.strftime("%I:%M %p").lstrip("0").replace(":00", "")
        return text.replace("AM", "am").replace("PM", "pm")
    return value


def describe_bookings(result: Mapping[str, Any]) -> str:
    """A spoken summary of a ``list_bookings`` result."""
    bookings = result.get("bookings") or []
    if not bookings:
        return "I couldn't find any booking."
    parts = []
    for b in bookings[:3]:
        when = speakable(date.fromisoformat(b["date"])) if b.get("date") else "?"
        at = speakable(time.fromisoformat(b["time"])) if b.get("time") else ""
        parts.append(
            f"a table for {b.get('party_size')} on {when} at {at}, reference {b.get('reference')}"
        )
    more = f", and {len(bookings) - 3} more" if len(bookings) > 3 else ""
    return "You have " + "; ".join(parts) + more + "."


@dataclass(frozen=True, slots=True)
class _Examples:
    intents: tuple[IntentSpec, ...]
    owner: npt.NDArray[np.int_]  # example row -> intent index
    vectors: npt.NDArray[np.float32]  # normalised rows


class FlowBrain:
    """One per agent; shared by its conversations. Build with :meth:`create`."""

    def __init__(
        self,
        spec: AgentSpec,
        *,
        embedder: Any | None,
        examples: _Examples | None,
        knowledge: Any | None,
        runner: ToolRunner,
        tool_context: Callable[[AgentContext], ToolContext],
    ) -> None:
        self.spec = spec
        self._tool_context = tool_context
        self._embedder = embedder
        self._examples = examples
        self._knowledge = knowledge
        self._runner = runner

    @classmethod
    async def create(
        cls,
        spec: AgentSpec,
        *,
        embedder: Any | None,
        knowledge: Any | None,
        runner: ToolRunner,
        tool_context: Callable[[AgentContext], ToolContext],
    ) -> FlowBrain:
        """Embed the intents' example phrases once (needs ``embedder`` if any exist)."""
        intents = tuple(spec.flow.intents)
        texts = [e for i in intents for e in i.examples]
        examples = None
        if texts:
            if embedder is None:
                raise ValueError(f"agent {spec.id!r}: intent examples need an embedder")
            owner = np.array([n for n, i in enumerate(intents) for _ in i.examples])
            vectors = await embedder.aembed_queries(texts)
            examples = _Examples(intents, owner, np.asarray(vectors, dtype=np.float32))
        return cls(
            spec,
            embedder=embedder,
            examples=examples,
            knowledge=knowledge,
            runner=runner,
            tool_context=tool_context,
        )

    # --- matching ---------------------------------------------------------------------

    def keyword_intent(self, text_words: list[str]) -> IntentSpec | None:
        for intent in self.spec.flow.intents:
            if any(phrase_in(k, text_words) for k in intent.keywords):
                return intent
        return None

    async def embed(self, text: str) -> npt.NDArray[np.float32] | None:
        """The query vector of ``text`` (once per turn), if anything needs it."""
        if self._embedder is None or not words(text):
            return None
        if self._examples is None and self._knowledge is None:
            return None
        return np.asarray((await self._embedder.aembed_queries([text]))[0], dtype=np.float32)

    def semantic_intent(
        self, query: npt.NDArray[np.float32] | None
    ) -> tuple[IntentSpec | None, float]:
        if self._examples is None or query is None:
            return None, 0.0
        scores = self._examples.vectors @ query
        best = int(np.argmax(scores))
        score = float(scores[best])
        if score < self.spec.flow.confidence_floor:
            return None, score
        return self._examples.intents[int(self._examples.owner[best])], score

    async def knowledge_answer(
        self, question: str, query: npt.NDArray[np.float32] | None, *, floor: float | None
    ) -> str | None:
        if self._knowledge is None:
            return None
        if query is None:
            query = await self.embed(question)
        hits = self._knowledge.search_vector(query, 1) if query is not None else []
        if not hits or (floor is not None and hits[0].score < floor):
            return None
        return best_sentences(hits[0].passage.text, question)

    # --- a turn -----------------------------------------------------------------------

    async def respond(
        self, context: AgentContext, user_text: str, values: Mapping[str, Any]
    ) -> AsyncIterator[ReplyPart]:
        """Answer one user turn. ``values`` are the template variables of this turn."""
        state: dict[str, Any] = context.state.setdefault("flow", {})
        pending = state.get("pending")
        text_words = words(user_text)
        intent = self.keyword_intent(text_words)
        slots: dict[str, Any] = {}
        if pending is not None and (intent is None or intent.name == pending["intent"]):
            current = next(i for i in self.spec.flow.intents if i.name == pending["intent"])
            slots = dict(pending["slots"])
            found = self._extract(current, user_text, context, expecting=pending.get("asked"))
            if found or intent is not None:
                intent = current
                slots.update(found)
        query = None
        if intent is None:
            query = await self.embed(user_text)
            intent, _score = self.semantic_intent(query)
            if pending is not None and intent is not None and intent.name == pending["intent"]:
                slots = dict(pending["slots"])
        if intent is None:
            floor = self.spec.flow.knowledge_floor
            answer = await self.knowledge_answer(user_text, query, floor=floor)
            if answer is not None:
                yield ReplyText(text=answer)
                return
            reply = self.spec.flow.fallback
            if pending is not None:
                asked = self._slot(pending["intent"], pending.get("asked"))
                if asked is not None:
                    reply = f"{reply} {fill(asked.prompt, values)}"
            yield ReplyText(text=fill(reply, values))
            return
        async for part in self._run_intent(intent, slots, user_text, context, values, state):
            yield part

    def _slot(self, intent_name: str, slot_name: str | None) -> Any:
        intent = next((i for i in self.spec.flow.intents if i.name == intent_name), None)
        if intent is None or slot_name is None:
            return None
        return next((s for s in intent.slots if s.name == slot_name), None)

    def _extract(
        self, intent: IntentSpec, text: str, context: AgentContext, *, expecting: str | None
    ) -> dict[str, Any]:
        if not intent.slots:
            return {}
        kinds = {s.name: s.type for s in intent.slots}
        now = context.now.astimezone(self.spec.tz)
        return dict(extract_all(kinds, text, now, expecting=expecting))

    async def _run_intent(
        self,
        intent: IntentSpec,
        slots: dict[str, Any],
        user_text: str,
        context: AgentContext,
        values: Mapping[str, Any],
        state: dict[str, Any],
    ) -> AsyncIterator[ReplyPart]:
        slots.update(
            {k: v for k, v in self._extract(intent, user_text, context, expecting=None).items()}
        )
        for slot in intent.slots:
            if slot.name not in slots and slot.type in RECALLED_TYPES:
                recalled = _recall(slot.type, context)
                if recalled is not None:
                    slots[slot.name] = recalled
        missing = next((s for s in intent.slots if s.required and s.name not in slots), None)
        if missing is not None:
            state["pending"] = {"intent": intent.name, "slots": slots, "asked": missing.name}
            yield ReplyText(text=fill(missing.prompt, {**values, **_spoken(slots)}))
            return
        state.pop("pending", None)
        scope: dict[str, Any] = {**values, **_spoken(slots)}
        tool_attachments: tuple[Attachment, ...] = ()
        if intent.tool is not None:
            arguments = {
                name: _argument(template, slots, scope)
                for name, template in intent.arguments.items()
            }
            yield ToolStatus(tool_name=intent.tool, status="started")
            outcome = await self._runner.call(self._tool_context(context), intent.tool, arguments)
            yield ToolStatus(tool_name=intent.tool, status="completed" if outcome.ok else "failed")
            if not outcome.ok:
                failure = intent.failure_response or DEFAULT_TOOL_FAILURE
                yield ReplyText(text=fill(failure, {**scope, "error": outcome.error}))
                return
            result = dict(outcome.result)
            tool_attachments = _attachments(result.pop("attachments", None))
            if "bookings" in result and "summary" not in result:
                result["summary"] = describe_bookings(result)
            scope["result"] = {k: speakable(_parse_scalar(v)) for k, v in result.items()}
        if intent.handoff:
            async for part in self.handoff(context, user_text, values):
                yield part
            return
        if intent.response is not None:
            yield ReplyText(text=fill(intent.response, scope))
        elif intent.knowledge:
            answer = await self.knowledge_answer(user_text, None, floor=None)
            yield ReplyText(text=answer or fill(self.spec.flow.fallback, values))
        attachments = tuple(Attachment(**a.model_dump()) for a in intent.attachments) + (
            tool_attachments if intent.tool is not None else ()
        )
        if intent.suggestions or attachments:
            suggestions = tuple(fill(s, scope) for s in intent.suggestions)
            yield ReplyExtras(suggestions=suggestions, attachments=attachments)
        if intent.end_call:
            yield EndCall()

    async def handoff(
        self, context: AgentContext, reason: str, values: Mapping[str, Any]
    ) -> AsyncIterator[ReplyPart]:
        async for part in handoff_parts(
            self.spec, self._runner, self._tool_context(context), reason, values
        ):
            yield part


async def handoff_parts(
    spec: AgentSpec,
    runner: ToolRunner,
    tool_ctx: ToolContext,
    reason: str,
    values: Mapping[str, Any],
) -> AsyncIterator[ReplyPart]:
    """Say the handoff message, record the transfer as a tool call, and hand over."""
    queue = spec.handoff.queue
    yield ReplyText(text=fill(spec.handoff.message, values))
    yield ToolStatus(tool_name="transfer_to_human", status="started")
    outcome = await runner.call(
        tool_ctx, "transfer_to_human", {"queue": queue, "reason": reason[:200]}
    )
    yield ToolStatus(tool_name="transfer_to_human", status="completed" if outcome.ok else "failed")
    yield Handoff(queue=queue, reason=reason)


def _attachments(value: object) -> tuple[Attachment, ...]:
    """Attachments a tool returned (``{"attachments": [{title, content_url, …}]}``);
    malformed entries are skipped."""
    if not isinstance(value, list):
        return ()
    out = []
    for item in value:
        if not isinstance(item, dict):
            continue
        try:
            out.append(Attachment(**AttachmentSpec.model_validate(item).model_dump()))
        except ValueError:
            continue
    return tuple(out)


RECALLED_TYPES = frozenset({"reference", "email", "phone"})
"""Slot types filled from earlier in the conversation when the user does not repeat them
(unambiguous patterns only: "cancel my booking" finds the reference the agent gave)."""


def _recall(slot_type: Any, context: AgentContext) -> Any:
    now = context.now
    for item in reversed(context.history):
        value = extract(slot_type, item.text, now)
        if value is not None:
            return value
    return None


def _spoken(slots: Mapping[str, Any]) -> dict[str, Any]:
    return {k: speakable(v) for k, v in slots.items()}


def _parse_scalar(value: Any) -> Any:
    """ISO dates and times in tool results become date/time objects (to speak them)."""
    if isinstance(value, str):
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                return date.fromisoformat(value)
            if re.fullmatch(r"\d{2}:\d{2}(:\d{2})?", value):
                return time.fromisoformat(value)
        except ValueError:
            return value
    return value


def _argument(template: str, slots: Mapping[str, Any], scope: Mapping[str, Any]) -> Any:
    """A tool argument: a lone ``{{slot}}`` keeps the slot's type; else templated text."""
    m = re.fullmatch(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", template.strip())
    if m and m.group(1) in slots:
        return slot_value_for_tool(slots[m.group(1)])
    return fill(template, scope)
