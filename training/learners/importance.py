"""Feature importance overall and per family, as a table and a plot.

Importance is LightGBM's total gain per feature, normalised to sum to one per
target, then summed per family: how much of what the model learned comes from
reach, resonance, relevance and track record.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.builder import FAMILIES, FEATURES, family_of

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "family_importance_figure",
    "family_shares",
    "importance_table",
    "plot_family_importance",
]


def importance_table(boosters: dict[str, lgb.Booster]) -> pd.DataFrame:
    """One row per (target, feature): family and gain share (each target's shares sum to 1)."""
    rows = []
    for target, booster in boosters.items():
        gain = np.asarray(booster.feature_importance(importance_type="gain"), dtype=float)
        share = gain / gain.sum() if gain.sum() > 0 else gain
        rows += [
            {"target": target, "feature": f, "family": family_of(f), "gain_share": float(s)}
            for f, s in zip(FEATURES, share, strict=True)
        ]
    return pd.DataFrame(rows)


def family_shares(table: pd.DataFrame) -> pd.DataFrame:
    """Gain share per family (columns) and target (rows, in the table's order).

    pivot_table sorts its rows (clicks, conversions, referrals, revenue); they are put
    back in the order the table lists its targets, the contract's (`importance_table`
    follows the bundle's models).
    """
    pivot = table.pivot_table(index="target", columns="family", values="gain_share", aggfunc="sum")
    targets = list(dict.fromkeys(table["target"]))
    return pivot.reindex(index=targets, columns=list(FAMILIES)).fillna(0.0)


def plot_family_importance(table: pd.DataFrame, path: Path) -> Path:
    """Save a grouped bar chart of gain share per family and target as PNG; return the path.

    Drawn on a `matplotlib.figure.Figure` (no pyplot, no backend chosen: files only).
    """
    family_importance_figure(table).savefig(path, dpi=110)
    return path


def family_importance_figure(table: pd.DataFrame) -> Figure:
    """`plot_family_importance`'s figure: one group of bars per family, one bar per target,
    the targets' legend to the right of the axes, where no bar can be."""
    from matplotlib.figure import Figure  # matplotlib is loaded when a chart is drawn

    shares = family_shares(table)
    fig = Figure(figsize=(7.6, 3.5), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / max(1, len(shares.index))
    x = np.arange(len(shares.columns))
    for i, target in enumerate(shares.index):
        ax.bar(x + i * width, shares.loc[target].to_numpy(), width, label=str(target))
    ax.set_xticks(x + width * (len(shares.index) - 1) / 2, list(shares.columns))
    ax.set_ylabel("share of total gain")
    ax.set_title("What the model learned from, per feature family")
    fig.legend(frameon=False, fontsize="small", loc="outside right upper")
    return fig
