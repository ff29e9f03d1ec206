"""Histories checked in one pass give what checking each history alone gave, value for value.

The reference is the way histories were checked before: one `coerce_table` per
candidate, the first acceptable history of an account describing it. Hypothesis
draws requests of a few accounts (repeated, refused, too long) whose posts hold
awkward values of every type, including those the stacked pass sets aside.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.contract import POSTS, Kind
from features.validate import coerce_table
from serving.histories import HistoryIn, check_histories

MAX_POSTS = 3

VALUES: dict[Kind, list[Any]] = {
    Kind.STRING: ["p1", "p2", " p1 ", "", "  ", None, 5, 5.0, np.str_("p1")],
    Kind.TIMESTAMP: [
        "2025-06-01T12:00:00Z",
        "2025-06-01",
        "2025-06-01T13:00:00+01:00",
        " 2025-06-02 ",
        "not a date",
        "",
        None,
        "3000-01-01T00:00:00Z",
        "2025-01-01T00:00:00.123456789Z",
        datetime(2025, 6, 3, tzinfo=UTC),
        datetime(2025, 6, 3, 1, tzinfo=timezone(timedelta(hours=1))),
        datetime(2025, 6, 4),
        pd.Timestamp("2025-06-05T00:00:00Z"),
        pd.Timestamp("2025-06-05T00:00:00.000000001Z"),
        1748736000,
    ],
    Kind.COUNT: [0, 3, -1, 1.5, 2.0, None, "7", "x", " ", True, np.nan, np.inf, 2**60, np.int64(3)],
    Kind.BOOL: [True, False, None, "yes", 1, 0, "maybe", 1.0, np.True_],
}
GOOD: dict[Kind, list[Any]] = {
    Kind.STRING: ["p1", " p2", "p3", None],
    Kind.TIMESTAMP: ["2025-06-01T12:00:00Z", "2025-06-02", datetime(2025, 6, 3, tzinfo=UTC)],
    Kind.COUNT: [0, 3, 7.0, 12],
    Kind.BOOL: [True, False, None],
}


@st.composite
def histories(draw: st.DrawFn) -> list[HistoryIn]:
    """Up to six candidates of up to three accounts, each with one to four posts."""
    sent: list[HistoryIn] = []
    for index in range(draw(st.integers(1, 6))):
        account = draw(st.sampled_from(["a", "b", " c "]))
        posts = []
        clean = draw(st.booleans())  # a history that may be accepted: plain values only
        for _ in range(draw(st.integers(1, MAX_POSTS + 1))):
            post: dict[str, Any] = {}
            for col in POSTS.columns:
                if col.name == "account_id" or not draw(st.booleans() | st.just(col.required)):
                    continue
                pool = (GOOD if clean and col.name != "post_id" else VALUES)[col.kind]
                post[col.name] = draw(st.sampled_from(pool))
            posts.append(post)
        sent.append((index * 2, account, posts))  # not 0..n-1: labels are request positions
    return sent


def one_by_one(
    sent: list[HistoryIn],
) -> tuple[pd.DataFrame, dict[str, pd.Timestamp], dict[int, str]]:
    """How histories were checked before: each alone, until one describes its account.

    Except that ids are made up in a column of numbers too, where pandas refused them.
    """
    frames, latest, errors = [], {}, {}
    for index, account, history in sent:
        if account in latest:
            continue
        if len(history) > MAX_POSTS:
            errors[index] = f"history has {len(history)} posts; at most {MAX_POSTS} are accepted"
            continue
        raw = pd.DataFrame(history)
        raw["account_id"] = account
        if "post_id" not in raw:
            raw["post_id"] = None
        missing_id = raw["post_id"].isna()
        if missing_id.any():  # as objects: pandas refused ids in a column of numbers (a 500)
            raw["post_id"] = raw["post_id"].astype(object)
            raw.loc[missing_id, "post_id"] = [f"{account}/h{i}" for i in np.flatnonzero(missing_id)]
        posts, problems = coerce_table(POSTS, raw, f"candidates[{index}].history")
        if problems:
            errors[index] = "; ".join(str(p).rstrip(".") for p in problems)
            continue
        frames.append(posts)
        latest[account] = posts["posted_at"].max()
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(), latest, errors


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sent=histories())
def test_one_pass_gives_what_each_history_alone_gave(sent: list[HistoryIn]) -> None:
    posts, latest, errors = one_by_one(sent)
    checked = check_histories(sent, MAX_POSTS)
    assert checked.errors == errors
    assert checked.latest == latest
    if len(posts):
        pd.testing.assert_frame_equal(checked.posts, posts)
    else:
        assert checked.posts.empty
        assert list(checked.posts.columns) == POSTS.names


def test_many_bad_rows_are_counted_and_the_first_five_named() -> None:
    bad = [{"posted_at": "June", "followers": 1, "likes": 1, "comments": 1, "shares": 1}] * 7
    good = [dict(bad[0], posted_at="2025-06-01")]
    checked = check_histories([(0, "good", good), (3, "bad", bad), (4, "good2", good)], 10)
    assert checked.errors == {
        3: "candidates[3].history, column 'posted_at': values that are not an ISO-8601 "
        "timestamp such as 2025-03-01T12:00:00Z in 7 rows: 'June' on row 1, 'June' on row 2, "
        "'June' on row 3, and 4 more (rows 4, 5, ...)"
    }
    assert list(checked.posts["account_id"]) == ["good", "good2"]
    assert checked.latest == {
        "good": pd.Timestamp("2025-06-01", tz="UTC"),
        "good2": pd.Timestamp("2025-06-01", tz="UTC"),
    }
