"""``GET /metrics``: the server's Prometheus registry, to loopback clients only unless
``VOXGATE_METRICS_TOKEN`` is set, in which case to any client presenting it as a Bearer
token."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, HTTPException, Request, Response, Security
from fastapi.security import HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from voxgate.server.openapi import error_responses
from voxgate.server.state import state_of

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
    state = state_of(request)
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
