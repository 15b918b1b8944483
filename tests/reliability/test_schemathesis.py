"""Schemathesis against the gateway's OpenAPI document: valid and invalid requests generated from the
schema, and every answer checked: no 5xx, status codes and bodies as documented, the declared content type.

The schema is rendered by ``create_app`` in a child Python at collection time (the same FastAPI app the
gateway serves, so the same document: ``test_the_fuzzed_schema_is_the_served_one`` checks it) and the
requests go to a real gateway. ``schemathesis.pytest.from_fixture`` would load it from the running
gateway instead, but schemathesis 4.32's lazy loader sets ``Function._nodeid``, which pytest 9 no longer
has. A child process, because under pytest ``import gateway`` finds the tests/gateway folder first.
"""

import json
import subprocess
import sys

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support import REPO_ROOT, GatewayProcess

pytestmark = pytest.mark.slow

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

RENDER_SCHEMA = (
    "import json; from gateway.api.app import create_app; from gateway.settings import Settings; "
    "print(json.dumps(create_app(Settings(api_key_hashes='', rate_limit='')).openapi()))"
)
OPENAPI = json.loads(
    subprocess.run(
        [sys.executable, "-c", RENDER_SCHEMA], cwd=REPO_ROOT, check=True, capture_output=True, text=True, timeout=60
    ).stdout
)
schema = schemathesis.openapi.from_dict(OPENAPI)


def test_the_fuzzed_schema_is_the_served_one(open_gateway: GatewayProcess) -> None:
    assert httpx.get(f"{open_gateway.url}/openapi.json", timeout=10).json() == OPENAPI


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_every_operation_answers_as_documented(case: schemathesis.Case, open_gateway: GatewayProcess) -> None:
    case.call_and_validate(base_url=open_gateway.url, checks=CHECKS, timeout=30)
