"""The price model judged on later campaigns: its error beside the follower-rate rule's.

The measure is the median absolute percentage error (MdAPE), |estimate - cost| / cost,
the number an analyst reads as "typically off by 18%": a median, so that a few
mispriced mega accounts do not decide it. The baseline prices every account at the
training placements' median cost per follower (`PriceModel.follower_rule`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from training.learners.price import PriceModel

__all__ = ["PriceEvaluation", "evaluate_price"]

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PriceEvaluation:
    """The price model's MdAPE, the follower-rate rule's, and the interval's coverage, on
    `placements` later placements (the ones with followers known)."""

    mdape: float
    mdape_follower_rate: float
    coverage: float
    level: float
    placements: int

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
            f"its {self.level:.0%} interval."
        )


def evaluate_price(model: PriceModel, x: Floats, cost: Floats) -> PriceEvaluation:
    """Judge `model` on feature rows x (`FEATURES` order) and the costs actually paid.

    Rows without followers (nothing known of the account) are left out, as neither the
    model nor the rule has anything to price them on; so are unpaid placements (cost 0),
    whose percentage error has no meaning.
    """
    known = ~np.isnan(model.follower_rule(x)) & (np.asarray(cost, dtype=float) > 0)
    x, cost = x[known], np.asarray(cost, dtype=float)[known]
    estimate, low, high = model.estimate(x)

    def mdape(pred: Floats) -> float:
        return float(np.median(np.abs(pred - cost) / cost)) if cost.size else float("nan")

    inside = (cost >= low) & (cost <= high)
    return PriceEvaluation(
        mdape=mdape(estimate),
        mdape_follower_rate=mdape(model.follower_rule(x)),
        coverage=float(inside.mean()) if cost.size else float("nan"),
        level=model.level,
        placements=int(cost.size),
    )
