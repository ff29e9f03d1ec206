"""Request and response models: constraints on fields, so bad input is a 4xx before pandas."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)

__all__ = [
    "BacktestSummary",
    "Campaign",
    "CandidateError",
    "CandidateIn",
    "CandidateScore",
    "Estimate",
    "Health",
    "HistoryPost",
    "InvalidRequest",
    "ModelInfo",
    "Portfolio",
    "PredictRequest",
    "PredictResponse",
    "Problem",
    "RankRequest",
    "RankResponse",
]


def _utc(value: datetime) -> datetime:
    """A timestamp without a zone is UTC, as in the data contract."""
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as e:  # 0001-01-01T00:00:00+01:00 is in year 0 in UTC (found by fuzzing)
        raise ValueError("in UTC this falls outside the years 1 to 9999") from e


def _not_bool(value: object) -> object:
    """A number is a JSON number: lax pydantic would read true/false as 1/0 and the text
    "3" as 3. Integers follow JSON Schema, as the published schema does: 3.0 is the
    integer 3 (3.5 is refused by pydantic)."""
    if isinstance(value, bool):
        raise ValueError("expected a number, not true or false")
    if isinstance(value, str):
        raise ValueError("expected a JSON number, not text")
    return value


# The documented pattern keeps the year within 0002 to 9998: with a zone offset, a time in
# year 1 or 9999 can fall outside years 1 to 9999 in UTC, so such years are refused,
# and the schema says so (found by schema fuzzing: it must not promise what is rejected).
YEARS_2_TO_9998 = (
    r"^(000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-"
)
_YEARS = re.compile(YEARS_2_TO_9998)


def _iso_text(value: object) -> object:
    """A timestamp is ISO-8601 text, as documented; lax pydantic would read numbers as epochs."""
    if not isinstance(value, str | datetime):
        raise ValueError("expected an ISO-8601 timestamp such as 2025-03-01T12:00:00Z")
    if isinstance(value, datetime):
        return value
    year = re.match(r"(\d{4})-", value)
    if year is None:
        # Lax pydantic would read "0" or "1700000000" as a Unix time, which the schema's
        # pattern refuses (found by schema fuzzing): text must start with its year.
        raise ValueError("expected an ISO-8601 timestamp such as 2025-03-01T12:00:00Z")
    if not _YEARS.match(year.group(0)):  # other text: pydantic says what is wrong
        raise ValueError(
            "expected a timestamp from year 0002 to 9998, such as 2025-03-01T12:00:00Z"
        )
    return value


Timestamp = Annotated[
    datetime,
    BeforeValidator(_iso_text),
    AfterValidator(_utc),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": YEARS_2_TO_9998}),
]


def _encodable(value: str) -> str:
    """Text must be encodable as UTF-8: JSON's `\\ud800` decodes to a lone surrogate,
    which no answer, log or file could then hold."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(
            f"holds a lone surrogate (\\u{ord(value[e.start]):04x}) at character {e.start}; "
            "send text as valid Unicode"
        ) from None
    return value


JsonNumber = BeforeValidator(_not_bool)
"""A number field takes JSON numbers only (not true/false, not text): for types of their own."""
Count = Annotated[int, Field(ge=0, le=10**12), JsonNumber]
# Money: from a cent to a trillion. Outside that, costs per action and ROI overflow
# floating point (found by schema fuzzing), and no real price is there anyway.
Money = Annotated[float, Field(ge=0.01, le=1e12, allow_inf_nan=False), BeforeValidator(_not_bool)]
Text = Annotated[str, AfterValidator(_encodable)]
Id = Annotated[Text, Field(min_length=1, max_length=200)]
Objective = Literal["clicks", "referrals", "conversions", "revenue", "roi"]


class Strict(BaseModel):
    """Unknown fields are an error: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Campaign(Strict):
    """The campaign to pick influencers for."""

    brand: Annotated[Text, Field(min_length=1, max_length=200, examples=["northpeak"])]
    topic: Annotated[
        Text, Field(min_length=1, max_length=2000, examples=["running shoes marathon training"])
    ]


class HistoryPost(Strict):
    """One post of an account the service does not know, in the contract's columns."""

    post_id: Id | None = None
    posted_at: Timestamp
    followers: Count
    following: Count | None = None
    likes: Count
    comments: Count
    shares: Count
    views: Count | None = None
    text: Annotated[Text, Field(max_length=10_000)] | None = None
    sponsored: Annotated[bool, Field(strict=True)] | None = None


class CandidateIn(Strict):
    """An account that could be paid for the campaign, and its price if one was quoted."""

    account_id: Id
    cost: Annotated[
        Money | None,
        Field(
            examples=[250.0],
            description="The quoted price. Without it, the model's price model estimates "
            "one from the account's reach and resonance, and the answer says so "
            "(`cost_estimated`) with the estimate's 90% interval.",
        ),
    ] = None
    posted_at: Timestamp | None = None
    history: list[HistoryPost] | None = None


class PredictRequest(Strict):
    """Score these candidates for this campaign."""

    campaign: Campaign
    candidates: Annotated[list[CandidateIn], Field(min_length=1)]


class RankRequest(PredictRequest):
    """Pick the best portfolio of these candidates within the budget."""

    budget: Annotated[Money, Field(examples=[5000.0])]
    objective: Objective = "clicks"
    explain: Annotated[
        int,
        Field(
            ge=0,
            le=5000,
            description="How many of the chosen candidates, highest expected objective first, "
            "get per-family contributions for the objective's target (about 0.2 ms each "
            "on the demo model).",
        ),
        BeforeValidator(_not_bool),
    ] = 50


