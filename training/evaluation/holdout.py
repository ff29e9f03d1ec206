"""`evaluate`: a bundle judged on held-out campaigns, model and baselines side by side.

The later campaigns of a `TimeSplit` are scored with the bundle's feature state and
boosters (fitted on the earlier ones only), and every policy's predictions go through
`training.evaluation.metrics.evaluate_target`. The same predictions choose the intervals of
the bundle refitted on everything (`Holdout.tuning`): they are the only predictions
of rows its boosters never saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.engine import Tables, as_tables
from features.io import Dataset
from training.artifacts.bundle import ModelBundle, TargetModel
from training.evaluation.metrics import Evaluation, evaluate_target
from training.evaluation.split import TimeSplit, time_split
from training.fitting import TrainConfig, Tuning, power_of
from training.learners.boosters import followers_frame, model_frame
from training.learners.intervals import calibrate

__all__ = ["Holdout", "evaluate", "holdout_split", "policy_predictions"]

Floats = npt.NDArray[np.float64]


def policy_predictions(
    model: TargetModel, table: pd.DataFrame, cost: pd.Series
) -> dict[str, Floats]:
    """Each policy's prediction of one target for the rows of a feature table.

    Takes a fitted `TargetModel`, `FeatureBuilder.transform` rows and their costs;
    returns {"model", "followers", "heuristic"} arrays aligned with the rows.
    """
    cost = cost.reset_index(drop=True)
    return {
        "model": np.asarray(model.booster.predict(model_frame(table)), dtype=np.float64),
        "followers": np.asarray(
            model.followers.predict(followers_frame(table, cost)), dtype=np.float64
        ),
        "heuristic": model.heuristic.predict(table),
    }


def holdout_split(data: Dataset | Tables, config: TrainConfig) -> TimeSplit:
    """The split `train` judges on: the latest `validation_share` of the campaigns validate.

    Only placements whose attribution window had closed when the data stands (its
    latest observed event, or `config.until`) take part: a later outcome is still
    accruing. Raises TrainingError when there are too few campaigns to split.
    """
    source = as_tables(data)
    return time_split(
        source.placements,
        list(config.targets),
        config.validation_share,
        config.window_days,
        source.as_of(config.until),
    )


@dataclass
class Holdout:
    """Metrics per target on the later campaigns, with the predictions they came from."""

    evaluations: dict[str, Evaluation]
    coverage: dict[str, float]
    """Interval coverage: calibrated on half the later campaigns, measured on the other."""
    predictions: dict[str, dict[str, Floats]] = field(repr=False)
    outcomes: dict[str, Floats] = field(repr=False)
    table: pd.DataFrame = field(repr=False)
    """The later placements' feature rows."""

    def tuning(self, bundle: ModelBundle) -> Tuning:
        """What a refit on everything keeps: `bundle`'s rounds, intervals from these rows."""
        return Tuning(
            rounds={
                t: (m.booster.current_iteration(), m.followers.current_iteration())
                for t, m in bundle.models.items()
            },
            intervals={
                t: calibrate(self.outcomes[t], self.predictions[t]["model"], power_of(t))
                for t in bundle.models
            },
            coverage=dict(self.coverage),
        )


def evaluate(
    bundle: ModelBundle,
    data: Dataset | Tables,
    split: TimeSplit,
    *,
    seed: int = 0,
    budget_share: float = 0.3,
    truth: pd.DataFrame | None = None,
) -> Holdout:
    """Score `split.valid` with `bundle` and compare model and baselines on it.

    Takes a bundle fitted on what was known at `split.cutoff`, the data it was
    fitted from, the split, the bootstrap seed, the budget share and, for simulated
    data, the expected outcomes (`truth.parquet`). Returns a `Holdout`.
    """
    source = as_tables(data)
    valid = split.valid.reset_index(drop=True)
    table = source.transform(bundle.builder, split.valid)
    evaluations: dict[str, Evaluation] = {}
    coverage: dict[str, float] = {}
    predictions: dict[str, dict[str, Floats]] = {}
    outcomes: dict[str, Floats] = {}
    # The simulator's expected outcomes of the later placements, in their order: one join.
    known = None
    if truth is not None:
        known = valid[["placement_id"]].merge(truth, on="placement_id", how="left")
    for target, model in bundle.models.items():
        predictions[target] = policy_predictions(model, table, valid["cost"])
        outcomes[target] = valid[target].to_numpy(dtype=float)
        frame = pd.DataFrame(
            {
                "placement_id": valid["placement_id"].to_numpy(),
                "campaign_id": valid["campaign_id"].to_numpy(),
                "cost": valid["cost"].to_numpy(dtype=float),
                "followers": table["reach_followers"].fillna(0.0).to_numpy(),
                target: outcomes[target],
            }
        )
        expected = None if known is None else known[target].to_numpy(dtype=float)
        power = power_of(target)
        evaluations[target] = evaluate_target(
            target, frame, predictions[target], power, seed, budget_share, expected
        )
        coverage[target] = _coverage(
            valid["campaign_id"], outcomes[target], predictions[target]["model"], power
        )
    return Holdout(evaluations, coverage, predictions, outcomes, table)


def _coverage(campaign: pd.Series, y: Floats, pred: Floats, power: float) -> float:
    """Calibrate on half of the later campaigns, measure on the other half, and back."""
    ids = np.sort(campaign.unique())
    half = campaign.isin(ids[::2]).to_numpy()
    if half.all() or not half.any():
        return float("nan")
    a = calibrate(y[half], pred[half], power).coverage(y[~half], pred[~half])
    b = calibrate(y[~half], pred[~half], power).coverage(y[half], pred[half])
    return float((a * (~half).sum() + b * half.sum()) / len(y))
