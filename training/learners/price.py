"""The price model: what an account would cost to book, for candidates without a quote.

Learned from past placements' costs, on the features a placement has before any
campaign is known: the reach and resonance families (followers, growth, views,
engagement rates, sponsored share). Relevance and track record are left out: a price
is the account's, not the campaign's, and the track record's per-cost rates would
let a past price leak in through a ratio. The accounts table's optional `platform`
is not a feature of the builder, so it is not one here either.

One LightGBM regression on log(cost), with the rounds chosen by early stopping on the
training campaigns' latest ones (the rows that stop the outcome models), refitted on
all of them. exp of its prediction estimates the median price. The 90% interval is
split conformal on the same stopping rows: quantiles of log(cost) minus the
early-stopped model's out-of-sample prediction, so the bounds scale with the price
(one model and two numbers, cheaper than three quantile boosters). `train` then gives the
model it ships an interval calibrated on the later campaigns (`calibrated`), as it does the
outcome models'.

Beside it, the baseline an analyst would use: the median cost per follower of the
training placements, times followers (`follower_rate`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd

from features.builder import FEATURES, family_of
from training.learners.boosters import fit_booster, tree_params
from training.learners.intervals import calibrate

__all__ = ["PRICE_FAMILIES", "PRICE_FEATURES", "PriceModel", "fit_price", "price_params"]

PRICE_FAMILIES = ("reach", "resonance")
PRICE_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if family_of(f) in PRICE_FAMILIES)
"""The price model's inputs, in `FEATURES` order."""
_COLUMNS = np.array([FEATURES.index(f) for f in PRICE_FEATURES], dtype=np.intp)
_FOLLOWERS = FEATURES.index("reach_followers")
LEVEL = 0.9
MIN_PRICED = 50
"""Fewer paid placements than this to fit on (or fewer than a tenth of it to stop on), and
no price model is fitted: candidates must then quote their cost."""

Floats = npt.NDArray[np.float64]


def price_params(seed: int) -> dict[str, Any]:
    """LightGBM parameters for log(cost): the outcome models' trees, an L2 objective."""
    return tree_params(seed) | {"objective": "regression"}


@dataclass(frozen=True)
class PriceModel:
    """A fitted price model: the booster on log(cost), its log-scale interval quantiles
    (`low` <= 0 <= `high` usually), their nominal `level`, and the follower-rate baseline's
    cost per follower."""

    booster: lgb.Booster
    low: float
    high: float
    level: float
    follower_rate: float

    def log_price(self, x: Floats) -> Floats:
        """The booster's log(cost) per row of x ((n, len(FEATURES)), `FEATURES` order)."""
        if not len(x):
            return np.empty(0)
        return np.asarray(self.booster.predict(x[:, _COLUMNS], num_threads=1), dtype=float)

    def estimate(self, x: Floats) -> tuple[Floats, Floats, Floats]:
        """Estimated price, low and high bounds per row of x ((n, len(FEATURES)), `FEATURES`
        order, as `ModelBundle.predict_arrays` takes it); each rounded to the cent, as prices
        are quoted."""
        log_cost = self.log_price(x)
        return tuple(  # type: ignore[return-value]
            np.maximum(np.round(np.exp(log_cost + shift), 2), 0.01)
            for shift in (0.0, self.low, self.high)
        )

    def follower_rule(self, x: Floats) -> Floats:
        """The baseline's price per row: the training placements' median cost per follower
        times the row's followers."""
        return np.asarray(self.follower_rate * x[:, _FOLLOWERS], dtype=np.float64)

    def calibrated(self, log_cost: Floats, log_pred: Floats) -> PriceModel:
        """This model with its interval calibrated on other rows' log costs and this kind of
        model's log predictions of them (split conformal, the same level)."""
        interval = calibrate(log_cost, log_pred, power=0.0, level=self.level)
        return replace(self, low=interval.low, high=interval.high)

    def describe(self, booster_file: str) -> dict[str, Any]:
        """This model's entry in a bundle's description (the booster's text goes to
        `booster_file`)."""
        return {
            "booster": booster_file,
            "features": list(PRICE_FEATURES),
            "low": self.low,
            "high": self.high,
            "level": self.level,
            "follower_rate": self.follower_rate,
        }

    @classmethod
    def from_description(cls, entry: dict[str, Any], booster_text: str) -> PriceModel:
        """The model `describe` wrote; raises ValueError when its features are not this
        version's (a bundle from another feature set cannot price with them)."""
        if entry.get("features") != list(PRICE_FEATURES):
            raise ValueError("its price model was fitted on other features than this version's")
        numbers = [entry[k] for k in ("low", "high", "level", "follower_rate")]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
            raise ValueError("its price model's interval and rate must be numbers")
        low, high, level, rate = (float(v) for v in numbers)
        return cls(lgb.Booster(model_str=booster_text), low, high, level, rate)


def fit_price(
    table: pd.DataFrame,
    cost: pd.Series,
    fit_rows: npt.NDArray[np.bool_],
    stop_rows: npt.NDArray[np.bool_],
    seed: int,
) -> PriceModel | None:
    """Fit the price model on feature rows `table` (`FEATURES` columns) and their costs.

    Early stopping on `stop_rows` (the latest training campaigns, not used to fit) chooses
    the rounds and calibrates the interval; the model is then refitted on every row. Only
    paid placements count (a cost of 0, a gifted product, is no price). Returns None when
    fewer than `MIN_PRICED` of them are there to fit on.
    """
    paid = cost.to_numpy(dtype=float) > 0
    fit_rows, stop_rows = fit_rows[paid], stop_rows[paid]
    if fit_rows.sum() < MIN_PRICED or stop_rows.sum() < MIN_PRICED // 10:
        return None
    table = table.reset_index(drop=True)[paid].reset_index(drop=True)
    paid_cost = cost.to_numpy(dtype=float)[paid]
    x = table[list(PRICE_FEATURES)].astype(np.float64)
    y = pd.Series(np.log(paid_cost))
    params = price_params(seed)
    stopped = fit_booster(x[fit_rows], y[fit_rows], params, valid=(x[stop_rows], y[stop_rows]))
    out_of_sample = np.asarray(stopped.predict(x[stop_rows]), dtype=float)
    # power 0: plain residuals of log(cost), i.e. a price interval proportional to the price.
    interval = calibrate(y[stop_rows].to_numpy(), out_of_sample, power=0.0, level=LEVEL)
    booster = fit_booster(x, y, params, rounds=stopped.best_iteration)
    followers = table["reach_followers"].to_numpy(dtype=float)
    known = followers > 0
    rate = float(np.median(paid_cost[known] / followers[known])) if known.any() else 0.0
    return PriceModel(booster, interval.low, interval.high, LEVEL, rate)