class Estimate(BaseModel):
    """An expected value with its 90% prediction interval."""

    expected: float
    low: float
    high: float


class CandidateScore(BaseModel):
    """What a candidate is expected to cause, what it costs per action, and why."""

    index: int = Field(
        description="Position of the candidate in the request (for /discover: among the "
        "accounts considered, in account id order)."
    )
    account_id: str
    cost: float = Field(description="The cost predicted with: quoted, or estimated.")
    cost_estimated: bool = Field(
        default=False, description="Whether `cost` is the price model's estimate (none quoted)."
    )
    cost_low: float | None = Field(
        default=None, description="An estimated cost's 90% interval, low end; null if quoted."
    )
    cost_high: float | None = Field(
        default=None, description="An estimated cost's 90% interval, high end; null if quoted."
    )
    outcomes: dict[str, Estimate] = Field(description="Per target: expected value, interval.")
    roi: float | None = Field(
        description="(expected revenue - cost) / cost, when revenue is a target."
    )
    cost_per_action: dict[str, float | None] = Field(description="Cost per expected action.")
    followers_baseline: dict[str, float] = Field(
        description="What the followers-only model expects, per target."
    )
    contributions: dict[str, dict[str, float]] | None = Field(
        default=None,
        description="Per target: LightGBM's contributions summed per feature family "
        "(reach, resonance, relevance, track) plus bias, on the log scale: "
        "exp(sum) is the expected value.",
    )


class CandidateError(BaseModel):
    """A candidate that could not be scored; the others still were."""

    index: int
    account_id: str
    error: str


class PredictResponse(BaseModel):
    """Scores for every candidate that could be scored, errors for the rest."""

    request_id: str
    model_version: str
    scores: list[CandidateScore]
    errors: list[CandidateError]


class Portfolio(BaseModel):
    """A set of candidates bought within the budget, and its predicted totals."""

    account_ids: list[str]
    indices: list[int] = Field(
        description="The candidates' positions in the request (for /discover: among the "
        "accounts considered, in account id order)."
    )
    cost: float
    totals: dict[str, Estimate]
    roi: float | None


class RankResponse(BaseModel):
    """The model's portfolio beside the one the follower-count rule would buy."""

    request_id: str
    model_version: str
    objective: Objective
    budget: float
    portfolio: Portfolio
    follower_rule: Portfolio
    chosen: list[CandidateScore] = Field(
        description="The model portfolio's candidates, highest expected objective first; the "
        "first `explain` carry contributions for the objective's target."
    )
    errors: list[CandidateError]


class Health(BaseModel):
    """Ready or not, and the model version served."""

    status: Literal["ok", "unavailable"]
    model_version: str | None = None
    reason: str | None = None


class BacktestSummary(BaseModel):
    """The project's latest backtest (`influence compare`), as `/app/model` shows it."""

    run_id: str = Field(description="Its MLflow run.")
    experiment: str = Field(description="The project's backtest experiment.")
    ran_at: str = Field(description="When the run ended (ISO 8601, UTC).")
    data_digest: str = Field(description="Digest of the data it backtested.")
    on_model_data: bool = Field(description="Whether that is the served model's training data.")
    on_served_data: bool = Field(description="Whether that is the data served.")
    held_out_campaigns: int
    rolling_origins: int
    budget_share: float = Field(description="Share of each campaign's candidate cost spent.")
    currency: str | None = Field(description="What costs are in; null: unit cost.")
    results: dict[str, dict[str, dict[str, list[float | None]]]] = Field(
        description="Per target, per policy (model, followers, heuristic, follower_rule, "
        "random, truth on simulated data): `actions_per_cost`, `cost_per_action` and "
        "`times_follower_rule` pooled over the held-out campaigns, each [value, low, high] "
        "with its 95% campaign-bootstrap interval; null where the report has no finite number."
    )
    report: str = Field(description="The path of the full report, served as a page.")


class ModelInfo(BaseModel):
    """The served model: version, training time, metrics against the baselines, and
    whether the data served is the data it was trained on."""

    version: str
    trained_at: str | None
    targets: list[str]
    feature_families: list[str]
    metrics: dict[str, dict[str, object]]
    data_digest: str | None = Field(description="Digest of the data the model was trained on.")
    data_as_of: str
    accounts: int
    data_matches_model: bool | None = Field(
        description="Whether the data directory served has the digest of the model's training "
        "data; null when the model's manifest records none."
    )
    data_note: str = Field(description="The comparison in one sentence, and what to do.")
    price: dict[str, float] | None = Field(
        None,
        description="The price model on the later campaigns (`price/mdape`, "
        "`price/mdape_follower_rate`, `price/coverage` of its 90% interval), as train logged "
        "them; null when the model has none.",
    )
    backtest: BacktestSummary | None = Field(
        None,
        description="The project's latest finished backtest logged to MLflow, preferring one "
        "on the model's training data, then on the data served; null when there is none or it "
        "cannot be read, or not within INFLUENCE_BACKTEST_TIMEOUT_SECONDS (`backtest_note` "
        "says why).",
    )
    backtest_note: str | None = Field(
        None, description="Why there is no backtest, and the command that makes one."
    )


class Problem(BaseModel):
    """A refused request (401, 413, 422, 503): what is wrong, in one plain sentence."""

    detail: str


class InvalidRequest(Problem):
    """A request that breaks the schema (422): the sentence, then each error as pydantic says it."""

    errors: list[dict[str, Any]] = Field(
        description="pydantic's errors: type, loc (where), msg, input and ctx."
    )
