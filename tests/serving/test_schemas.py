"""The request models (serving/schemas.py) on their own: what they refuse, in what words."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from serving.schemas import RankRequest


@pytest.mark.parametrize(
    "posted_at", ["0", "1748736000", "1748736000.5", " 2025-03-01", "next tuesday"]
)
def test_a_timestamp_is_text_that_starts_with_its_year(posted_at: str) -> None:
    # Found by schema fuzzing: lax pydantic read the text "0" as the Unix epoch, which the
    # schema's pattern (a year first) refuses, and the service answered 200 about 1970.
    body = {
        "campaign": {"brand": "b", "topic": "t"},
        "candidates": [{"account_id": "a", "posted_at": posted_at}],
        "budget": 10,
    }
    with pytest.raises(ValidationError, match="expected an ISO-8601 timestamp") as refused:
        RankRequest.model_validate(body)
    [error] = refused.value.errors()
    assert error["loc"] == ("candidates", 0, "posted_at")
    assert error["msg"] == (
        "Value error, expected an ISO-8601 timestamp such as 2025-03-01T12:00:00Z"
    )


def test_iso_text_and_datetimes_still_pass() -> None:
    body = {
        "campaign": {"brand": "b", "topic": "t"},
        "candidates": [
            {"account_id": "a", "posted_at": "2025-03-01T12:00:00+01:00"},
            {"account_id": "b", "posted_at": "2025-03-01"},
        ],
        "budget": 10,
    }
    request = RankRequest.model_validate(body)
    assert [c.posted_at.isoformat() for c in request.candidates if c.posted_at] == [
        "2025-03-01T11:00:00+00:00",
        "2025-03-01T00:00:00+00:00",
    ]
