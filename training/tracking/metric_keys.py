"""The MLflow metric keys of a training run, grouped so that the UI lists the headline first.

MLflow's UI sorts metric keys alphabetically on a run's Model metrics tab, and lists them
in logged order on its Overview (so `run_metrics` puts the headlines first); a run logs
about 250 of them. The few an analyst opens a run for sit under `headline/<target>/`: the
budget metric (realised actions per unit cost on the later campaigns) of the model and of
the followers baseline, their ratio, and the held-out interval coverage. Every other metric is
`holdout/<target>/<policy>/<metric>`. Bounds of a 95% interval end in `_low` / `_high`.

Runs logged before this grouping used `<target>.<policy>.<metric>`; whatever reads a
metric back (promotion) tries the new key first, then the old one (`read_budget`), so
that a store holding both kinds keeps working.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from training.evaluation.metrics import Evaluation

__all__ = ["BUDGET", "budget_key", "headline_key", "holdout_key", "read_budget", "run_metrics"]

BUDGET = "actions_per_cost"
"""The budget metric: realised actions per unit cost of the budget's portfolio."""

HEADLINE_POLICIES = ("model", "followers")
"""The policies whose budget metric is a headline; the others' stays under `holdout/`."""


def headline_key(target: str, name: str) -> str:
    """`headline/<target>/<name>`: one of the few metrics a run is opened for."""
    return f"headline/{target}/{name}"


def holdout_key(target: str, policy: str, metric: str) -> str:
    """`holdout/<target>/<policy>/<metric>`: a metric of a policy on the later campaigns."""
    return f"holdout/{target}/{policy}/{metric}"


def budget_key(target: str, policy: str) -> str:
    """The metric key of `policy`'s budget metric for `target`, as runs log it now.

    The model's and the followers baseline's are headlines
    (`headline/clicks/model_actions_per_cost`); any other policy's is under `holdout/`.
    """
    if policy in HEADLINE_POLICIES:
        return headline_key(target, f"{policy}_{BUDGET}")
    return holdout_key(target, policy, BUDGET)


def _old_budget_key(target: str, policy: str) -> str:
    """The key runs logged before the grouping: `<target>.<policy>.actions_per_cost`."""
    return f"{target}.{policy}.{BUDGET}"


def read_budget(metrics: Mapping[str, float], target: str, policy: str) -> float | None:
    """`policy`'s budget metric for `target` from a run's metrics, or None when it has none.

    Reads the current key first, then the one older runs logged, so that promotion can
    compare a new version with a champion trained before the keys were grouped.
    """
    for key in (budget_key(target, policy), _old_budget_key(target, policy)):
        if key in metrics:
            return metrics[key]
    return None


def run_metrics(
    evaluations: Mapping[str, Evaluation], coverage: Mapping[str, float]
) -> dict[str, float]:
    """Every finite metric of the held-out evaluation under its grouped key, headlines first.

    Takes the evaluation per target and the interval coverage per target; returns the
    metrics to log, each value with its `_low` / `_high` bounds where they are finite
    (a bound that cannot be computed is left out rather than logged as NaN). The
    `headline/` keys come first, target by target: the run page's metrics table (its
    Overview) lists a run's metrics in the order they were logged, where the Model
    metrics tab sorts them by key.
    """
    metrics: dict[str, float] = {}

    def add(key: str, value: float, low: float = np.nan, high: float = np.nan) -> None:
        for suffix, number in (("", value), ("_low", low), ("_high", high)):
            if np.isfinite(number):
                metrics[key + suffix] = float(number)

    for target, ev in evaluations.items():
        table: pd.DataFrame = ev.table
        for row in table.to_dict("records"):
            policy, metric = str(row["policy"]), str(row["metric"])
            key = (
                budget_key(target, policy)
                if metric == BUDGET
                else holdout_key(target, policy, metric)
            )
            add(key, row["value"], row["low"], row["high"])
        add(headline_key(target, "model_vs_followers"), *ev.budget_ratio)
        add(headline_key(target, "interval_coverage"), coverage[target])
    return dict(sorted(metrics.items(), key=lambda item: not _is_headline(item[0])))


def _is_headline(key: str) -> bool:
    """Whether `key` is one of the few metrics a run is opened for (`headline_key`)."""
    return key.startswith("headline/")
