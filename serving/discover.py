"""The `/discover` use case, and the planner's answer: the best accounts per unit cost and
both portfolios, from one `serving.rank.rank_candidates` pass.

`discover` scores every account the served data can describe (within a follower range),
each priced by the model's price model; `answer` shapes any ranked candidates, discovered
or shortlisted, as `DiscoverResponse`, which the planner page (`serving.pages`) shows and
records too.
"""

from __future__ import annotations

import uuid

import numpy as np
import numpy.typing as npt

from serving.plan_schemas import Discovered, DiscoverRequest, DiscoverResponse
from serving.rank import FollowerRange, Ranked, rank_candidates
from serving.responses import candidate_errors, candidate_scores, portfolio
from serving.settings import ServingSettings
from serving.state import ServiceState
from training.artifacts.bundle import ModelBundle

__all__ = ["answer", "discover"]


def discover(
    body: DiscoverRequest, state: ServiceState, settings: ServingSettings
) -> DiscoverResponse:
    """The best known accounts for `body.campaign` by predicted objective per estimated cost,
    and the portfolio within `body.budget` beside the follower rule's.

    Raises ObjectiveError or DiscoveryError (422), as `rank_candidates` does.
    """
    ranked = rank_candidates(
        state,
        body.campaign.model_dump(),
        None,
        body.budget,
        body.objective,
        settings.max_history_posts,
        FollowerRange(body.min_followers, body.max_followers),
    )
    return answer(ranked, state.bundle, state.version, body.limit, body.explain)


def answer(
    ranked: Ranked, bundle: ModelBundle, version: str, limit: int, explain: int
) -> DiscoverResponse:
    """`ranked` as the planner's answer: its best `limit` candidates by objective per unit
    cost, both portfolios with their totals, the first `limit` chosen candidates (highest
    expected objective first; the portfolio names them all) and the errors. The first
    `explain` of the listed candidates, and of the chosen, carry contributions for the
    objective's target. A discovery may buy thousands of accounts: `limit` bounds what is
    described one by one, so the answer's size does not grow with the accounts served."""
    plans, scored = ranked.plans, ranked.scored
    chosen = plans.model.mask
    bought = np.flatnonzero(chosen)[np.argsort(-plans.value[chosen], kind="stable")][:limit]
    best = ranked.order[:limit]
    return DiscoverResponse(
        request_id=uuid.uuid4().hex,
        model_version=version,
        objective=ranked.objective,
        budget=ranked.budget,
        considered=len(scored),
        outside_range=ranked.outside,
        accounts=_listed(ranked, bundle, best, explain),
        portfolio=portfolio(scored, plans.model),
        follower_rule=portfolio(scored, plans.follower_rule),
        times_follower_rule=ranked.times_follower_rule,
        chosen=_listed(ranked, bundle, bought, explain),
        errors=candidate_errors(scored),
    )


def _listed(
    ranked: Ranked, bundle: ModelBundle, rows: npt.NDArray[np.intp], explain: int
) -> list[Discovered]:
    scores = candidate_scores(bundle, ranked.scored, rows, explain, [ranked.target])
    followers = ranked.followers[rows].tolist()
    by_model = ranked.plans.model.mask[rows].tolist()
    by_rule = ranked.plans.follower_rule.mask[rows].tolist()
    # The scores are validated already; their fields are taken as they are.
    return [
        Discovered.model_construct(
            **dict(s), followers=f, chosen_by_model=m, chosen_by_follower_rule=r
        )
        for s, f, m, r in zip(scores, followers, by_model, by_rule, strict=True)
    ]
