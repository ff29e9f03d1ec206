"""The learners: one LightGBM model per action, and the two baselines beside it.

- model: every feature family, an objective suited to the target (Poisson for
  counts, Tweedie for revenue, whose zeros and heavy tail a Poisson fits badly);
- followers: the same learner on log followers and log cost only, the rule the
  market prices by, given the same chance to fit the data;
- heuristic: followers times median engagement rate ("estimated reach", what
  vendors sell), scaled to the target's mean on the training fold.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd

from features.builder import FEATURES
from training.config import check_targets

__all__ = [
    "FOLLOWER_FEATURES",
    "HeuristicBaseline",
    "RoundProgress",
    "check_targets",
    "fit_booster",
    "follower_columns",
    "followers_frame",
    "heuristic_score",
    "model_frame",
    "params_for",
    "tree_params",
]

FOLLOWER_FEATURES = ("log_followers", "log_cost")
MAX_ROUNDS = 2000
EARLY_STOPPING = 50
ROUND_UPDATES = 5
"""At most this many progress messages per booster: `train` fits each target's model twice
(on the earlier campaigns, then on everything), so a log gets about ten lines per target."""

Floats = npt.NDArray[np.float64]


def params_for(target: str, seed: int) -> dict[str, Any]:
    """LightGBM parameters for `target`: deterministic, one thread, a count objective."""
    params = tree_params(seed)
    if target == "revenue":
        params |= {"objective": "tweedie", "tweedie_variance_power": 1.5}
    else:
        params |= {"objective": "poisson"}
    return params


def tree_params(seed: int) -> dict[str, Any]:
    """Every learner's LightGBM parameters but the objective (the price model's too)."""
    return {
        # 0.1 within depth 6, not 0.03 unbounded: on the demo world the budget metric is the
        # same within its bootstrap noise (clicks per unit cost 0.158 against 0.158) with a
        # quarter of the trees (279 against 1,081 over four targets), and every prediction
        # and TreeSHAP explanation the API computes costs in proportion to trees x depth.
        "learning_rate": 0.1,
        "max_depth": 6,
        "num_leaves": 15,
        "min_data_in_leaf": 20,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "verbose": -1,
        # One thread: placements are few (thousands), where OpenMP's thread start-up and
        # spinning cost more than they save, and one thread keeps runs reproducible.
        "num_threads": 1,
        "deterministic": True,
        "force_row_wise": True,
        "seed": seed,
    }


class RoundProgress:
    """A LightGBM callback that tells `progress` how far a booster's rounds have got.

    Takes the layers' `progress(message)` callback and what is being boosted
    ("boosting clicks"); before a round begins it may say `Round 10 of 87: boosting
    clicks` (the tenth has begun, nine are done), the form the CLI's progress bar
    counts. It speaks before the first round and then every fifth of the rounds, at
    most `ROUND_UPDATES` times, so that a log (not a terminal) gets a few lines per
    booster rather than one per round.
    """

    before_iteration = True  # LightGBM calls it before each round, so round 1 is announced
    order = 0  # LightGBM sorts callbacks by `order`

    def __init__(self, progress: Callable[[str], None], label: str) -> None:
        self.progress = progress
        self.label = label

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        """Report round `env.iteration` if it begins a fifth of the rounds."""
        total = env.end_iteration - env.begin_iteration
        done = env.iteration - env.begin_iteration
        if done % max(1, math.ceil(total / ROUND_UPDATES)) == 0:
            self.progress(f"Round {done + 1} of {total}: {self.label}")


def fit_booster(
    x: pd.DataFrame,
    y: pd.Series,
    params: dict[str, Any],
    valid: tuple[pd.DataFrame, pd.Series] | None = None,
    rounds: int | None = None,
    on_round: RoundProgress | None = None,
) -> lgb.Booster:
    """Fit one booster; with `valid`, stop early on it, else run exactly `rounds` rounds.

    Returns the booster; with early stopping its `best_iteration` is the number of
    rounds to use when refitting on all data. `on_round` is told the rounds of a fit
    with a known number of them (early stopping's total is not known in advance).
    """
    train_set = lgb.Dataset(x, label=y, free_raw_data=False)
    if valid is None:
        return lgb.train(
            params,
            train_set,
            num_boost_round=max(1, rounds or 100),
            callbacks=[] if on_round is None else [on_round],
        )
    valid_set = lgb.Dataset(valid[0], label=valid[1], reference=train_set)
    return lgb.train(
        params,
        train_set,
        num_boost_round=MAX_ROUNDS,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(EARLY_STOPPING, verbose=False)],
    )


def model_frame(features: pd.DataFrame) -> pd.DataFrame:
    """The model's inputs: every feature, in the declared order."""
    return features[list(FEATURES)].astype(np.float64)


def follower_columns(followers: npt.ArrayLike, cost: npt.ArrayLike) -> Floats:
    """The followers baseline's inputs as an (n, 2) array: log followers, log cost."""
    f = np.asarray(followers, dtype=np.float64)
    c = np.asarray(cost, dtype=np.float64)
    return np.column_stack([np.log1p(f), np.log1p(c)])


def followers_frame(features: pd.DataFrame, cost: pd.Series) -> pd.DataFrame:
    """The followers baseline's inputs: log followers and log cost, nothing else."""
    return pd.DataFrame(
        follower_columns(features["reach_followers"], cost), columns=list(FOLLOWER_FEATURES)
    )


def heuristic_score(features: pd.DataFrame) -> Floats:
    """Followers times median engagement rate: estimated engagements per post."""
    score = features["reach_followers"].to_numpy(dtype=float) * features[
        "resonance_er_median_90d"
    ].to_numpy(dtype=float)
    return np.asarray(np.nan_to_num(score, nan=0.0), dtype=np.float64)


@dataclass(frozen=True)
class HeuristicBaseline:
    """The engagement heuristic, scaled so that its mean matches the target's."""

    scale: float

    @classmethod
    def fit(cls, features: pd.DataFrame, y: pd.Series) -> HeuristicBaseline:
        """Scale = sum of the target over sum of estimated engagements on training rows."""
        total = float(heuristic_score(features).sum())
        return cls(scale=float(y.sum()) / total if total > 0 else 0.0)

    def predict(self, features: pd.DataFrame) -> Floats:
        """Expected target per row."""
        return self.scale * heuristic_score(features)
