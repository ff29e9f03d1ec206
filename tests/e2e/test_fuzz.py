"""Schema fuzzing: schemathesis generates requests from the service's own `/openapi.json`.

Every endpoint gets valid and invalid requests (positive and negative generation);
no answer may be a 5xx and every answer must match what the schema documents (status,
content type, body). Over 1,000 requests in all, against the app with a real model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.generation.case import Case

from serving.app import create_app
from serving.settings import ServingSettings

ServingTrained = Callable[..., ServingSettings]  # the `serving_trained` fixture

# (method, path, max examples): /predict and /rank cost a model call each, /discover one
# over every known account, /admin/reload a reload of the data (about a second), the rest
# next to nothing, so the cheap ones carry more of the 1,000.
BUDGET = [
    ("GET", "/health", 5),
    ("GET", "/model", 200),
    ("GET", "/metrics", 200),
    ("GET", "/accounts/{account_id}", 100),
    ("POST", "/predict", 200),
    ("POST", "/rank", 200),
    ("POST", "/discover", 100),
    ("POST", "/admin/reload", 5),
]


@pytest.fixture(scope="module")
def client(
    serving_trained: ServingTrained, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    settings_ = serving_trained(tmp_path_factory.mktemp("fuzz"))
    # A server exception must come back as the 500 a client would get, so that the
    # check below reports the request that caused it.
    with TestClient(create_app(settings_), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def schema(client: TestClient) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", client.app)


def test_budget_covers_every_documented_operation(schema: schemathesis.BaseSchema) -> None:
    documented = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    assert documented == {(method, path) for method, path, _ in BUDGET}
    assert sum(n for _, _, n in BUDGET) >= 1000


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path", "examples"), BUDGET)
def test_generated_requests_never_5xx_and_match_the_schema(
    client: TestClient, schema: schemathesis.BaseSchema, method: str, path: str, examples: int
) -> None:
    operation = schema[path][method]
    modes = [operation.as_strategy(GenerationMode.POSITIVE)]
    if method == "POST" and path != "/admin/reload":
        modes.append(operation.as_strategy(GenerationMode.NEGATIVE))
    statuses: list[int] = []

    @given(case=st.one_of(modes))
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def check(case: Case) -> None:
        kwargs = case.as_transport_kwargs()
        kwargs.pop("app", None)
        response = client.request(**kwargs)
        statuses.append(response.status_code)
        assert response.status_code < 500, response.text
        case.validate_response(response)

    check()
    # Only /health (no inputs at all) may run out of distinct requests early.
    assert len(statuses) >= (1 if path == "/health" else examples * 0.9), statuses
