"""Scoring candidates the service does not know, from the histories sent with them.

Each refused history gets the error text it got when histories were checked one by
one (captured from that code); the cost of a request grows with its posts, not by a
pandas pass per candidate; and scoring many accounts at once gives exactly what
scoring each in its own request gives.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from serving.scoring import CandidateIn, score
from serving.settings import ServingSettings
from serving.state import ServiceState, load_state

CAMPAIGN = {"brand": "northpeak", "topic": "running shoes marathon"}
MAX_POSTS = 5000


@pytest.fixture(scope="module")
def state(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> ServiceState:
    tmp = tmp_path_factory.mktemp("scoring")
    return load_state(
        ServingSettings(
            data_dir=trained / "world",
            model_uri=str(trained / "models" / "champion.json"),
            decision_log=str(tmp / "decisions.db"),
        )
    )


def post(day: int, **changes: Any) -> dict[str, Any]:
    """A plain post on June `day`, 2025; a change to `...` leaves the field out."""
    p = {
        "posted_at": f"2025-06-{day:02d}T12:00:00Z",
        "followers": 5000 + day,
        "likes": 300,
        "comments": 20,
        "shares": 9,
        "text": "marathon training running shoes",
        **changes,
    }
    return {k: v for k, v in p.items() if v is not ...}


def test_each_refused_history_keeps_its_own_error(state: ServiceState) -> None:
    known = sorted(state.online.row_of)[0]
    many = [post(d, posted_at=f"June {d}") for d in range(1, 9)]
    several = [
        post(1, likes=1.5, shares=-1),
        post(1, likes=1.5, shares=-1),
        post(2, comments="many", sponsored="perhaps"),
    ]
    candidates = [
        CandidateIn(known, 10.0),
        CandidateIn("fresh", 120.0, None, [post(1), post(2)]),
        CandidateIn("late", 80.0, None, [post(1), post(2, posted_at="not a date"), post(3)]),
        CandidateIn("negative", 60.0, None, [post(1), post(2, likes=-3)]),
        CandidateIn("missing", 50.0, None, [post(1, followers=...), post(2, followers=...)]),
        CandidateIn("late", 81.0, None, [post(4), post(5)]),  # the account's first valid one
        CandidateIn("gap", 40.0, None, [post(1), post(2, followers=...), post(3, followers=None)]),
        CandidateIn("dups", 40.0, None, [post(1, post_id="a"), post(2, post_id="a"), post(3)]),
        CandidateIn("long", 40.0, None, [post(d) for d in range(1, 12)]),
        CandidateIn("nobody", 40.0),
        CandidateIn("several", 40.0, None, several),
        CandidateIn("many", 40.0, None, many),
        CandidateIn("boolish", 40.0, None, [post(1, followers=True), post(2, followers=False)]),
        CandidateIn("missing", 55.0, None, [post(6)]),
        CandidateIn("fresh", 70.0, None, [post(9, likes=-1)]),  # described by candidate 1's
        CandidateIn("fresh", 71.0),
        CandidateIn("blankid", 40.0, None, [post(1, post_id=" "), post(2, account_id="other")]),
    ]
    scored = score(state, CAMPAIGN, candidates, 10)
    assert scored.index.tolist() == [0, 1, 5, 13, 14]
    no_history = "and no history given; send its recent posts in `history` to score it"
    timestamps = "values that are not an ISO-8601 timestamp such as 2025-03-01T12:00:00Z"
    assert [(e.index, e.account_id, e.error) for e in scored.errors] == [
        (2, "late", f"candidates[2].history, column 'posted_at': {timestamps} in 1 row: "
         "'not a date' on row 2"),
        (3, "negative", "candidates[3].history, column 'likes': negative values "
         "(expected >= 0) in 1 row: '-3' on row 2"),
        (4, "missing", "candidates[4].history, column 'followers': missing; the contract "
         "requires it"),
        (6, "gap", "candidates[6].history, column 'followers': empty cells in 2 rows (rows 2, 3)"),
        (7, "dups", "candidates[7].history, column 'post_id': ids already used on an earlier "
         "row in 1 row (row 2)"),
        (8, "long", "history has 11 posts; at most 10 are accepted"),
        (9, "nobody", f"unknown account_id 'nobody' {no_history}"),
        (10, "several", "candidates[10].history, column 'likes': values that are not whole "
         "numbers in 2 rows: '1.5' on row 1, '1.5' on row 2; candidates[10].history, column "
         "'comments': values that are not a whole number >= 0 in 1 row: 'many' on row 3; "
         "candidates[10].history, column 'shares': negative values (expected >= 0) in 2 rows: "
         "'-1' on row 1, '-1' on row 2; candidates[10].history, column 'sponsored': values "
         "that are not true or false in 1 row: 'perhaps' on row 3"),
        (11, "many", f"candidates[11].history, column 'posted_at': {timestamps} in 8 rows: "
         "'June 1' on row 1, 'June 2' on row 2, 'June 3' on row 3, and 5 more (rows 4, 5, ...)"),
        (12, "boolish", "candidates[12].history, column 'followers': values that are not a "
         "whole number >= 0 in 2 rows: 'True' on row 1, 'False' on row 2"),
        (15, "fresh", f"unknown account_id 'fresh' {no_history}"),
        (16, "blankid", "candidates[16].history, column 'post_id': empty cells in 1 row (row 1)"),
    ]  # fmt: skip


def _newcomers(n: int, posts: int) -> list[CandidateIn]:
    start = pd.Timestamp("2025-06-01T12:00:00Z")
    history = [
        {"post_id": None, "posted_at": start + pd.Timedelta(hours=j), "followers": 5000,
         "following": None, "likes": 300 + j, "comments": 20, "shares": 9, "views": 4000,
         "text": "marathon training running shoes", "sponsored": False}
        for j in range(posts)
    ]  # fmt: skip
    return [CandidateIn(f"new-{a}", 100.0, None, history) for a in range(n)]


def _seconds(state: ServiceState, candidates: list[CandidateIn]) -> float:
    start = time.perf_counter()
    scored = score(state, CAMPAIGN, candidates, MAX_POSTS)
    seconds = time.perf_counter() - start
    assert len(scored) == len(candidates)
    return seconds


def test_the_cost_of_histories_grows_with_posts_not_candidates(state: ServiceState) -> None:
    # A ratio, not a wall-clock bound: checking each history alone made 1,000 one-post
    # histories cost about 250 single ones, and 5,000 histories of 35 posts about 1,100
    # (1,428 x 35 posts, the request limit of 50,000, about 300).
    _seconds(state, _newcomers(1, 1))  # warm caches
    one = min(_seconds(state, _newcomers(1, 1)) for _ in range(3))
    assert _seconds(state, _newcomers(1000, 1)) / one < 60
    assert _seconds(state, _newcomers(1428, 35)) / one < 120


def _as_sent(posts: pd.DataFrame) -> list[dict[str, Any]]:
    """Posts of the data as the API hands them to scoring: typed like `HistoryPost`."""
    counts = ["followers", "following", "likes", "comments", "shares", "views"]
    sent = []
    for row in posts.to_dict("records"):
        post: dict[str, Any] = {k: None if pd.isna(row[k]) else int(row[k]) for k in counts}
        post["post_id"] = str(row["post_id"])
        post["posted_at"] = row["posted_at"].to_pydatetime()
        post["text"] = None if pd.isna(row["text"]) else str(row["text"])
        post["sponsored"] = None if pd.isna(row["sponsored"]) else bool(row["sponsored"])
        sent.append(post)
    return sent


def test_many_histories_at_once_score_as_each_alone(state: ServiceState) -> None:
    accounts = sorted(state.online.row_of)[:40]
    posts = state.history(accounts).posts
    candidates = [
        CandidateIn(f"copy-of-{a}", 50.0 + k, None, _as_sent(posts[posts["account_id"] == a]))
        for k, a in enumerate(accounts)
    ]
    candidates[7] = CandidateIn("broken", 10.0, None, [post(1, likes=-1)])
    candidates[9] = CandidateIn(accounts[0], 20.0, state.as_of - pd.Timedelta(days=10))
    together = score(state, CAMPAIGN, candidates, MAX_POSTS)
    assert [e.index for e in together.errors] == [7]
    assert len(together) == len(candidates) - 1
    for k, c in enumerate(candidates):
        alone = score(state, CAMPAIGN, [c], MAX_POSTS)
        if k == 7:
            assert alone.errors[0].error == together.errors[0].error.replace("[7]", "[0]")
            continue
        row = together.index.tolist().index(k)
        np.testing.assert_array_equal(alone.x[0], together.x[row])
        for name, values in together.predictions.items():
            assert alone.predictions[name][0] == values[row], (k, name)
