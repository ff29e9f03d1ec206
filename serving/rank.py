"""Choosing a campaign's portfolio: candidates and a budget in, both portfolios out.

`rank_candidates` is the one use case behind `/rank`, `/discover`, `influence rank` and
the planner page (`/app/plan`): candidates (a shortlist, or with none every account the
served data can describe), optionally narrowed to a follower range, are scored in one
pass (`serving.scoring`), then both portfolios are planned with the budget rules
(`features.budget.plan`), every candidate's predictions kept for whoever shows them.
`rank` shapes that as `/rank`'s answer (`serving.responses`). No step calls back into
another (tests/serving/test_rank.py traces a request).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from features.budget import OBJECTIVE_TARGETS, Plan, plan, value_per_cost
from features.builder import FEATURES
from serving import schemas
from serving.errors import DiscoveryError, ObjectiveError
from serving.responses import candidate_errors, candidate_scores, portfolio
from serving.scoring import CandidateError, CandidateIn, Scored, candidates_from, score
from serving.settings import ServingSettings
from serving.state import ServiceState

__all__ = ["FollowerRange", "Ranked", "known_accounts", "rank", "rank_candidates"]

Floats = npt.NDArray[np.float64]
FOLLOWERS = FEATURES.index("reach_followers")


@dataclass(frozen=True)
class FollowerRange:
    """The displayed followers a candidate must have to be considered: at least `low` and at
    most `high` (None: no bound on that side). An account whose count is unknown is outside
    any range that has a bound."""

    low: float | None = None
    high: float | None = None

    def holds(self, followers: Floats) -> npt.NDArray[np.bool_]:
        """Which of `followers` (NaN where unknown) are within the range."""
        inside = np.ones(followers.shape, dtype=bool)
        if self.low is not None:
            inside &= followers >= self.low
        if self.high is not None:
            inside &= followers <= self.high
        return inside


@dataclass(frozen=True)
class Ranked:
    """Every candidate considered, scored, and both portfolios bought with one budget.

    `candidates` are those asked about (a discovery: every known account in the range);
    `scored` the ones that could be scored and are in the follower range (their errors
    included), `followers` their displayed followers; `plans` the model's portfolio and
    the follower rule's (`features.budget.plan`); `order` positions in `scored`, best
    predicted objective per unit cost first (ties in candidate order); `outside` how
    many scored candidates the follower range left out; `times_follower_rule` the model
    portfolio's expected objective over the follower rule's (None when the rule's is not
    positive, where a ratio says nothing).
    """

    objective: schemas.Objective
    target: str
    budget: float
    candidates: list[CandidateIn]
    scored: Scored
    followers: Floats
    plans: Plan
    order: npt.NDArray[np.intp]
    outside: int
    times_follower_rule: float | None


def known_accounts(state: ServiceState, followers: FollowerRange) -> tuple[list[CandidateIn], int]:
    """Every account the served data can describe now, within `followers`, without a cost
    (the price model estimates one), in account id order; and how many were outside.

    An account without a post in the look-back window has nothing to be scored on, so it
    is not a candidate at all (a shortlist naming one gets an error entry instead).
    """
    ids = sorted(state.online.row_of)
    rows = np.array([state.online.row_of[a] for a in ids], dtype=np.intp)
    counts = state.online.free[rows, FOLLOWERS] if ids else np.empty(0)
    described = ~np.isnan(counts)
    inside = described & followers.holds(counts)
    chosen = [CandidateIn(a, None) for a, ok in zip(ids, inside, strict=True) if ok]
    return chosen, int((described & ~inside).sum())


def rank_candidates(
    state: ServiceState,
    campaign: dict[str, str],
    candidates: list[CandidateIn] | None,
    budget: float,
    objective: schemas.Objective,
    max_posts: int,
    followers: FollowerRange | None = None,
) -> Ranked:
    """Score `candidates` for `campaign` (None: discover among every known account) within
    the follower range, then buy both portfolios within `budget` for `objective`.

    Takes the state served, the campaign's `brand` and `topic`, the candidates, the
    budget, the objective (a target, or `roi`), the posts one history may hold and the
    follower range. Raises ObjectiveError (422) when the objective needs a target the
    model lacks, and DiscoveryError (422) for a discovery by a model that cannot estimate
    prices.
    """
    target = OBJECTIVE_TARGETS[objective]
    if target not in state.targets:
        raise ObjectiveError(
            f"The objective {objective!r} needs a {target} model; this model predicts "
            f"{', '.join(state.targets)}."
        )
    span = followers or FollowerRange()
    outside = 0
    if candidates is None:
        if state.bundle.price is None:
            raise DiscoveryError(
                "Discovery prices every known account, and this model was trained before "
                "there was a price model; send a shortlist with quoted costs, or serve a "
                "model trained since."
            )
        candidates, outside = known_accounts(state, span)
    scored = score(state, campaign, candidates, max_posts)
    scored = _first_of_each_account(scored, candidates)
    inside = span.holds(scored.x[:, FOLLOWERS])
    outside += int((~inside).sum())
    scored = scored.take(inside)
    counts = scored.x[:, FOLLOWERS]
    plans = plan(objective, scored.predictions, scored.cost, counts, budget)
    order = np.argsort(-value_per_cost(plans.value, scored.cost), kind="stable")
    model_value = float(plans.value[plans.model.mask].sum())
    rule_value = float(plans.value[plans.follower_rule.mask].sum())
    return Ranked(
        objective=objective,
        target=target,
        budget=budget,
        candidates=candidates,
        scored=scored,
        followers=counts,
        plans=plans,
        order=order.astype(np.intp),
        outside=outside,
        times_follower_rule=model_value / rule_value if rule_value > 0 else None,
    )


def rank(
    body: schemas.RankRequest, state: ServiceState, settings: ServingSettings
) -> schemas.RankResponse:
    """The portfolio within `body.budget` that maximises the objective, beside the follower
    rule's, with the chosen candidates (highest expected objective first) and the errors.

    Raises ObjectiveError (422) when the objective needs a target the model lacks.
    """
    candidates = candidates_from(body.candidates)
    ranked = rank_candidates(
        state,
        body.campaign.model_dump(),
        candidates,
        body.budget,
        body.objective,
        settings.max_history_posts,
    )
    scored, plans = ranked.scored, ranked.plans
    chosen = plans.model.mask
    # Highest expected objective first: the ones explained when `explain` cuts the list.
    bought = np.flatnonzero(chosen)[np.argsort(-plans.value[chosen], kind="stable")]
    return schemas.RankResponse(
        request_id=uuid.uuid4().hex,
        model_version=state.version,
        objective=body.objective,
        budget=body.budget,
        portfolio=portfolio(scored, plans.model),
        follower_rule=portfolio(scored, plans.follower_rule),
        chosen=candidate_scores(state.bundle, scored, bought, body.explain, [ranked.target]),
        errors=candidate_errors(scored),
    )


def _first_of_each_account(scored: Scored, candidates: list[CandidateIn]) -> Scored:
    """A portfolio buys an account once: a repeated account_id becomes an error entry.

    The first occurrence is the candidate; the errors stay in request order.
    """
    first: dict[str, int] = {}
    repeats: list[CandidateError] = []
    for i, c in enumerate(candidates):
        if c.account_id in first:
            repeats.append(
                CandidateError(
                    i,
                    c.account_id,
                    f"repeats account_id {c.account_id!r} of candidates[{first[c.account_id]}]; "
                    "a portfolio buys an account once",
                )
            )
        else:
            first[c.account_id] = i
    kept = scored.take(~np.isin(scored.index, [e.index for e in repeats]))
    kept.errors = sorted([*scored.errors, *repeats], key=lambda e: e.index)
    return kept
