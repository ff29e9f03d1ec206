"""The backtest report's figures, as PNG bytes to embed in one self-contained HTML file.

matplotlib's object-oriented API: each figure is a `matplotlib.figure.Figure` saved with
`savefig`, so that no backend is chosen and no pyplot state is touched (files only: no
display on servers or in CI). One panel per target where a figure covers every target;
each policy keeps one colour in every figure. Legends sit outside the axes (below the
panels, or to the right of a single one), laid out by matplotlib's constrained layout, so
that no legend covers a curve or a bar whatever the data; `*_figure` gives the figure
itself, for tests that check that with matplotlib's own geometry.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from training.evaluation.policies import POLICIES, POLICY_LABELS, TIERS, Comparison
from training.learners.importance import family_importance_figure
from training.units import CostUnit

__all__ = [
    "calibration_figure",
    "gains_figure",
    "plot_calibration",
    "plot_gains",
    "plot_importance",
    "plot_policy_rates",
    "plot_tiers",
    "policy_rates_figure",
    "tiers_figure",
]

COLOURS = {
    "model": "#1f77b4",
    "followers": "#ff7f0e",
    "heuristic": "#9467bd",
    "follower_rule": "#d62728",
    "random": "#7f7f7f",
    "truth": "#2ca02c",
    "candidates": "#bcbd22",
}


def _panels(n: int, width: float = 5.2, height: float = 3.6) -> tuple[Figure, list[Any]]:
    cols = min(n, 2)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _legend_below(fig: Figure, ax: Axes) -> None:
    """One legend for the whole figure, of `ax`'s labelled artists, outside and below every
    panel (constrained layout makes room for it), so that it covers no curve or bar."""
    handles, labels = ax.get_legend_handles_labels()
    # One row for a few entries; two balanced rows for more (six policies: three and three).
    ncols = len(labels) if len(labels) <= 4 else math.ceil(len(labels) / 2)
    fig.legend(
        handles, labels, loc="outside lower center", ncols=ncols, frameon=False, fontsize="small"
    )


def _rows(table: pd.DataFrame, target: str, metric: str, tier: str = "all") -> pd.DataFrame:
    rows = table[(table["target"] == target) & (table["metric"] == metric)]
    return rows[rows["tier"] == tier].set_index("policy")


def plot_policy_rates(
    comparison: Comparison, targets: list[str], unit: CostUnit = CostUnit()
) -> bytes:
    """Realised target per unit cost bought by each policy, with 95% campaign-bootstrap bars."""
    return _png(policy_rates_figure(comparison, targets, unit))


def policy_rates_figure(
    comparison: Comparison, targets: list[str], unit: CostUnit = CostUnit()
) -> Figure:
    """`plot_policy_rates`' figure (its bars are labelled on the axis: no legend)."""
    fig, axes = _panels(len(targets))
    for ax, target in zip(axes, targets, strict=True):
        rows = _rows(comparison.table, target, "actions_per_cost")
        policies = [p for p in POLICIES if p in rows.index]
        value = rows.loc[policies, "value"].to_numpy(float)
        low = rows.loc[policies, "low"].to_numpy(float)
        high = rows.loc[policies, "high"].to_numpy(float)
        y = np.arange(len(policies))[::-1]
        ax.barh(y, value, color=[COLOURS[p] for p in policies], alpha=0.85)
        ax.errorbar(value, y, xerr=[value - low, high - value], fmt="none", ecolor="black")
        ax.set_yticks(y, [POLICY_LABELS[p] for p in policies], fontsize="small")
        # A currency is text: two '$' in a label would be read as mathematics and fail.
        ax.set_xlabel(f"realised {target} {unit.per()}", parse_math=False)
        ax.set_title(target)
    fig.suptitle("Budget spent by each policy on held-out campaigns (95% bootstrap intervals)")
    return fig


def plot_gains(comparison: Comparison, targets: list[str]) -> bytes:
    """Share of realised actions captured against share of each campaign's cost spent."""
    return _png(gains_figure(comparison, targets))


