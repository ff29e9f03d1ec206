"""The `/rank` use case: candidates and a budget in, the model's portfolio and the follower
rule's out.

One pass, each step once: score the candidates (`serving.scoring`), plan both portfolios
with the budget rules (`features.budget.plan`), shape the answer (`serving.responses`).
No step calls back into another (tests/serving/test_rank.py traces a request).
"""

from __future__ import annotations

import uuid

import numpy as np

from features.budget import OBJECTIVE_TARGETS, plan
from features.builder import FEATURES
from serving import schemas
from serving.errors import ObjectiveError
from serving.responses import candidate_errors, candidate_scores, portfolio
from serving.scoring import CandidateError, CandidateIn, Scored, candidates_from, score
from serving.settings import ServingSettings
from serving.state import ServiceState

__all__ = ["rank"]


def rank(
    body: schemas.RankRequest, state: ServiceState, settings: ServingSettings
) -> schemas.RankResponse:
    """The portfolio within `body.budget` that maximises the objective, beside the follower
    rule's, with the chosen candidates (highest expected objective first) and the errors.

    Raises ObjectiveError (422) when the objective needs a target the model lacks.
    """
    needed = OBJECTIVE_TARGETS[body.objective]
    if needed not in state.targets:
        raise ObjectiveError(
            f"The objective {body.objective!r} needs a {needed} model; this model predicts "
            f"{', '.join(state.targets)}."
        )
    candidates = candidates_from(body.candidates)
    scored = score(state, body.campaign.model_dump(), candidates, settings.max_history_posts)
    scored = _first_of_each_account(scored, candidates)
    followers = scored.x[:, FEATURES.index("reach_followers")]
    plans = plan(body.objective, scored.predictions, scored.cost, followers, body.budget)
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
        chosen=candidate_scores(state.bundle, scored, bought, body.explain, [needed]),
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
