"""Refused requests: validation answers stay short and encodable, whatever the request
held; through the API (the session's `api_client`), bad input is a 4xx that says what
and where, in one sentence, as the schema documents it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.invalid import describe

CAMPAIGN = {"brand": "northpeak", "topic": "running shoes marathon"}


def test_errors_are_capped_at_twenty_then_counted() -> None:
    errors = [
        {"type": "int_type", "loc": ("body", "candidates", i, "cost"), "msg": "bad", "input": "x"}
        for i in range(1000)
    ]
    out = describe(errors)
    assert len(out["errors"]) == 20
    assert out["detail"].startswith("candidates[0].cost: bad; candidates[1].cost: bad;")
    assert out["detail"].endswith("candidates[19].cost: bad; and 980 more")


def test_inputs_are_echoed_short_and_json_safe() -> None:
    errors = [
        {"type": "string_too_long", "loc": ("body", "x" * 500), "msg": "m", "input": "y" * 10_000},
        {"type": "t", "loc": ("body", "a"), "msg": "m", "input": [0] * 100_000},
        {"type": "t", "loc": ("body", "b"), "msg": "m", "input": {"k": 1}},
        {
            "type": "t",
            "loc": ("body", "c"),
            "msg": "m",
            "input": float("nan"),
            "ctx": {"le": 1e400},
        },
        {"type": "t", "loc": ("body", "\ud800"), "msg": "m\udfff", "input": "\ud800"},
    ]
    out = describe(errors)
    text = json.dumps(out, allow_nan=False).encode("utf-8")  # raises if anything is not JSON
    assert len(text) < 2000
    first, as_list, as_object, nan, surrogate = out["errors"]
    assert first["input"] == "y" * 80 + "..."
    assert first["loc"] == ["body", "x" * 80 + "..."]
    assert as_list["input"] == "a list of 100000 items"
    assert as_object["input"] == "an object with 1 fields"
    assert nan["input"] == "nan"
    assert nan["ctx"] == {"le": "inf"}
    assert surrogate["input"] == "\\ud800"
    assert surrogate["msg"] == "m\\udfff"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"campaign": {"topic": "x"}, "candidates": [{"account_id": "a", "cost": 1}]},
            "campaign.brand: Field required",
        ),
        (
            {"campaign": CAMPAIGN, "candidates": [{"account_id": "a", "cost": "abc"}]},
            "candidates[0].cost: Value error, expected a JSON number, not text",
        ),
        (
            {"campaign": CAMPAIGN, "candidates": [{"account_id": "a", "cost": -5}]},
            "candidates[0].cost: Input should be greater than or equal to 0.01",
        ),
        (
            {
                "campaign": CAMPAIGN,
                "candidates": [{"account_id": "a", "cost": 5, "posted_at": "next tuesday"}],
            },
            "candidates[0].posted_at: Value error, expected an ISO-8601 timestamp such as "
            "2025-03-01T12:00:00Z",
        ),
        (
            {"campaign": CAMPAIGN, "candidates": []},
            "candidates: List should have at least 1 item after validation, not 0",
        ),
        (
            {"campaign": CAMPAIGN, "candidates": [{"account_id": "a", "cost": 5, "followers": 9}]},
            "candidates[0].followers: Extra inputs are not permitted",
        ),
        (
            {"campaign": CAMPAIGN, "candidates": [{"account_id": "a", "cost": 5}], "budget": 0},
            "budget: Input should be greater than or equal to 0.01",
        ),
    ],
)
def test_bad_input_is_a_4xx_that_says_what_and_where(
    api_client: TestClient, body: dict[str, Any], message: str
) -> None:
    path = "/rank" if "budget" in body else "/predict"
    r = api_client.post(path, json=body)
    assert r.status_code == 422
    assert r.json()["detail"] == message


RANK_BODY = '{"campaign": {"brand": "b", "topic": "t"}, "budget": BUDGET, "explain": EXPLAIN, '
RANK_BODY += '"candidates": [{"account_id": ACCOUNT, "cost": COST}]}'


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"COST": "NaN"}, "candidates[0].cost: NaN is not a JSON number"),
        ({"BUDGET": "Infinity"}, "budget: Infinity is not a JSON number"),
        ({"COST": "1e400"}, "candidates[0].cost: 1e400 is too large for a 64-bit float."),
        ({"ACCOUNT": '"\\ud800"'}, "candidates[0].account_id: Value error, holds a lone surrogate"),
        ({"EXPLAIN": '"3"'}, "explain: Value error, expected a JSON number, not text"),
        ({"EXPLAIN": "3.5"}, "explain: Input should be a valid integer, got a number with a"),
        ({"BUDGET": '"100"'}, "budget: Value error, expected a JSON number, not text"),
        ({"EXPLAIN": "true"}, "explain: Value error, expected a number, not true or false"),
    ],
)
def test_values_json_cannot_carry_or_of_the_wrong_kind_are_422_naming_the_field(
    api_client: TestClient, values: dict[str, str], message: str
) -> None:
    body = RANK_BODY
    for name, default in {"BUDGET": "500", "EXPLAIN": "3", "ACCOUNT": '"a"', "COST": "5"}.items():
        body = body.replace(name, values.get(name, default))
    r = api_client.post(
        "/rank", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(message)
    assert r.json()["errors"] is not None


@pytest.mark.parametrize(
    ("path", "extra", "cost", "message"),
    [
        # Found by schema fuzzing: each was a 500 (a float overflow in ROI, cost per
        # action or the knapsack's weights).
        (
            "/predict",
            {},
            1e308,
            "candidates[0].cost: Input should be less than or equal to 1000000000000",
        ),
        (
            "/predict",
            {},
            5e-324,
            "candidates[0].cost: Input should be greater than or equal to 0.01",
        ),
        (
            "/rank",
            {"budget": 5e-324},
            100.0,
            "budget: Input should be greater than or equal to 0.01",
        ),
    ],
)
def test_absurd_money_is_422_not_500(
    api_client: TestClient,
    known_accounts: list[str],
    path: str,
    extra: dict[str, Any],
    cost: float,
    message: str,
) -> None:
    candidates = [{"account_id": known_accounts[0], "cost": cost}]
    r = api_client.post(path, json={"campaign": CAMPAIGN, "candidates": candidates, **extra})
    assert r.status_code == 422
    assert r.json()["detail"] == message


def test_true_false_and_epoch_numbers_are_refused(api_client: TestClient) -> None:
    # Found by schema fuzzing: pydantic's lax mode read JSON true as a cost or count of 1,
    # and a number as a Unix time, where the schema documents numbers and ISO-8601 text.
    history = [{"posted_at": 1748736000, "followers": True, "likes": 1, "comments": 1, "shares": 1}]
    r = api_client.post(
        "/predict",
        json={
            "campaign": CAMPAIGN,
            "candidates": [{"account_id": "x", "cost": True, "history": history}],
        },
    )
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "candidates[0].cost: Value error, expected a number, not true or false; "
        "candidates[0].history[0].posted_at: Value error, expected an ISO-8601 timestamp such as "
        "2025-03-01T12:00:00Z; "
        "candidates[0].history[0].followers: Value error, expected a number, not true or false"
    )


@pytest.mark.parametrize("posted_at", ["0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-01:00"])
def test_timestamps_outside_the_calendar_in_utc_are_422(
    api_client: TestClient, known_accounts: list[str], posted_at: str
) -> None:
    # Found by schema fuzzing: converting these to UTC overflowed into a 500, then a 422 for
    # requests the schema called valid; now the schema and the service both stop at years 2
    # to 9998.
    candidates = [{"account_id": known_accounts[0], "cost": 10.0, "posted_at": posted_at}]
    r = api_client.post(
        "/rank", json={"campaign": CAMPAIGN, "candidates": candidates, "budget": 50}
    )
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "candidates[0].posted_at: Value error, expected a timestamp from year 0002 to 9998, "
        "such as 2025-03-01T12:00:00Z"
    )


def test_error_answers_are_documented_as_sent(api_client: TestClient) -> None:
    # Found by schema fuzzing: the schema promised FastAPI's default 422 body (a list
    # in `detail`) and no 400, 401, 413 or 503, while the app sends a sentence.
    spec = api_client.get("/openapi.json").json()
    predict = spec["paths"]["/predict"]["post"]["responses"]
    assert set(predict) == {"200", "400", "401", "403", "408", "413", "422", "503"}
    schema = predict["422"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/InvalidRequest"}
    r = api_client.post(
        "/predict", content=b'{"a": "\xff"}', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json() == {
        "detail": "The body is not UTF-8 text (byte 7 is b'\\xff'); send JSON encoded as UTF-8."
    }


def test_malformed_json_is_422(api_client: TestClient) -> None:
    r = api_client.post(
        "/predict", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert (
        r.json()["detail"]
        == "body: not valid JSON (Expecting property name enclosed in double quotes) at character 1"
    )
