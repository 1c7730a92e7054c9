"""Prometheus metrics: per-turn latency histograms, sessions, barge-ins, tool calls.

Each server has its own registry (several servers may share a process in tests).
``GET /metrics`` serves it: to loopback clients only, unless ``VOXGATE_METRICS_TOKEN`` is
set, in which case any client presenting it as a Bearer token.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, HTTPException, Request, Response, Security
from fastapi.security import HTTPBearer
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from voxgate.conversation.engine import TurnTiming
from voxgate.server.openapi import error_responses

# Seconds; dense where voice turns live (0.1-2 s).
BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 2, 3, 5)
STAGES = {
    "endpointing_ms": "endpointing",
    "stt_ms": "stt",
    "agent_first_text_ms": "agent_first_text",
    "tts_first_audio_ms": "tts_first_audio",
    "first_byte_ms": "first_byte",
    "voice_to_voice_ms": "voice_to_voice",
}


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

    def observe_turn(self, agent: str, timing: TurnTiming) -> None:
        for field, value in timing.as_ms().items():
            if value is not None and field in STAGES:
                self.turn_stage.labels(agent, STAGES[field]).observe(value / 1000)


router = APIRouter()


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


metrics_scheme = HTTPBearer(
    scheme_name="MetricsToken",
    description="`VOXGATE_METRICS_TOKEN`; without it configured, loopback clients only.",
    auto_error=False,
)
"""Only describes the scheme in OpenAPI: the route checks the token itself."""


@router.get(
    "/metrics",
    include_in_schema=True,
    tags=["health"],
    response_class=Response,
    dependencies=[Security(metrics_scheme)],
    # The token is optional (not needed from loopback while none is configured).
    openapi_extra={"security": [{}]},
    responses={
        200: {
            "description": "Prometheus text exposition format.",
            "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
        },
        **error_responses(
            401, 403, e401="Wrong or missing metrics token.", e403="Not a loopback client."
        ),
    },
)
async def metrics(request: Request) -> Response:
    """Prometheus text format. Loopback only, or with ``Authorization: Bearer`` the
    configured ``VOXGATE_METRICS_TOKEN``."""
    state = request.app.state.voxgate
    token = state.settings.metrics_token
    if token is None:
        if not _loopback(request):
            raise HTTPException(403, "metrics are served to loopback clients only")
    else:
        sent = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            raise HTTPException(401, "a valid metrics token is required")
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
