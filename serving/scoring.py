"""Score candidates for a campaign: the one path shared by the API and batch prediction.

Features come from the same `FeatureBuilder.transform` that training used. A
candidate's features are built as of the earlier of its planned `posted_at` and
the end of what is known about it (the service's data, or the history sent with
it): a placement planned for next month is described by everything known today,
not by an empty window between today and next month.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.builder import History
from features.contract import POSTS
from features.io import Dataset
from features.validate import coerce_table
from serving.state import ServiceState
from training.bundle import ModelBundle

__all__ = ["CandidateError", "CandidateIn", "Scored", "effective_time", "score", "score_placements"]

REQUEST_CAMPAIGN = "request"


@dataclass(frozen=True)
class CandidateIn:
    """One candidate as the domain sees it (the API's schema, without pydantic)."""

    account_id: str
    cost: float
    posted_at: pd.Timestamp | None = None
    history: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class CandidateError:
    """A candidate that could not be scored, and why."""

    index: int
    account_id: str
    error: str


@dataclass
class Scored:
    """Predictions for the candidates that could be scored.

    `predictions` and `features` are indexed by the candidate's position in the
    request; `errors` lists the others.
    """

    predictions: pd.DataFrame
    features: pd.DataFrame
    errors: list[CandidateError] = field(default_factory=list)


def effective_time(posted_at: pd.Timestamp | None, known_until: pd.Timestamp) -> pd.Timestamp:
    """The moment features are built as of: the planned time, but never past what is known."""
    if posted_at is None or posted_at > known_until:
        return known_until
    return posted_at


def score_placements(bundle: ModelBundle, data: Dataset, targets: pd.DataFrame) -> pd.DataFrame:
    """Features and predictions for placements (contract columns incl. `cost`).

    Returns one row per target: its feature columns then the bundle's predictions.
    Training's evaluation, batch prediction and the API all reach the model here.
    """
    features = bundle.builder.transform(data, targets)
    predictions = bundle.predict(features, targets["cost"].reset_index(drop=True))
    return pd.concat([features, predictions], axis=1)


def _history_posts(
    index: int, candidate: CandidateIn, max_posts: int
) -> tuple[pd.DataFrame | None, str | None]:
    history = candidate.history or []
    if len(history) > max_posts:
        return None, f"history has {len(history)} posts; at most {max_posts} are accepted"
    raw = pd.DataFrame(history)
    raw["account_id"] = candidate.account_id
    if "post_id" not in raw:
        raw["post_id"] = None
    missing_id = raw["post_id"].isna()
    raw.loc[missing_id, "post_id"] = [
        f"{candidate.account_id}/h{i}" for i in np.flatnonzero(missing_id)
    ]
    posts, problems = coerce_table(POSTS, raw, f"candidates[{index}].history")
    if problems:
        return None, "; ".join(str(p).rstrip(".") for p in problems)
    return posts, None


def _prepare(
    state: ServiceState, campaign: dict[str, str], candidates: list[CandidateIn], max_posts: int
) -> tuple[Dataset, pd.DataFrame, list[CandidateError]]:
    errors: list[CandidateError] = []
    known = [c.account_id for c in candidates if state.knows(c.account_id)]
    base = state.history(known)
    extra_posts: list[pd.DataFrame] = []
    sent: dict[str, pd.DataFrame] = {}
    rows: list[dict[str, Any]] = []
    for i, c in enumerate(candidates):
        until = state.as_of
        if not state.knows(c.account_id):
            if not c.history:
                errors.append(
                    CandidateError(
                        i,
                        c.account_id,
                        f"unknown account_id {c.account_id!r} and no history given; "
                        "send its recent posts in `history` to score it",
                    )
                )
                continue
            if c.account_id not in sent:
                # One account, one history: the first candidate's history describes it.
                parsed, problem = _history_posts(i, c, max_posts)
                if parsed is None:
                    errors.append(CandidateError(i, c.account_id, problem or "invalid history"))
                    continue
                sent[c.account_id] = parsed
                extra_posts.append(parsed)
            until = sent[c.account_id]["posted_at"].max() + pd.Timedelta(seconds=1)
        rows.append(
            {
                "index": i,
                "placement_id": f"candidate-{i}",
                "campaign_id": REQUEST_CAMPAIGN,
                "account_id": c.account_id,
                "posted_at": effective_time(c.posted_at, until),
                "cost": float(c.cost),
            }
        )
    targets = pd.DataFrame(
        rows, columns=["index", "placement_id", "campaign_id", "account_id", "posted_at", "cost"]
    )
    targets["posted_at"] = pd.to_datetime(targets["posted_at"], utc=True)
    new_accounts = sorted({str(p["account_id"].iloc[0]) for p in extra_posts})
    data = Dataset(
        accounts=pd.concat(
            [base.accounts, pd.DataFrame({"account_id": new_accounts})], ignore_index=True
        ),
        posts=pd.concat([base.posts, *extra_posts], ignore_index=True),
        campaigns=_campaign_frame(campaign),
        placements=base.placements,
    )
    return data, targets, errors


def _campaign_frame(campaign: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "campaign_id": [REQUEST_CAMPAIGN],
            "brand": [campaign["brand"]],
            "topic": [campaign["topic"]],
        }
    )


