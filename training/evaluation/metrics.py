"""Metrics on the later campaigns, model and baselines side by side, with intervals.

Every interval is a 95% bootstrap that resamples whole campaigns: placements of
one campaign share a brief, a brand and a season, so they are not independent.
Metrics that add up per campaign (deviance, MAE, NDCG, the budget metric) are
resampled with one matrix product; rank correlations are recomputed per resample.

The budget metric is the one a brand feels: for each campaign, spend 30% of its
candidates' summed cost greedily by a policy's predicted value per unit cost and
count the realised actions per unit cost of what it bought.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import rankdata

from features.budget import follower_priority, spend_per_campaign, value_per_cost

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "Evaluation",
    "evaluate_target",
    "ndcg_at_k",
    "partial_spearman",
    "percentile_interval",
    "spearman",
]

BOOTSTRAP_RESAMPLES = 500
RANK_RESAMPLES = 200
NDCG_K = 10

Floats = npt.NDArray[np.float64]


def spearman(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Spearman rank correlation (average ranks for ties); NaN when either is constant."""
    return _rank_correlation(_centred_ranks(a), _centred_ranks(b))


def partial_spearman(pred: npt.ArrayLike, y: npt.ArrayLike, z: npt.ArrayLike) -> float:
    """Spearman correlation of `pred` and `y` with the ranks of `z` partialled out.

    With z = log followers: does the prediction know more about the outcome than
    popularity does? Zero means it adds nothing to followers.
    """
    r_pred, r_y, r_z = _centred_ranks(pred), _centred_ranks(y), _centred_ranks(z)
    return _partial(
        _rank_correlation(r_pred, r_y), _rank_correlation(r_pred, r_z), _rank_correlation(r_y, r_z)
    )


def _centred_ranks(values: npt.ArrayLike) -> Floats:
    ranks = rankdata(values)
    return np.asarray(ranks - ranks.mean(), dtype=np.float64)


def _rank_correlation(a: Floats, b: Floats) -> float:
    # Pearson on centred ranks is Spearman, written out rather than np.corrcoef, whose
    # overhead dominated the bootstrap (thousands of short vectors per training). The
    # ranks come in so that a resample's outcome and followers are ranked once for all
    # policies and both statistics.
    aa, bb = float(a @ a), float(b @ b)
    if aa == 0 or bb == 0:  # a constant: no ranking to correlate
        return float("nan")
    if np.array_equal(a, b):  # exactly 1, so that followers' partial Spearman is exactly 0
        return 1.0
    return float(np.clip((a @ b) / np.sqrt(aa * bb), -1.0, 1.0))


def _partial(r_py: float, r_pz: float, r_yz: float) -> float:
    denom = np.sqrt(max(1e-12, (1 - r_pz**2) * (1 - r_yz**2)))
    return float((r_py - r_pz * r_yz) / denom)


def _deviance(y: Floats, pred: Floats, power: float) -> Floats:
    """Unit deviance per row: Poisson (power 1) or Tweedie (1 < power < 2)."""
    mu = np.maximum(pred, 1e-9)
    if power == 1.0:
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(y > 0, y * np.log(y / mu), 0.0)
        return np.asarray(2.0 * (term - y + mu))
    p = power
    a = np.maximum(y, 0.0) ** (2 - p) / ((1 - p) * (2 - p))
    b = y * mu ** (1 - p) / (1 - p)
    c = mu ** (2 - p) / (2 - p)
    return np.asarray(2.0 * (a - b + c))


def ndcg_at_k(campaign: pd.Series, score: Floats, y: Floats, k: int = NDCG_K) -> pd.Series:
    """NDCG@k of `score` against realised `y` within each campaign (NaN if all y are 0)."""
    frame = pd.DataFrame({"c": campaign.to_numpy(), "s": score, "y": y})
    discounts = 1.0 / np.log2(np.arange(2, k + 2))

    def one(group: pd.DataFrame) -> float:
        by_score = group.sort_values("s", ascending=False, kind="stable")["y"].to_numpy()[:k]
        ideal = np.sort(group["y"].to_numpy())[::-1][:k]
        best = float((ideal * discounts[: ideal.size]).sum())
        if best == 0:
            return float("nan")
        return float((by_score * discounts[: by_score.size]).sum() / best)

    return frame.groupby("c", sort=True)[["s", "y"]].apply(one)


@dataclass(frozen=True)
class Evaluation:
    """One target's metrics: a tidy table (policy, metric, value, low, high) and extras."""

    target: str
    table: pd.DataFrame
    budget_ratio: tuple[float, float, float]
    """Model over followers baseline on the budget metric: value, 95% low, 95% high."""

    def value(self, policy: str, metric: str) -> float:
        """One number of the table."""
        row = self.table[(self.table["policy"] == policy) & (self.table["metric"] == metric)]
        return float(row["value"].iloc[0]) if len(row) else float("nan")


