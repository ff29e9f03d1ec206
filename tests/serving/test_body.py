"""The streamed shape check refuses hostile bodies by their tokens, with the reason."""

from __future__ import annotations

import json

import pytest

from serving.body import BodyLimits, check_shape
from serving.errors import ServingError

LIMITS = BodyLimits(max_candidates=3, max_history_posts=4)
POST = {"posted_at": "2025-01-01T00:00:00Z", "followers": 1, "likes": 1, "comments": 0, "shares": 0}


def refusal(body: bytes) -> tuple[int, str]:
    with pytest.raises(ServingError, match=r".") as caught:
        check_shape(body, LIMITS)
    return caught.value.status_code, str(caught.value)


def request(candidates: list[object]) -> bytes:
    return json.dumps({"campaign": {"brand": "b", "topic": "t"}, "candidates": candidates}).encode()


def test_a_request_within_the_limits_passes() -> None:
    body = request([{"account_id": "a", "cost": 1, "history": [POST, POST]}, {"cost": 2}] * 1)
    check_shape(body, LIMITS)  # no refusal
    check_shape(b"5", LIMITS)  # the schema, not the shape check, refuses a bare number


def test_too_many_candidates_are_refused_at_the_first_one_past_the_limit() -> None:
    assert refusal(request([0] * 1_000_000)) == (
        413,
        "The request has more than 3 candidates; at most 3 are accepted. "
        "Split it into several requests.",
    )


def test_history_posts_are_counted_over_all_candidates() -> None:
    check_shape(request([{"history": [POST] * 2}, {"history": [POST] * 2}]), LIMITS)
    assert refusal(request([{"history": [POST] * 3}, {"history": [POST] * 2}])) == (
        413,
        "The request's histories hold more than 4 posts in all; at most 4 are accepted. "
        "Send fewer candidates with history per request, or shorter histories.",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"candidates": [{"cost": NaN}]}', "candidates[0].cost: NaN is not a JSON number"),
        (
            b'{"candidates": [{"cost": 1}, {"cost": -Infinity}]}',
            "candidates[1].cost: -Infinity is not a JSON number",
        ),
        (
            b'{"campaign": {"brand": 1e400}}',
            "campaign.brand: 1e400 is too large for a 64-bit float.",
        ),
        (
            b'{"candidates": [{"history": [{"likes": [1, 2]}]}]}',
            "candidates[0].history[0].likes: a list is not allowed here.",
        ),
        (b'{"budget": {"a": 1}}', "budget: an object is not allowed here."),
        (b"[1, 2]", "body: a list is not allowed here."),
        (
            json.dumps({"campaign": {f"k{i}": 1 for i in range(17)}}).encode(),
            "campaign: an object with more than 16 fields; no object of the request has that many.",
        ),
        (
            b'{"campaign": {"brand": "x"',
            "body: not valid JSON (Expecting ',' delimiter) at character 26",
        ),
        (b"\xef\xbb\xbf{}", "body: not valid JSON (Unexpected UTF-8 BOM (decode using utf-8-sig))"),
    ],
)
def test_bodies_that_are_not_json_or_not_request_shaped_are_422(body: bytes, message: str) -> None:
    status, text = refusal(body)
    assert status == 422
    assert text.startswith(message)


def test_nan_in_a_later_candidate_is_found_before_parsing_the_rest() -> None:
    body = b'{"candidates": [{"cost": NaN}' + b', {"cost": 1}' * 200_000 + b"]}"
    assert refusal(body) == (
        422,
        "candidates[0].cost: NaN is not a JSON number; send a number, or null where allowed.",
    )


def test_a_body_that_is_not_utf8_is_400_naming_the_byte() -> None:
    assert refusal(b'{"campaign": {"brand": "\xff"}}') == (
        400,
        "The body is not UTF-8 text (byte 24 is b'\\xff'); send JSON encoded as UTF-8.",
    )