def _latest_features(
    state: ServiceState, campaign: dict[str, str], rows: list[tuple[int, CandidateIn]]
) -> pd.DataFrame:
    """Feature rows of known accounts as of the end of the data, from the cached state.

    Only relevance is computed here, by the builder's own step, over each
    account's cached post window; the other families are the cached rows.
    """
    latest = state.latest
    slots = [latest.row_of[c.account_id] for _, c in rows]
    targets = pd.DataFrame(
        {
            "placement_id": [f"candidate-{i}" for i, _ in rows],
            "account_id": [c.account_id for _, c in rows],
            "campaign_id": REQUEST_CAMPAIGN,
            "posted_at": state.as_of,
            "_p": np.arange(len(rows), dtype=np.int64),
        }
    )
    empty = np.array([], dtype=np.intp)
    windows = [latest.joined_rows.get(slot, empty) for slot in slots]
    joined = latest.history.joined.iloc[np.concatenate(windows)].copy()
    joined["_p"] = np.repeat(np.arange(len(rows), dtype=np.int64), [w.size for w in windows])
    history = History(targets, latest.history.posts, joined.reset_index(drop=True))
    relevance = state.bundle.builder.relevance(
        history, _campaign_frame(campaign), latest.captions.encode
    )
    free = latest.free.iloc[slots].set_axis(pd.Index(targets["_p"], name="_p"))
    return state.bundle.builder.assemble(targets, [free, relevance])


def score(
    state: ServiceState, campaign: dict[str, str], candidates: list[CandidateIn], max_posts: int
) -> Scored:
    """Predict every candidate that can be scored; list the others with their reason.

    Known accounts described as of the end of the data (no `posted_at`, or one in
    the future) use the cached latest state; the rest go through the full
    `transform`. Both give the same rows (tested).
    """
    fast = [
        (i, c)
        for i, c in enumerate(candidates)
        if state.knows(c.account_id) and effective_time(c.posted_at, state.as_of) == state.as_of
    ]
    fast_ids = {i for i, _ in fast}
    rest = [c for i, c in enumerate(candidates) if i not in fast_ids]
    rest_index = [i for i in range(len(candidates)) if i not in fast_ids]
    tables: list[pd.DataFrame] = []
    costs: list[float] = []
    order: list[int] = []
    errors: list[CandidateError] = []
    if fast:
        tables.append(_latest_features(state, campaign, fast))
        costs += [float(c.cost) for _, c in fast]
        order += [i for i, _ in fast]
    if rest:
        data, targets, rest_errors = _prepare(state, campaign, rest, max_posts)
        errors = [
            CandidateError(
                rest_index[e.index],
                e.account_id,
                e.error.replace(f"candidates[{e.index}]", f"candidates[{rest_index[e.index]}]"),
            )
            for e in rest_errors
        ]
        if not targets.empty:
            tables.append(state.bundle.builder.transform(data, targets))
            costs += targets["cost"].tolist()
            order += [rest_index[i] for i in targets["index"]]
    features = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    if tables:
        # No post in the look-back window: nothing describes the account, so say so
        # instead of returning the model's guess for a blank row.
        blank = features["reach_followers"].isna().to_numpy()
        lookback = state.bundle.builder.lookback_days
        for k in np.flatnonzero(blank):
            account, at = features["account_id"].iloc[k], features["posted_at"].iloc[k]
            errors.append(
                CandidateError(
                    order[k],
                    str(account),
                    f"no post of {account!r} in the {lookback} days before {at.isoformat()}; "
                    "there is nothing to score it on",
                )
            )
        features = features.loc[~blank].reset_index(drop=True)
        costs = [c for c, b in zip(costs, blank, strict=True) if not b]
        order = [o for o, b in zip(order, blank, strict=True) if not b]
    errors.sort(key=lambda e: e.index)
    if features.empty:  # nothing scorable: empty frames that still have every column
        columns = [*state.bundle.predict_columns, "cost"]
        empty = pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
        return Scored(empty.assign(account_id=pd.Series(dtype=object)), pd.DataFrame(), errors)
    cost = pd.Series(costs, dtype=float)
    predictions = state.bundle.predict(features, cost).assign(
        cost=cost.to_numpy(), account_id=features["account_id"].to_numpy()
    )
    index = pd.Index(order, name="index")
    features.index = index
    predictions.index = index
    ranked = np.argsort(np.asarray(order), kind="stable")
    return Scored(predictions.iloc[ranked], features.iloc[ranked], errors)
