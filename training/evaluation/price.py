"""The price model judged on later campaigns: its error beside the follower-rate rule's.

The measure is the median absolute percentage error (MdAPE), |estimate - cost| / cost,
the number an analyst reads as "typically off by 18%": a median, so that a few
mispriced mega accounts do not decide it. The baseline prices every account at the
training placements' median cost per follower (`PriceModel.follower_rule`).

The interval is judged as the outcome models' are (`training.evaluation.holdout`):
calibrated on half of the later campaigns, counted on the other half, and back; and the
interval the refit on everything keeps is calibrated on all of them (`low`, `high`), the
placements nearest in time to the ones it will price.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from training.learners.price import PriceModel

__all__ = ["PriceEvaluation", "evaluate_price"]

Floats = npt.NDArray[np.float64]
Strings = npt.NDArray[np.object_]


@dataclass(frozen=True)
class PriceEvaluation:
    """The price model's MdAPE, the follower-rate rule's, and the interval's coverage, on
    `placements` later paid placements with followers known; `low` and `high`, the log-scale
    interval quantiles calibrated on all of them."""

    mdape: float
    mdape_follower_rate: float
    coverage: float
    level: float
    placements: int
    low: float
    high: float

    def metrics(self) -> dict[str, float]:
        """The MLflow metrics: `price/mdape`, `price/mdape_follower_rate`, `price/coverage`."""
        return {
            "price/mdape": self.mdape,
            "price/mdape_follower_rate": self.mdape_follower_rate,
            "price/coverage": self.coverage,
        }

    def sentence(self) -> str:
        """The result in one plain sentence, as `influence train` prints it."""
        return (
            f"Prices: the price model's estimates are off by {self.mdape:.0%} (median) on the "
            f"{self.placements:,} later placements, the follower rate's by "
            f"{self.mdape_follower_rate:.0%}; {self.coverage:.0%} of the prices fall inside "
            f"its {self.level:.0%} interval (calibrated on the other half of the campaigns)."
        )


def evaluate_price(
    model: PriceModel, x: Floats, cost: Floats, campaign: Strings
) -> PriceEvaluation:
    """Judge `model` on feature rows x (`FEATURES` order), the costs actually paid and each
    row's campaign.

    Rows without followers (nothing known of the account) are left out, as neither the
    model nor the rule has anything to price them on; so are unpaid placements (cost 0),
    whose percentage error has no meaning.
    """
    paid = np.asarray(cost, dtype=float)
    known = ~np.isnan(model.follower_rule(x)) & (paid > 0)
    x, paid, campaign = x[known], paid[known], np.asarray(campaign)[known]
    estimate, _, _ = model.estimate(x)
    log_cost, log_pred = np.log(paid), model.log_price(x)

    def mdape(pred: Floats) -> float:
        return float(np.median(np.abs(pred - paid) / paid)) if paid.size else float("nan")

    whole = model.calibrated(log_cost, log_pred) if paid.size else model
    return PriceEvaluation(
        mdape=mdape(estimate),
        mdape_follower_rate=mdape(model.follower_rule(x)),
        coverage=_coverage(model, log_cost, log_pred, campaign),
        level=model.level,
        placements=int(paid.size),
        low=whole.low,
        high=whole.high,
    )


def _coverage(model: PriceModel, log_cost: Floats, log_pred: Floats, campaign: Strings) -> float:
    """Calibrate on half of the later campaigns, count hits on the other half, and back."""
    ids = np.unique(campaign)
    half = np.isin(campaign, ids[::2])
    if half.all() or not half.any():
        return float("nan")
    hits = 0
    for fit_on in (half, ~half):
        tuned = model.calibrated(log_cost[fit_on], log_pred[fit_on])
        residual = log_cost[~fit_on] - log_pred[~fit_on]
        hits += int(((residual >= tuned.low) & (residual <= tuned.high)).sum())
    return hits / log_cost.size
