"""Plan an experiment: how many units per arm it needs to detect a lift.

`sample_size` is the normal-approximation formula; `baseline` estimates its inputs (the
control's mean and sd per unit cost) from past campaigns.
"""

from __future__ import annotations

import math

import pandas as pd
from scipy import special  # scipy.stats costs the whole CLI most of a second to import

from training.errors import TrainingError
from training.experiments.analysis import unit_ratios

__all__ = ["baseline", "sample_size"]


def sample_size(
    lift: float, baseline_mean: float, baseline_sd: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Units per arm to detect a relative `lift` of a mean with a two-sided two-sample test.

    Normal approximation: n = 2 (z[1 - alpha/2] + z[power])^2 sd^2 / (lift * mean)^2, rounded
    up. Inputs are the control's mean and sd of the per-unit ratio, for example estimated
    from past campaigns with `baseline`.
    """
    if not 0 < alpha < 1:
        raise TrainingError(f"alpha must be between 0 and 1, got {alpha}.")
    if not 0 < power < 1:
        raise TrainingError(f"power must be between 0 and 1, got {power}.")
    effect = lift * baseline_mean
    if effect == 0 or not baseline_sd > 0:
        raise TrainingError(
            "The lift and the baseline mean must be non-zero and the baseline sd > 0; got lift "
            f"{lift:g}, mean {baseline_mean:g}, sd {baseline_sd:g}."
        )
    z = float(special.ndtri(1 - alpha / 2) + special.ndtri(power))  # normal quantiles
    return math.ceil(2 * (z * baseline_sd / effect) ** 2)


def baseline(
    placements: pd.DataFrame, metric: str, unit: str = "campaign_id"
) -> tuple[float, float, int]:
    """Mean and sd across past units of `metric` per unit cost, and how many units.

    Uses every placement whose `metric` is measured, whatever its arm.
    """
    past = placements[placements[metric].notna()].assign(arm="past")
    ratios = unit_ratios(past, unit, [metric])[metric]
    if len(ratios) < 2:
        raise TrainingError(
            f"Estimating the spread of {metric} per unit cost needs at least two past "
            f"{unit} values with outcomes; found {len(ratios)}."
        )
    return float(ratios.mean()), float(ratios.std(ddof=1)), len(ratios)