def gains_figure(comparison: Comparison, targets: list[str]) -> Figure:
    """`plot_gains`' figure, its legend below the panels."""
    fig, axes = _panels(len(targets))
    for ax, target in zip(axes, targets, strict=True):
        curves = comparison.gains[target]
        for policy in POLICIES:
            if policy in curves:
                style = "--" if policy in ("random", "truth") else "-"
                ax.plot(
                    curves["budget_share"],
                    curves[policy],
                    style,
                    color=COLOURS[policy],
                    label=POLICY_LABELS[policy],
                )
        ax.set_xlabel("share of the campaign's candidate cost spent")
        ax.set_ylabel(f"share of realised {target}")
        ax.set_title(target)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    _legend_below(fig, axes[0])
    return fig


def plot_calibration(comparison: Comparison, targets: list[str]) -> bytes:
    """The model's mean prediction against the mean realised value, per tenth of predictions."""
    return _png(calibration_figure(comparison, targets))


def calibration_figure(comparison: Comparison, targets: list[str]) -> Figure:
    """`plot_calibration`'s figure, its legend below the panels."""
    fig, axes = _panels(len(targets), width=4.6, height=4.0)
    for ax, target in zip(axes, targets, strict=True):
        table = comparison.calibration[target]
        pred, real = table["predicted"].to_numpy(float), table["realised"].to_numpy(float)
        positive = np.concatenate([pred, real])
        positive = positive[positive > 0]
        lo, hi = float(positive.min()) / 1.5, float(positive.max()) * 1.5
        ax.plot([lo, hi], [lo, hi], color="grey", lw=1, label="perfect calibration")
        ax.plot(pred, real, "o-", color=COLOURS["model"], label="realised")
        if "truth" in table:
            ax.plot(pred, table["truth"], "x--", color=COLOURS["truth"], label="truth (simulated)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"predicted {target} (bin mean)")
        ax.set_ylabel(f"{target} (bin mean)")
        ax.set_title(f"{target}, tenths of the predictions")
        ax.grid(alpha=0.3, which="both")
    _legend_below(fig, axes[0])
    return fig


def plot_importance(importance: pd.DataFrame) -> bytes:
    """`training.learners.importance`'s family chart (the one MLflow runs log), as bytes."""
    return _png(family_importance_figure(importance))


def plot_tiers(comparison: Comparison, target: str, unit: CostUnit = CostUnit()) -> bytes:
    """Where each policy spends by follower tier, and what each tier returns per unit cost."""
    return _png(tiers_figure(comparison, target, unit))


def tiers_figure(comparison: Comparison, target: str, unit: CostUnit = CostUnit()) -> Figure:
    """`plot_tiers`' figure, one legend below both panels."""
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    tiers = [name for name, _ in TIERS]
    shown = [p for p in (*POLICIES, "candidates") if p != "random"]
    table = comparison.table
    rows = table[(table["target"] == target) & (table["tier"] != "all")]
    policies = [p for p in shown if p in set(rows["policy"])]
    width = 0.8 / len(policies)
    x = np.arange(len(tiers))
    for i, policy in enumerate(policies):
        mine = rows[rows["policy"] == policy].set_index(["metric", "tier"])["value"]
        share = mine.loc["spend_share"].reindex(tiers).to_numpy(float)
        rate = mine.loc["actions_per_cost"].reindex(tiers).to_numpy(float)
        style = {"color": COLOURS[policy], "label": POLICY_LABELS[policy]}
        left.bar(x + i * width, share, width, **style)
        right.bar(x + i * width, np.nan_to_num(rate), width, **style)
    for ax in (left, right):
        ax.set_xticks(x + width * (len(policies) - 1) / 2, tiers)
        ax.set_xlabel("follower tier (cut at 10k, 100k, 500k and 1M followers)")
    left.set_ylabel("share of the policy's spend")
    left.set_title(f"{target}: where each policy spends")
    right.set_ylabel(f"realised {target} {unit.per()}", parse_math=False)
    right.set_title("what it bought there")
    _legend_below(fig, left)
    return fig
