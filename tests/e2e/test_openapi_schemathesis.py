"""Property tests of every REST operation against the server's own ``/openapi.json``
(schemathesis, stateless): no 5xx, status codes and bodies as the schema declares; on a
server over SQLite (the session's) and one over PostgreSQL.

WebSocket routes are not in the OpenAPI document, so they are not exercised here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.engine import URL

from voxgate.agents.embeddings import Embedder
from voxgate.speech.services import SpeechServices

from .conftest import RunningServer, make_settings, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.models]

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def api_server(
    request: pytest.FixtureRequest,
    speech_services: SpeechServices,
    embedder: Embedder,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningServer]:
    if request.param == "sqlite":
        yield request.getfixturevalue("server")
        return
    database: URL | str = request.getfixturevalue("postgres_database")
    if isinstance(database, str):
        if os.environ.get("CI") == "true":
            pytest.fail(database, pytrace=False)
        pytest.skip(database)
    data_dir: Path = tmp_path_factory.mktemp("openapi-postgres")
    url = database.render_as_string(hide_password=False)
    running = start_server(
        make_settings(data_dir, database_url=url), speech_services, embedder=embedder
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api_schema(api_server: RunningServer) -> BaseSchema:
    loaded = httpx.get(f"{api_server.http_url}/openapi.json").raise_for_status().json()
    schema = schemathesis.openapi.from_dict(loaded)
    schema.config.update(base_url=api_server.http_url)
    return schema


lazy_schema = schemathesis.pytest.from_fixture("api_schema")


@lazy_schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_rest_api_matches_its_schema(case: Case, api_server: RunningServer) -> None:
    auth = {"Authorization": f"Bearer {api_server.dev_key}"}
    case.call_and_validate(headers=auth, checks=CHECKS, timeout=10)
