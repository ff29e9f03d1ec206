"""What each selection policy buys with the same budget on the backtest's held-out campaigns.

Every policy is an order over a campaign's real candidates, and each spends the same
budget (`budget_share` of the candidates' summed cost) greedily in its order
(`features.budget.spend_per_campaign`):

- `model`: predicted value per unit cost, from the backtest's models;
- `followers`: the followers baseline (LightGBM on log followers and log cost) the same way;
- `heuristic`: estimated engagements (followers times engagement rate) per unit cost;
- `follower_rule`: biggest accounts first, the market's rule, whatever they cost;
- `random`: a random order, averaged over `random_draws` seeded draws;
- `truth`: expected value per unit cost from `truth.parquet` (simulated data only): the best
  any policy could do.

The headline metric is realised actions (or revenue) per unit cost spent, pooled over
campaigns. Every interval is a 95% bootstrap over campaigns, with the same resampled
campaigns as `training.evaluation.metrics` (its seed, its number of resamples), so that paired
differences (model minus each other policy, and each policy minus the follower rule) are
computed within each resample. The breakdown by follower tier uses the industry's usual
cut-offs on displayed followers before the placement: nano < 10k, micro 10k-100k,
mid 100k-500k, macro 500k-1M, mega >= 1M.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.budget import follower_priority, spend_per_campaign, value_per_cost
from features.profile import TIERS, tier_index
from training.backtest.rolling import Backtest, BacktestConfig
from training.evaluation.metrics import BOOTSTRAP_RESAMPLES, evaluate_target, percentile_interval
from training.units import one_action

__all__ = [
    "POLICIES",
    "POLICY_LABELS",
    "TIERS",
    "Comparison",
    "compare_policies",
    "one_action",
]

POLICIES = ("model", "followers", "heuristic", "follower_rule", "random", "truth")
POLICY_LABELS = {
    "model": "model",
    "followers": "followers baseline",
    "heuristic": "engagement heuristic",
    "follower_rule": "follower-count rule (biggest first)",
    "random": "random",
    "truth": "truth (simulated)",
    "candidates": "all candidates",
}
GAIN_GRID = np.linspace(0.0, 1.0, 51)
CALIBRATION_BINS = 10

Floats = npt.NDArray[np.float64]


@dataclass
class Comparison:
    """The policies side by side: a tidy table and the curves the plots draw.

    `table` columns: target, policy, tier ("all" when pooled), metric, value, low, high.
    `gains[target]`: column `budget_share` and one column per policy, the share of all
    realised actions captured when that share of each campaign's cost is spent in the
    policy's order. `calibration[target]`: per bin of the model's prediction, the mean
    prediction, mean realised value (and mean truth when known) and the placements.
    """

    table: pd.DataFrame
    gains: dict[str, pd.DataFrame]
    calibration: dict[str, pd.DataFrame]

    def value(self, target: str, policy: str, metric: str, tier: str = "all") -> tuple[float, ...]:
        """(value, low, high) of one row; NaNs when absent."""
        t = self.table
        row = t[(t["target"] == target) & (t["policy"] == policy)]
        row = row[(row["metric"] == metric) & (row["tier"] == tier)]
        if row.empty:
            return (float("nan"),) * 3
        return tuple(float(row[c].iloc[0]) for c in ("value", "low", "high"))


def _ratio(a: Floats, b: Floats) -> Floats:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(a / b, dtype=np.float64)


def _choices(
    frame: pd.DataFrame, priority: Floats | list[Floats], share: float
) -> list[npt.NDArray[np.bool_]]:
    budget = frame[["placement_id", "campaign_id", "cost"]].copy()
    masks = []
    for p in priority if isinstance(priority, list) else [priority]:
        budget["_priority"] = p
        masks.append(spend_per_campaign(budget, "_priority", share=share).to_numpy())
    return masks


def _unbounded_interval(samples: Floats) -> tuple[float, float]:
    """The 95% interval of samples that may be infinite (a ratio over a resample with
    nothing in it): each bound is a sample, infinity included; undefined ones (0/0) left out.
    """
    defined = samples[~np.isnan(samples)]
    if defined.size == 0:
        return float("nan"), float("nan")
    low = np.quantile(defined, 0.025, method="lower")
    high = np.quantile(defined, 0.975, method="higher")
    return float(low), float(high)


def _gain(groups: list[npt.NDArray[np.intp]], cost: Floats, y: Floats, priority: Floats) -> Floats:
    """Share of realised `y` captured at each budget share of GAIN_GRID, campaigns pooled."""
    captured = np.zeros_like(GAIN_GRID)
    for rows in groups:
        order = rows[np.argsort(-priority[rows], kind="stable")]
        spent = np.concatenate([[0.0], np.cumsum(cost[order])]) / cost[order].sum()
        captured += np.interp(GAIN_GRID, spent, np.concatenate([[0.0], np.cumsum(y[order])]))
    return np.asarray(captured / max(float(y.sum()), 1e-12))


def _calibration(pred: Floats, y: Floats, truth: Floats | None) -> pd.DataFrame:
    bins = pd.qcut(pd.Series(pred).rank(method="first"), CALIBRATION_BINS, labels=False)
    frame = pd.DataFrame({"bin": bins.to_numpy() + 1, "predicted": pred, "realised": y})
    if truth is not None:
        frame["truth"] = truth
    table = frame.groupby("bin").mean()
    table["placements"] = frame.groupby("bin").size()
    return table.reset_index()


def _budget_rows(
    target: str, bought: dict[str, tuple[Floats, Floats]], counts: Floats
) -> list[dict[str, object]]:
    """Rows of the budget metrics from actions and spend per (tier, campaign) per policy."""
    rows: list[dict[str, object]] = []

    def add(
        policy: str,
        tier: str,
        metric: str,
        value: float,
        samples: Floats,
        bounds: tuple[float, float] | None = None,
    ) -> None:
        low, high = percentile_interval(samples) if bounds is None else bounds
        rows.append(
            {"target": target, "policy": policy, "tier": tier, "metric": metric}
            | {"value": value, "low": low, "high": high}
        )

    pooled: dict[str, tuple[float, Floats]] = {}
    for p, (actions, spend) in bought.items():
        a, s = actions.sum(0), spend.sum(0)
        pooled[p] = (float(_ratio(a.sum(), s.sum())), _ratio(counts @ a, counts @ s))
        if p != "candidates":
            add(p, "all", "actions_per_cost", *pooled[p])
    model, rule = pooled["model"], pooled["follower_rule"]
    for p, (value, samples) in pooled.items():
        if p not in ("model", "candidates"):
            add(p, "all", "model_minus_policy", model[0] - value, model[1] - samples)
        if p not in ("follower_rule", "candidates"):
            add(p, "all", "minus_follower_rule", value - rule[0], samples - rule[1])
            # The plain-words form: "1.4 times what the follower rule bought per unit cost".
            times = float(_ratio(np.asarray(value), np.asarray(rule[0])))
            ratios = _ratio(samples, rule[1])
            add(p, "all", "times_follower_rule", times, ratios, _unbounded_interval(ratios))
        if p != "candidates":
            # What an analyst budgets with: the cost of one action (or one unit of revenue).
            # 1/x turns the rate's interval around; a resample that bought nothing is an
            # infinite cost, which widens the interval rather than being left out.
            per_action = float(_ratio(np.asarray(1.0), np.asarray(value)))
            costs = _ratio(np.ones_like(samples), samples)
            add(p, "all", "cost_per_action", per_action, costs, _unbounded_interval(costs))
    for p, (actions, spend) in bought.items():
        total = spend.sum(0)
        for t, (tier, _) in enumerate(TIERS):
            a, s = actions[t], spend[t]
            rate = float(_ratio(a.sum(), s.sum()))
            add(p, tier, "actions_per_cost", rate, _ratio(counts @ a, counts @ s))
            share = float(_ratio(s.sum(), total.sum()))
            add(p, tier, "spend_share", share, _ratio(counts @ s, counts @ total))
    return rows


def compare_policies(backtest: Backtest, config: BacktestConfig) -> Comparison:
    """Spend every policy's budget on the held-out campaigns and compare what it bought.

    Returns the tidy table (the metrics of `training.evaluation.metrics` for the three learned
    policies, then for every policy the budget metric, the paired differences and the
    tier breakdown), the gain curves and the model's calibration per target.
    """
    frame = backtest.frame.sort_values(["campaign_id", "placement_id"], kind="stable")
    order = frame.index.to_numpy()
    frame = frame.reset_index(drop=True)
    cost = frame["cost"].to_numpy(dtype=float)
    campaigns, codes = np.unique(frame["campaign_id"].to_numpy(), return_inverse=True)
    n_c, n_t = campaigns.size, len(TIERS)
    groups = [np.flatnonzero(codes == c) for c in range(n_c)]
    # The resamples of training.evaluation.metrics: same seed, same first draw, same campaigns.
    draws = np.random.default_rng(config.seed).integers(0, n_c, size=(BOOTSTRAP_RESAMPLES, n_c))
    counts = np.zeros((BOOTSTRAP_RESAMPLES, n_c))
    np.add.at(counts, (np.repeat(np.arange(BOOTSTRAP_RESAMPLES), n_c), draws.ravel()), 1.0)
    cell = tier_index(frame["followers"]) * n_c + codes

    def sums(values: Floats) -> Floats:
        per_cell = np.bincount(cell, weights=values, minlength=n_t * n_c)
        return np.asarray(per_cell, dtype=np.float64).reshape(n_t, n_c)

    # Orders that do not depend on the target: spend once, count each target's actions.
    followers = follower_priority(frame["followers"])
    rng = np.random.default_rng([config.seed, 1])
    random = [rng.random(len(frame)) for _ in range(config.random_draws)]
    shared = {
        "follower_rule": _choices(frame, followers, config.budget_share),
        "random": _choices(frame, random, config.budget_share),
    }
    rows: list[dict[str, object]] = []
    gains: dict[str, pd.DataFrame] = {}
    calibration: dict[str, pd.DataFrame] = {}
    for target in config.targets_in_order:
        y = frame[target].to_numpy(dtype=float)
        preds = {p: v[order] for p, v in backtest.predictions[target].items()}
        truth = None if backtest.truth is None else backtest.truth[target].to_numpy(float)[order]
        power = 1.5 if target == "revenue" else 1.0
        ev = evaluate_target(target, frame, preds, power, config.seed, config.budget_share, truth)
        learned = ev.table[ev.table["metric"] != "actions_per_cost"]
        rows += [
            {str(k): v for k, v in row.items()}
            for row in learned.assign(target=target, tier="all").to_dict("records")
        ]
        priorities = {p: value_per_cost(v, cost) for p, v in preds.items()}
        if truth is not None:
            priorities["truth"] = value_per_cost(truth, cost)
        masks = {p: _choices(frame, v, config.budget_share) for p, v in priorities.items()}
        masks |= shared
        # Actions and spend per (tier, campaign), averaged over the random draws.
        bought = {
            p: (
                np.mean([sums(np.where(m, y, 0.0)) for m in masks[p]], axis=0),
                np.mean([sums(np.where(m, cost, 0.0)) for m in masks[p]], axis=0),
            )
            for p in POLICIES
            if p in masks
        }
        bought["candidates"] = (sums(y), sums(cost))
        rows += _budget_rows(target, bought, counts)
        curves = {"budget_share": GAIN_GRID}
        for p, v in (*priorities.items(), ("follower_rule", followers)):
            curves[p] = _gain(groups, cost, y, v)
        curves["random"] = np.mean([_gain(groups, cost, y, r) for r in random], axis=0)
        gains[target] = pd.DataFrame(curves)
        calibration[target] = _calibration(preds["model"], y, truth)
    table = pd.DataFrame(rows)[["target", "policy", "tier", "metric", "value", "low", "high"]]
    return Comparison(table, gains, calibration)
