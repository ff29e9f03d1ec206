"""The simulator's experiment mode: later campaigns run as a live test of two policies.

With `SimulationConfig(experiment=True)` (`influence simulate --experiment`) the later
half of the campaigns are each assigned an arm, `model` or `followers`, and keep only
the candidates their arm picks, so that the whole loop (simulate, train, compare,
analyse the experiment with `influence abtest`) can be shown on one world. The picks
are made with the budget rules of features.budget, those of every policy comparison.
`simulate_world` calls `run_experiment` once every random number is drawn and removes
the placements (and their posts) that no arm kept.
"""

from __future__ import annotations

import hashlib

import numpy as np

from features.budget import follower_priority, greedy_select, value_per_cost

__all__ = [
    "EXPERIMENT_ARMS",
    "EXPERIMENT_SHARE",
    "experiment_arm",
    "experiment_keeps",
    "run_experiment",
]

EXPERIMENT_ARMS: tuple[str, ...] = ("model", "followers")
"""The arms of a simulated experiment, in the order the assignment formula indexes them."""
EXPERIMENT_SHARE = 0.3
"""Share of a campaign's shortlist cost that an experiment arm spends."""


def experiment_arm(campaign_id: str, salt: str) -> str:
    """The arm of a campaign: sha256(salt + campaign_id) as an integer, mod the arms.

    The formula of `training.experiments.assignment.assign_arm` (with arms model,
    followers), written out here because the features layer never imports training; a
    test checks they agree.
    """
    digest = hashlib.sha256((salt + campaign_id).encode("utf-8")).hexdigest()
    return EXPERIMENT_ARMS[int(digest, 16) % len(EXPERIMENT_ARMS)]


def experiment_keeps(
    arm: str, cost: np.ndarray, followers: np.ndarray, expected_clicks: np.ndarray
) -> np.ndarray:
    """What one arm keeps of a campaign's shortlist, as a boolean mask over it.

    Takes the arm (`model` or `followers`) and the shortlist's costs, displayed
    follower counts and true expected clicks; spends `EXPERIMENT_SHARE` of the
    shortlist's summed cost with `features.budget.greedy_select`, the rule every
    policy comparison uses, by `follower_priority` for `followers` and by expected
    clicks per unit cost (`value_per_cost`) for `model`.
    """
    if arm == "followers":
        priority = follower_priority(followers)
    else:
        priority = value_per_cost(expected_clicks, cost)
    return greedy_select(cost, priority, EXPERIMENT_SHARE * float(cost.sum()))


def run_experiment(
    campaign_ids: np.ndarray,
    campaign_of: np.ndarray,
    cost: np.ndarray,
    followers: np.ndarray,
    expected_clicks: np.ndarray,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Which placements the experiment keeps, and each one's arm.

    Takes the campaign ids (in start order) and, per placement, its campaign's number
    (`campaign_of`), cost, displayed follower count and true expected clicks, and the
    world's seed. Returns
    a boolean mask of the placements kept and an object array of arms (None outside
    the experiment).

    Campaigns are numbered in start order; the later half (from campaign n // 2 on) are
    assigned an arm by `experiment_arm` with the salt `simulate-<seed>`. Each arm keeps,
    from its campaign's shortlist, candidates within 30% of the shortlist's summed cost
    (`experiment_keeps`): `followers` the highest displayed follower counts first (the
    market's rule), `model` the highest *true* expected clicks per unit cost first. The
    simulator knows the truth, so the model arm stands in for a good model, not for this
    project's model: it shows what the experiment and its analysis see when one policy
    is better. Earlier campaigns keep every placement and have no arm. No random number
    is drawn here.
    """
    n_c = len(campaign_ids)
    salt = f"simulate-{seed}"
    keep = np.ones(len(campaign_of), dtype=bool)
    arm = np.full(len(campaign_of), None, dtype=object)
    for c in range(n_c // 2, n_c):
        rows = np.flatnonzero(campaign_of == c)
        name = experiment_arm(str(campaign_ids[c]), salt)
        keep[rows] = experiment_keeps(name, cost[rows], followers[rows], expected_clicks[rows])
        arm[rows] = name
    return keep, arm
