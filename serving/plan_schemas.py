"""Request and response models of `POST /discover` and the planner: the best accounts per
unit cost and both portfolios (`serving.rank.rank_candidates`, shaped by `serving.discover`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from serving.schemas import (
    Campaign,
    CandidateError,
    CandidateScore,
    Count,
    JsonNumber,
    Money,
    Objective,
    Portfolio,
    Strict,
)

__all__ = ["DiscoverRequest", "DiscoverResponse", "Discovered"]


class DiscoverRequest(Strict):
    """Find the best of every known account for this campaign within the budget.

    A follower range whose lower bound is above its upper holds no account: the answer
    then considers none, and says so (`outside_range`), rather than refusing a request
    the schema allows."""

    campaign: Campaign
    budget: Annotated[Money, Field(examples=[5000.0])]
    objective: Objective = "clicks"
    min_followers: Annotated[
        Count | None, Field(description="Consider only accounts with at least this many.")
    ] = None
    max_followers: Annotated[
        Count | None, Field(description="Consider only accounts with at most this many.")
    ] = None
    limit: Annotated[
        int,
        Field(
            ge=1,
            le=500,
            description="How many accounts `accounts` lists, best predicted objective per "
            "unit cost first.",
        ),
        JsonNumber,
    ] = 20
    explain: Annotated[
        int,
        Field(
            ge=0,
            le=500,
            description="How many of the chosen, and of the accounts listed, get per-family "
            "contributions for the objective's target.",
        ),
        JsonNumber,
    ] = 20


class Discovered(CandidateScore):
    """A candidate as the planner lists it: its scores, its size and who would buy it."""

    followers: float | None = Field(description="Displayed followers at its latest post.")
    chosen_by_model: bool
    chosen_by_follower_rule: bool


class DiscoverResponse(BaseModel):
    """The best accounts per unit cost, and the model's portfolio beside the follower rule's."""

    request_id: str
    model_version: str
    objective: Objective
    budget: float
    considered: int = Field(description="Accounts scored: those within the follower range.")
    outside_range: int = Field(description="Accounts the follower range left out.")
    accounts: list[Discovered] = Field(
        description="The best `limit` accounts by predicted objective per unit cost; the "
        "first `explain` carry contributions for the objective's target."
    )
    portfolio: Portfolio = Field(description="What the model buys within the budget.")
    follower_rule: Portfolio = Field(
        description="What the follower-count rule buys with the same budget: biggest first."
    )
    times_follower_rule: float | None = Field(
        description="The portfolio's expected objective over the follower rule's (net return "
        "for roi); null when the rule's is not positive."
    )
    chosen: list[Discovered] = Field(
        description="The portfolio's accounts, highest expected objective first, at most "
        "`limit` of them (`portfolio` names every one); the first `explain` carry "
        "contributions for the objective's target."
    )
    errors: list[CandidateError]
