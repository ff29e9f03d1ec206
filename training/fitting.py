"""`fit`: a model bundle from data, with nothing written anywhere.

The one place boosters are fitted. `training.pipeline` calls it twice (on the earlier
campaigns to be judged on the later ones, then on everything known with what that
judgement chose), and the backtest once per origin. A data scientist calls it in a
notebook: no MLflow run, no files, no global state; every `TrainConfig` field has a
default.

What is fitted as of a moment `until` (None: everything known):

- the `FeatureBuilder` state (vocabulary, priors) on what was known before `until`;
- per target, LightGBM on every feature and the followers baseline (log followers and
  log cost only) with the same learner, on the placements whose attribution window had
  closed by `until` (the builder's and `training.evaluation.split`'s rule);
- the number of boosting rounds: early stopping on the latest 20% of those campaigns
  (`time_split` within them), then a refit on all of them with that many rounds;
- the engagement heuristic's scale, and an interval calibrated on the stopping rows;
- the price model (`training.learners.price`) on the same rows' costs, its rounds and
  interval chosen on the same stopping rows (the rounds always: they are cheap to choose).

`Tuning` replaces the last steps' choices with ones made elsewhere: `train` passes
the rounds of the earlier fit and intervals calibrated on the later campaigns, the price
model's among them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.builder import FAMILIES
from features.contract import in_outcome_order
from features.engine import Tables, as_tables
from features.io import Dataset
from training.artifacts.bundle import ModelBundle, TargetModel
from training.config import TrainConfig
from training.errors import TrainingError
from training.evaluation.split import MIN_CAMPAIGNS, time_split
from training.learners.boosters import (
    HeuristicBaseline,
    RoundProgress,
    fit_booster,
    followers_frame,
    model_frame,
    params_for,
)
from training.learners.intervals import ConformalInterval, calibrate
from training.learners.price import fit_price
from training.learners.sparse import kept_targets, too_few_reason

__all__ = [
    "INNER_VALIDATION_SHARE",
    "Refit",
    "TrainConfig",
    "Tuning",
    "fit",
    "local_refit",
    "outcomes_known",
    "power_of",
]

INNER_VALIDATION_SHARE = 0.2
"""Share of the training campaigns (the latest) whose placements choose the number of rounds."""

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Tuning:
    """Choices made on held-out campaigns: rounds per target (model, followers), intervals,
    and the price model's log-scale interval quantiles (low, high; None: its own)."""

    rounds: dict[str, tuple[int, int]]
    intervals: dict[str, ConformalInterval]
    coverage: dict[str, float]
    price_interval: tuple[float, float] | None = None


Refit = Callable[[pd.DataFrame, pd.Series, dict[str, Any], int, RoundProgress | None], Any]
"""Fits a booster with a given number of rounds: (x, y, params, rounds, on_round) ->
lgb.Booster. `on_round` (None: nobody asks) is told the rounds as they run where they run
in this process (`local_refit`); a refit whose rounds run elsewhere (a Dask cluster)
ignores it."""


def local_refit(
    x: pd.DataFrame,
    y: pd.Series,
    params: dict[str, Any],
    rounds: int,
    on_round: RoundProgress | None = None,
) -> Any:
    """The `Refit` of this machine: `fit_booster` with exactly `rounds` rounds, told to
    `on_round` as they run."""
    return fit_booster(x, y, params, rounds=rounds, on_round=on_round)


def power_of(target: str) -> float:
    """The Tweedie power of a target's deviance and intervals: 1.5 for revenue, else Poisson."""
    return 1.5 if target == "revenue" else 1.0


def outcomes_known(
    placements: pd.DataFrame, targets: list[str], window_days: int, by: pd.Timestamp
) -> pd.DataFrame:
    """Placements with outcomes for `targets` whose attribution window closed by `by`.

    The rule every fit learns from: an outcome still accruing at `by` was not known then.
    """
    done = placements.dropna(subset=targets)
    known: pd.DataFrame = done[done["posted_at"] + pd.Timedelta(days=window_days) <= by]
    return known


