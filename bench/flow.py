"""Flow brain latency per turn: the demo agent over scripted dialogues, in process.

Run: ``.venv/bin/python bench/flow.py [--rounds 20]``. Prints a table of per-turn latency
(p50/p95/max) by kind of turn. Uses the real embedder, knowledge base and a SQLite store.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from voxgate import __version__
from voxgate.agents.base import AgentContext, HistoryItem, ReplyText
from voxgate.agents.embeddings import Embedder
from voxgate.agents.runtime import AgentResources, build_agents
from voxgate.agents.spec import load_specs
from voxgate.store import NewConversation, Store

ROOT = Path(__file__).resolve().parents[1]
DIALOGUES: dict[str, list[str]] = {
    "knowledge": [
        "When are you open on Sunday?",
        "Do you have vegan dishes?",
        "Can I bring my dog?",
    ],
    "booking (4 turns)": ["I'd like to book a table", "for four", "Friday at 7pm", "Jane Smith"],
    "booking (1 turn)": ["A table for two on Saturday at 8pm under the name Ada Lovelace"],
    "fallback": ["The child almost hurt the small dog."],
    "keyword": ["Thanks a lot", "What are your opening hours?"],
}


async def run(rounds: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {kind: [] for kind in DIALOGUES}
    with tempfile.TemporaryDirectory() as tmp, Embedder() as embedder:
        store = await Store.open(f"sqlite+aiosqlite:///{tmp}/bench.db")
        tenant = await store.ensure_tenant("default")
        async with httpx.AsyncClient() as http:
            resources = AgentResources(
                store=store, http=http, embedder=embedder, cache_dir=Path(tmp) / "cache"
            )
            demo = (await build_agents(load_specs(ROOT / "agents"), resources))["demo"]
            now = datetime.now(UTC) - timedelta(days=1)
            for _ in range(rounds):
                for kind, lines in DIALOGUES.items():
                    call_id = "call_" + secrets.token_hex(6)
                    await store.create_conversation(
                        NewConversation(
                            id=call_id,
                            tenant_id=tenant,
                            agent_id="demo",
                            channel="chat",
                            dialect="bench",
                            mode="chat",
                            sample_rate=None,
                            variables={},
                            started_at=now,
                        )
                    )
                    state: dict[str, object] = {}
                    history: list[HistoryItem] = []
                    for line in lines:
                        context = AgentContext(
                            call_id=call_id,
                            channel="chat",
                            variables={},
                            history=tuple(history),
                            tenant_id=tenant,
                            state=state,
                        )
                        t0 = time.perf_counter()
                        parts = [p async for p in demo.respond(context, line)]
                        timings[kind].append((time.perf_counter() - t0) * 1000)
                        text = "".join(p.text for p in parts if isinstance(p, ReplyText))
                        history += [
                            HistoryItem(role="user", text=line),
                            HistoryItem(role="assistant", text=text),
                        ]
        await store.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    timings = asyncio.run(run(args.rounds))
    console = Console()
    console.print(
        f"voxgate {__version__} — {datetime.now(UTC):%Y-%m-%d} — {platform.machine()}, "
        f"{platform.processor() or 'cpu'} — flow brain, demo agent, per turn"
    )
    table = Table("dialogue", "turns", "p50 ms", "p95 ms", "max ms")
    every: list[float] = []
    for kind, values in timings.items():
        every += values
        q = statistics.quantiles(values, n=20)
        table.add_row(kind, str(len(values)), f"{q[9]:.1f}", f"{q[18]:.1f}", f"{max(values):.1f}")
    q = statistics.quantiles(every, n=20)
    table.add_row("all", str(len(every)), f"{q[9]:.1f}", f"{q[18]:.1f}", f"{max(every):.1f}")
    console.print(table)


if __name__ == "__main__":
    main()
