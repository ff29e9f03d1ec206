"""Score candidates for a campaign: the one path shared by the API and batch prediction.

Features come from the same `FeatureBuilder.transform` that training used. A
candidate's features are built as of the earlier of its planned `posted_at` and
the end of what is known about it (the service's data, or the history sent with
it): a placement planned for next month is described by everything known today,
not by an empty window between today and next month.

A candidate without a quoted `cost` is priced by the bundle's price model
(`training.learners.price`) from the same feature row, and carries the estimate's
interval; a bundle without one (trained before there was a price model) refuses such
a candidate in one sentence, the others still being scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.builder import FEATURES
from features.io import Dataset
from serving.histories import check_histories
from serving.state import ServiceState
from training.artifacts.bundle import ModelBundle

__all__ = [
    "CandidateError",
    "CandidateIn",
    "Scored",
    "candidates_from",
    "effective_time",
    "score",
    "score_placements",
]

REQUEST_CAMPAIGN = "request"

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CandidateIn:
    """One candidate as the domain sees it (the API's schema, without pydantic); `cost`
    None: not quoted, to be estimated."""

    account_id: str
    cost: float | None
    posted_at: pd.Timestamp | None = None
    history: list[dict[str, Any]] | None = None


class _CandidateFields(Protocol):
    """What `candidates_from` reads of a request's candidate (the API schema's fields)."""

    account_id: str
    cost: float | None

    @property
    def posted_at(self) -> datetime | None: ...

    @property
    def history(self) -> Sequence[Any] | None: ...


def candidates_from(items: Sequence[_CandidateFields]) -> list[CandidateIn]:
    """The domain's candidates from the API's: times as Timestamps, history posts as dicts.

    How many candidates and posts a request may hold is checked on its raw body
    (`serving.body`), before it is parsed.
    """
    return [
        CandidateIn(
            account_id=c.account_id,
            cost=c.cost,
            posted_at=pd.Timestamp(c.posted_at) if c.posted_at else None,
            history=[h.model_dump() for h in c.history] if c.history else None,
        )
        for c in items
    ]


@dataclass(frozen=True)
class CandidateError:
    """A candidate that could not be scored, and why."""

    index: int
    account_id: str
    error: str


@dataclass
class Scored:
    """Predictions for the candidates that could be scored, as arrays in request order.

    `index` is each scored candidate's position in the request (ascending); `x`
    its feature row (`FEATURES` order); `cost` the cost predicted with, quoted or
    estimated (`estimated`), with the estimate's interval in `cost_low` and `cost_high`
    (NaN for a quoted cost); `predictions` `ModelBundle.predict_arrays`' columns;
    `errors` lists the candidates that could not be scored.
    """

    index: npt.NDArray[np.intp]
    account_ids: list[str]
    cost: Floats
    x: Floats
    predictions: dict[str, Floats]
    errors: list[CandidateError] = field(default_factory=list)
    estimated: npt.NDArray[np.bool_] = field(default_factory=lambda: np.empty(0, dtype=bool))
    cost_low: Floats = field(default_factory=lambda: np.empty(0))
    cost_high: Floats = field(default_factory=lambda: np.empty(0))

    def __len__(self) -> int:
        return int(self.index.size)

    def take(self, keep: npt.NDArray[np.bool_]) -> Scored:
        """The scored candidates where `keep` is true (errors unchanged)."""
        return Scored(
            self.index[keep],
            [a for a, k in zip(self.account_ids, keep, strict=True) if k],
            self.cost[keep],
            self.x[keep],
            {k: v[keep] for k, v in self.predictions.items()},
            self.errors,
            self.estimated[keep],
            self.cost_low[keep],
            self.cost_high[keep],
        )


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


def _prepare(
    state: ServiceState, campaign: dict[str, str], candidates: list[CandidateIn], max_posts: int
) -> tuple[Dataset, pd.DataFrame, list[CandidateError]]:
    errors: list[CandidateError] = []
    unknown = [not state.knows(c.account_id) for c in candidates]
    base = state.history([c.account_id for c, u in zip(candidates, unknown, strict=True) if not u])
    # Every history is checked in one pass (`serving.histories`), not one table per candidate.
    sent = check_histories(
        [
            (i, c.account_id, c.history)
            for i, c in enumerate(candidates)
            if unknown[i] and c.history
        ],
        max_posts,
    )
    rows: list[dict[str, Any]] = []
    for i, c in enumerate(candidates):
        until = state.as_of
        if unknown[i]:
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
            if i in sent.errors:
                errors.append(CandidateError(i, c.account_id, sent.errors[i]))
                continue
            until = sent.latest[c.account_id] + pd.Timedelta(seconds=1)
        rows.append(
            {
                "index": i,
                "placement_id": f"candidate-{i}",
                "campaign_id": REQUEST_CAMPAIGN,
                "account_id": c.account_id,
                "posted_at": effective_time(c.posted_at, until),
                "cost": np.nan if c.cost is None else float(c.cost),  # not a feature
            }
        )
    targets = pd.DataFrame(
        rows, columns=["index", "placement_id", "campaign_id", "account_id", "posted_at", "cost"]
    )
    targets["posted_at"] = pd.to_datetime(targets["posted_at"], utc=True)
    new_accounts = sorted({str(a) for a in sent.posts["account_id"].unique()})
    data = Dataset(
        accounts=pd.concat(
            [base.accounts, pd.DataFrame({"account_id": new_accounts})], ignore_index=True
        ),
        posts=pd.concat(
            [base.posts, *([sent.posts] if len(sent.posts) else [])], ignore_index=True
        ),
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


def score(
    state: ServiceState, campaign: dict[str, str], candidates: list[CandidateIn], max_posts: int
) -> Scored:
    """Predict every candidate that can be scored; list the others with their reason.

    Known accounts described as of the end of the data (no `posted_at`, or one in
    the future) use the state's `features.online` snapshot; the rest go through the
    full `transform`. Both give the same rows (tests/features/test_online.py).
    """
    fast = [
        i
        for i, c in enumerate(candidates)
        if state.knows(c.account_id) and effective_time(c.posted_at, state.as_of) == state.as_of
    ]
    fast_ids = set(fast)
    rest_index = [i for i in range(len(candidates)) if i not in fast_ids]
    blocks: list[Floats] = []
    order: list[int] = []
    times: list[pd.Timestamp] = []
    errors: list[CandidateError] = []
    if fast:
        blocks.append(state.online.rows([candidates[i].account_id for i in fast], campaign))
        order += fast
        times += [state.as_of] * len(fast)
    if rest_index:
        rest = [candidates[i] for i in rest_index]
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
            built = state.bundle.builder.transform(data, targets)
            blocks.append(built[list(FEATURES)].to_numpy(dtype=np.float64))
            order += [rest_index[i] for i in targets["index"]]
            times += list(targets["posted_at"])
    x = np.concatenate(blocks) if blocks else np.empty((0, len(FEATURES)))
    index = np.asarray(order, dtype=np.intp)
    # No post in the look-back window: nothing describes the account, so say so
    # instead of returning the model's guess for a blank row.
    blank = np.isnan(x[:, FEATURES.index("reach_followers")])
    lookback = state.bundle.builder.lookback_days
    for k in np.flatnonzero(blank):
        account = candidates[index[k]].account_id
        errors.append(
            CandidateError(
                int(index[k]),
                account,
                f"no post of {account!r} in the {lookback} days before "
                f"{times[k].isoformat()}; there is nothing to score it on",
            )
        )
    ranked = np.argsort(index[~blank], kind="stable")
    index, x = index[~blank][ranked], x[~blank][ranked]
    quoted = [candidates[i].cost for i in index]
    estimated = np.array([c is None for c in quoted], dtype=bool)
    cost = np.array([np.nan if c is None else float(c) for c in quoted], dtype=np.float64)
    low, high = np.full(cost.shape, np.nan), np.full(cost.shape, np.nan)
    bundle = state.bundle
    if estimated.any() and bundle.price is None:
        errors += [_unpriced(int(i), candidates[i].account_id) for i in index[estimated]]
        index, x, cost = index[~estimated], x[~estimated], cost[~estimated]
        low, high, estimated = low[~estimated], high[~estimated], estimated[~estimated]
    elif estimated.any():
        assert bundle.price is not None
        cost[estimated], low[estimated], high[estimated] = bundle.price.estimate(x[estimated])
    errors.sort(key=lambda e: e.index)
    predictions = (
        bundle.predict_arrays(x, cost)
        if len(x)
        else {c: np.empty(0) for c in bundle.predict_columns}
    )
    return Scored(
        index,
        [candidates[i].account_id for i in index],
        cost,
        x,
        predictions,
        errors,
        estimated,
        low,
        high,
    )


def _unpriced(index: int, account_id: str) -> CandidateError:
    """The refusal of a candidate without a cost by a model that cannot estimate one."""
    return CandidateError(
        index,
        account_id,
        "no cost given, and this model was trained before there was a price model, so it "
        "cannot estimate one; send the quoted `cost`, or serve a model trained since",
    )