def _stopping_masks(
    rows: pd.DataFrame, targets: list[str], window_days: int
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Rows to fit on and rows to stop early on: the training campaigns' own latest ones."""
    inner = time_split(rows, targets, INNER_VALIDATION_SHARE, window_days)
    ids = rows["placement_id"]
    return (
        ids.isin(inner.train["placement_id"]).to_numpy(),
        ids.isin(inner.valid["placement_id"]).to_numpy(),
    )


def fit(
    data: Dataset | Tables,
    config: TrainConfig = TrainConfig(),  # frozen: one shared default is safe
    *,
    until: pd.Timestamp | None = None,
    tuning: Tuning | None = None,
    refit: Refit = local_refit,
    progress: Callable[[str], None] = lambda _: None,
) -> ModelBundle:
    """Fit the feature state, a booster and two baselines per target and the price model;
    return the bundle.

    Takes a validated `Dataset` (or a `Tables`, the Dask engine's), the
    configuration, the moment to fit as of (None: everything known at
    `config.until`), optionally the rounds and intervals chosen on held-out campaigns,
    how a booster is refitted (this machine by default) and a callback told each step
    (a skipped target's warning starts with `training.learners.sparse.WARNING`; a
    booster's rounds, where they run here, as `Round 10 of 87: boosting clicks`, at
    most five times per booster: `training.learners.boosters.RoundProgress`). Returns a
    `ModelBundle` that predicts with intervals; it writes nothing and logs nothing.
    Raises TrainingError with a plain sentence when too few outcomes are known.
    """
    config.check()
    # A dataset is cut at `config.until` here too, as `train` cuts it: nothing from then on
    # may shape the feature state.
    source = as_tables(data.known_until(config.until) if isinstance(data, Dataset) else data)
    by = until if until is not None else source.as_of(config.until)
    # The contract's order, whatever order they were asked in: the bundle's models, its
    # predictions' columns and every result built from them list targets this way.
    asked = list(in_outcome_order(tuning.rounds if tuning is not None else config.targets))
    rows = outcomes_known(source.placements, asked, config.window_days, by)
    if rows["campaign_id"].nunique() < MIN_CAMPAIGNS:
        # A fit as of a cut-off (the held-out or backtest campaigns begin there) cannot be
        # helped by waiting: only earlier campaigns, or a window that closes sooner, can.
        moment = "the moment the data stands at" if until is None else "the fit's cut-off"
        reason = too_few_reason(source.placements, asked, config.window_days, by, moment)
        remedy = (
            "Add past campaigns with their outcomes."
            if until is None
            else "Add earlier campaigns, or pass a shorter --window if outcomes are complete "
            "sooner."
        )
        raise TrainingError(
            f"Fitting needs placements with outcomes ({', '.join(asked)}) in at least "
            f"{MIN_CAMPAIGNS} campaigns whose {config.window_days}-day attribution window had "
            f"closed by {by.date()}; found {rows['campaign_id'].nunique()}"
            + (f", because {reason}." if reason else ".")
            + ("" if until is None and reason else f" {remedy}")
        )
    builder = source.fit(config.window_days, until)
    table = source.transform(builder, rows)
    rows = rows.reset_index(drop=True)
    cost = rows["cost"]
    masks = None
    if tuning is None:
        masks = _stopping_masks(rows, asked, config.window_days)
        targets, skipped = kept_targets(rows[asked][masks[0]], asked)
        for warning in skipped:
            progress(warning)
    else:
        targets = asked
    models: dict[str, TargetModel] = {}
    for target in targets:
        if tuning is None:  # early stopping first: how many rounds is not known yet
            progress(f"Boosting {target}: choosing the number of rounds by early stopping")
        counted = RoundProgress(progress, f"boosting {target}")
        models[target] = _fit_target(
            target, config.seed, table, rows, cost, masks, tuning, refit, counted
        )
    # Unannounced, as the followers baselines are: one small booster, fitted in a moment.
    if masks is None:
        masks = _stopping_masks(rows, asked, config.window_days)
    price = fit_price(table, cost, *masks, seed=config.seed)
    if price is not None and tuning is not None and tuning.price_interval is not None:
        price = replace(price, low=tuning.price_interval[0], high=tuning.price_interval[1])
    return ModelBundle(
        builder=builder,
        models=models,
        metadata={
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "data_digest": source.digest(),
            "targets": targets,
            "seed": config.seed,
            "feature_families": list(FAMILIES),
        },
        price=price,
    )


def _fit_target(
    target: str,
    seed: int,
    table: pd.DataFrame,
    rows: pd.DataFrame,
    cost: pd.Series,
    masks: tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]] | None,
    tuning: Tuning | None,
    refit: Refit,
    counted: RoundProgress,
) -> TargetModel:
    """One target's booster, followers baseline, heuristic and interval; the model's
    refit tells `counted` its rounds (the followers baseline's two features fit in a
    moment, unannounced)."""
    params = params_for(target, seed)
    y = rows[target]
    inputs = (model_frame(table), followers_frame(table, cost))
    told = (counted, None)
    if tuning is not None:
        boosters = [
            refit(x, y, params, n, on_round)
            for x, n, on_round in zip(inputs, tuning.rounds[target], told, strict=True)
        ]
        interval, coverage = tuning.intervals[target], tuning.coverage[target]
    else:
        assert masks is not None
        fit_rows, stop_rows = masks
        boosters, stopped_pred = [], np.empty(0)
        for x, on_round in zip(inputs, told, strict=True):
            stopped = fit_booster(
                x[fit_rows], y[fit_rows], params, valid=(x[stop_rows], y[stop_rows])
            )
            if not boosters:  # the model's own out-of-sample predictions calibrate its interval
                stopped_pred = np.asarray(stopped.predict(x[stop_rows]), dtype=np.float64)
            boosters.append(refit(x, y, params, stopped.best_iteration, on_round))
        stop_y = y[stop_rows].to_numpy(dtype=float)
        interval, coverage = calibrate(stop_y, stopped_pred, power_of(target)), float("nan")
    return TargetModel(
        target=target,
        booster=boosters[0],
        followers=boosters[1],
        heuristic=HeuristicBaseline.fit(table, y),
        interval=interval,
        coverage=coverage,
    )
