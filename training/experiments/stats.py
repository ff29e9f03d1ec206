"""The statistics of an experiment's analysis: Welch's t, the unit bootstrap, the sample ratio.

Pure functions of arrays and counts; `training.experiments.analysis` applies them per metric.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special  # scipy.stats costs the whole CLI most of a second to import

from training.errors import TrainingError

__all__ = [
    "SRM_THRESHOLD",
    "SampleRatio",
    "bootstrap_means",
    "p_text",
    "sample_ratio",
    "welch",
]

SRM_THRESHOLD = 0.001
"""A sample-ratio p-value below this flags a broken assignment or logging, not bad luck."""

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SampleRatio:
    """Units per arm against the planned split: a chi-square goodness-of-fit test."""

    counts: dict[str, int]
    planned: dict[str, float]
    statistic: float
    p_value: float

    @property
    def mismatch(self) -> bool:
        """True when the split is too far from the plan to be chance (p < SRM_THRESHOLD)."""
        return self.p_value < SRM_THRESHOLD

    def sentence(self, noun: str = "units") -> str:
        """The check in plain words, for people who will not read a p-value."""
        counts = ", ".join(f"{arm} {n:,}" for arm, n in self.counts.items())
        split = ":".join(f"{w:g}" for w in self.planned.values())
        p = p_text(self.p_value)
        head = f"Sample ratio: {noun} per arm {counts} against a planned {split} split (p = {p})"
        if self.mismatch:
            return (
                f"{head}: SAMPLE-RATIO MISMATCH. The arms did not get their planned shares, so "
                "the assignment, the logging or lost outcomes have biased them; do not trust "
                "the differences until the cause is found."
            )
        return f"{head}: no mismatch."


def welch(
    treated: npt.ArrayLike, control: npt.ArrayLike, confidence: float = 0.95
) -> tuple[float, float, float, float]:
    """Welch's unequal-variance t test of mean(treated) - mean(control).

    Returns (difference, low, high, two-sided p-value); the interval and p are NaN when an
    arm has fewer than two values or neither arm varies.
    """
    a, b = np.asarray(treated, dtype=float), np.asarray(control, dtype=float)
    diff = float(a.mean() - b.mean())
    if a.size < 2 or b.size < 2:
        return diff, math.nan, math.nan, math.nan
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se2 = float(va + vb)
    if se2 == 0:
        return diff, math.nan, math.nan, math.nan
    df = se2**2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    se = math.sqrt(se2)
    half = float(special.stdtrit(df, 0.5 + confidence / 2)) * se  # Student's t quantile
    p = 2 * float(special.stdtr(df, -abs(diff) / se))  # two-sided tail
    return diff, diff - half, diff + half, p


def bootstrap_means(values: Floats, resamples: int, rng: np.random.Generator) -> Floats:
    """Means of `resamples` resamples (with replacement) of the rows of `values` (n x m).

    Returns a (resamples x m) array. One draw of rows serves every column, so the metrics of
    a resample come from the same units. Works in batches to bound memory.
    """
    n = values.shape[0]
    columns = np.ascontiguousarray(values.T)  # gathering from one column at a time is faster
    out = np.empty((resamples, values.shape[1]))
    step = max(1, 2_000_000 // n)
    for start in range(0, resamples, step):
        rows = rng.integers(0, n, size=(min(step, resamples - start), n))
        for j, column in enumerate(columns):
            out[start : start + rows.shape[0], j] = column[rows].mean(axis=1)
    return out


def sample_ratio(
    counts: Mapping[str, int], planned: Mapping[str, float] | None = None
) -> SampleRatio:
    """Chi-square goodness of fit of units per arm against the planned weights (default equal)."""
    weights = dict(planned) if planned is not None else dict.fromkeys(counts, 1.0)
    if set(weights) != set(counts) or any(w <= 0 for w in weights.values()):
        raise TrainingError(
            f"The planned split must give a weight > 0 to each arm ({', '.join(counts)}); "
            f"got {', '.join(f'{k}={v:g}' for k, v in weights.items())}."
        )
    observed = np.array([counts[a] for a in counts], dtype=float)
    share = np.array([weights[a] for a in counts]) / sum(weights.values())
    chi2 = float(((observed - share * observed.sum()) ** 2 / (share * observed.sum())).sum())
    p = float(special.chdtrc(len(counts) - 1, chi2))  # chi-square upper tail
    return SampleRatio(dict(counts), {a: weights[a] for a in counts}, chi2, p)


def p_text(p: float) -> str:
    """A p-value as a person reads it: four decimals, "< 0.0001" below that, n/a for NaN."""
    return "n/a" if math.isnan(p) else "< 0.0001" if p < 0.0001 else f"{p:.4f}"