def percentile_interval(samples: Floats) -> tuple[float, float]:
    """The 95% percentile interval of bootstrap samples (NaN when none is finite)."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(finite, [0.025, 0.975])
    return float(low), float(high)


def evaluate_target(
    target: str,
    frame: pd.DataFrame,
    predictions: dict[str, Floats],
    power: float,
    seed: int,
    budget_share: float = 0.3,
    truth: Floats | None = None,
) -> Evaluation:
    """Compare policies on the later fold for one target.

    `frame` has one row per validation placement with `placement_id`,
    `campaign_id`, `cost`, `followers` and the realised `target`.
    `predictions` maps a policy name (model, followers, heuristic) to its
    predicted target per row. `truth`, when known (simulated data), is the
    expected target per row: it joins the budget metric as the best possible
    policy. The follower rule (highest followers first) joins it as what the
    market does. Returns the metrics table with campaign-bootstrap intervals.
    """
    rng = np.random.default_rng(seed)
    frame = frame.reset_index(drop=True)
    y = frame[target].to_numpy(dtype=float)
    campaigns, codes = np.unique(frame["campaign_id"].to_numpy(), return_inverse=True)
    n_c = campaigns.size
    draws = rng.integers(0, n_c, size=(BOOTSTRAP_RESAMPLES, n_c))
    counts = np.zeros((BOOTSTRAP_RESAMPLES, n_c))
    np.add.at(counts, (np.repeat(np.arange(BOOTSTRAP_RESAMPLES), n_c), draws.ravel()), 1.0)
    rows: list[dict[str, object]] = []

    def per_campaign(values: Floats) -> Floats:
        return np.bincount(codes, weights=values, minlength=n_c).astype(np.float64)

    def add(policy: str, metric: str, value: float, samples: Floats) -> None:
        low, high = percentile_interval(samples)
        rows.append({"policy": policy, "metric": metric, "value": value, "low": low, "high": high})

    n_rows = per_campaign(np.ones_like(y))
    log_followers = np.log1p(frame["followers"].to_numpy(dtype=float))
    groups = [np.flatnonzero(codes == c) for c in range(n_c)]
    resampled = [np.concatenate([groups[c] for c in d]) for d in draws[:RANK_RESAMPLES]]
    y_ranks = [_centred_ranks(y[i]) for i in resampled]
    z_ranks = [_centred_ranks(log_followers[i]) for i in resampled]
    r_yz = [_rank_correlation(ry, rz) for ry, rz in zip(y_ranks, z_ranks, strict=True)]

    for policy, pred in predictions.items():
        pred_ranks = [_centred_ranks(pred[i]) for i in resampled]
        r_py = [_rank_correlation(rp, ry) for rp, ry in zip(pred_ranks, y_ranks, strict=True)]
        r_pz = [_rank_correlation(rp, rz) for rp, rz in zip(pred_ranks, z_ranks, strict=True)]
        dev = per_campaign(_deviance(y, pred, power))
        add(policy, "deviance", dev.sum() / n_rows.sum(), (counts @ dev) / (counts @ n_rows))
        err = per_campaign(np.abs(y - pred))
        add(policy, "mae", err.sum() / n_rows.sum(), (counts @ err) / (counts @ n_rows))
        add(policy, "spearman", spearman(pred, y), np.array(r_py))
        add(
            policy,
            "partial_spearman",
            partial_spearman(pred, y, log_followers),
            np.array([_partial(*r) for r in zip(r_py, r_pz, r_yz, strict=True)]),
        )
        ndcg = ndcg_at_k(frame["campaign_id"], pred, y).reindex(campaigns).to_numpy()
        valid = np.isfinite(ndcg)
        ndcg0 = np.where(valid, ndcg, 0.0)
        add(
            policy,
            f"ndcg_at_{NDCG_K}",
            float(np.nanmean(ndcg)),
            (counts @ ndcg0) / np.maximum(counts @ valid.astype(float), 1.0),
        )

    budget = frame[["placement_id", "campaign_id", "cost", "followers"]].copy()
    priorities = {p: value_per_cost(pred, budget["cost"]) for p, pred in predictions.items()}
    priorities["follower_rule"] = follower_priority(budget["followers"])
    if truth is not None:
        priorities["truth"] = value_per_cost(truth, budget["cost"])
    bought: dict[str, tuple[Floats, Floats]] = {}
    for policy, priority in priorities.items():
        budget["_priority"] = priority
        chosen = spend_per_campaign(budget, "_priority", share=budget_share).to_numpy()
        actions = per_campaign(np.where(chosen, y, 0.0))
        spend = per_campaign(np.where(chosen, budget["cost"].to_numpy(dtype=float), 0.0))
        bought[policy] = (actions, spend)
        add(
            policy,
            "actions_per_cost",
            actions.sum() / spend.sum(),
            (counts @ actions) / (counts @ spend),
        )
    model_a, model_s = bought["model"]
    base_a, base_s = bought["followers"]
    ratio = (model_a.sum() / model_s.sum()) / (base_a.sum() / base_s.sum())
    ratio_samples = ((counts @ model_a) / (counts @ model_s)) / (
        (counts @ base_a) / (counts @ base_s)
    )
    low, high = percentile_interval(ratio_samples)
    return Evaluation(target, pd.DataFrame(rows), (float(ratio), low, high))
