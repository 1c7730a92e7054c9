"""Prometheus metrics: per-turn latency histograms, sessions, barge-ins, tool calls.

Each server has its own registry (several servers may share a process in tests);
:mod:`voxgate.server.metrics_endpoint` serves it.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from voxgate.conversation.latency import STAGES, TurnLatency

# Seconds; dense where voice turns live (0.1-2 s).
BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 2, 3, 5)
_METRIC_OF = {stage.field: stage.metric for stage in STAGES}


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.turn_stage = Histogram(
            "voxgate_turn_stage_seconds",
            "Latency of each stage of a voice turn (end of user speech to first byte sent).",
            ["agent", "stage"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.sessions = Counter(
            "voxgate_sessions_total",
            "Sessions opened.",
            ["dialect", "mode"],
            registry=self.registry,
        )
        self.live = Gauge("voxgate_live_sessions", "Sessions open now.", registry=self.registry)
        self.barge_ins = Counter(
            "voxgate_barge_ins_total", "Agent replies interrupted by the user.", ["agent"],
            registry=self.registry,
        )  # fmt: skip

    def observe_turn(self, agent: str, latency: TurnLatency) -> None:
        for field, value in latency.items():
            if value is not None:
                self.turn_stage.labels(agent, _METRIC_OF[field]).observe(value / 1000)
