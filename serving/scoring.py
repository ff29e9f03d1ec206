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
            posts, problem = _history_posts(i, c, max_posts)
            if posts is None:
                errors.append(CandidateError(i, c.account_id, problem or "invalid history"))
                continue
            extra_posts.append(posts)
            until = posts["posted_at"].max() + pd.Timedelta(seconds=1)
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
        campaigns=pd.DataFrame(
            {
                "campaign_id": [REQUEST_CAMPAIGN],
                "brand": [campaign["brand"]],
                "topic": [campaign["topic"]],
            }
        ),
        placements=base.placements,
    )
    return data, targets, errors


def score(
    state: ServiceState, campaign: dict[str, str], candidates: list[CandidateIn], max_posts: int
) -> Scored:
    """Predict every candidate that can be scored; list the others with their reason."""
    data, targets, errors = _prepare(state, campaign, candidates, max_posts)
    if targets.empty:
        return Scored(pd.DataFrame(), pd.DataFrame(), errors)
    scored = score_placements(state.bundle, data, targets)
    scored.index = pd.Index(targets["index"].to_numpy(), name="index")
    feature_cols = [c for c in scored.columns if c not in state.bundle.predict_columns]
    features = scored[feature_cols]
    predictions = scored[state.bundle.predict_columns].assign(
        cost=targets["cost"].to_numpy(), account_id=targets["account_id"].to_numpy()
    )
    return Scored(predictions, features, errors)
