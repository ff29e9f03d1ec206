"""Analyse a live experiment between selection policies, size one, and assign its campaigns.

In an influence experiment the unit of randomisation is the campaign: every placement of a
campaign is chosen by one arm's policy (the model, the follower rule, ...). Placements of one
campaign share a brief, a brand and a week, so they are not independent draws. The analysis
therefore sums each unit's outcomes and cost, takes the ratio (actions per unit cost), and
compares arms across units: Welch's t interval and a bootstrap interval that resamples units
within each arm. The unit column is a parameter, so an experiment randomised per customer
(each customer a unit of cost 1, as in the Hillstrom e-mail data) runs through the same code.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special  # scipy.stats costs the whole CLI most of a second to import

from features.contract import OUTCOMES
from training.errors import TrainingError

__all__ = [
    "SRM_THRESHOLD",
    "ArmStats",
    "Difference",
    "ExperimentResult",
    "MetricResult",
    "SampleRatio",
    "analyse_experiment",
    "assign_arm",
    "baseline",
    "bootstrap_means",
    "choose_control",
    "sample_ratio",
    "sample_size",
    "unit_ratios",
    "welch",
]

SRM_THRESHOLD = 0.001
"""A sample-ratio p-value below this flags a broken assignment or logging, not bad luck."""

DEFAULT_CONTROL = "followers"

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ArmStats:
    """One arm of one metric: how many units, and the mean and sd of their ratios."""

    arm: str
    units: int
    mean: float
    sd: float


@dataclass(frozen=True)
class Difference:
    """One arm minus the control: the difference of means, its intervals, p-value and lift.

    `lift` is the difference relative to the control's mean (0.2 for +20%); NaN when the
    control's mean is 0. Welch's values are NaN when an arm has fewer than two units or
    no arm varies.
    """

    arm: str
    difference: float
    welch_low: float
    welch_high: float
    p_value: float
    bootstrap_low: float
    bootstrap_high: float
    lift: float


@dataclass(frozen=True)
class MetricResult:
    """One outcome per unit cost: every arm's statistics, then each arm against the control."""

    metric: str
    arms: tuple[ArmStats, ...]
    differences: tuple[Difference, ...]

    def rows(self) -> list[tuple[str, ...]]:
        """The table a person reads, one row per arm (the control has no difference).

        Columns: arm, units, mean per unit cost, difference, Welch interval, bootstrap
        interval, p-value, lift in percent.
        """
        by_arm = {d.arm: d for d in self.differences}
        out: list[tuple[str, ...]] = []
        for s in self.arms:
            head = (s.arm, f"{s.units:,}", _num(s.mean))
            d = by_arm.get(s.arm)
            if d is None:
                out.append((*head, "control", "", "", "", ""))
                continue
            lift = "n/a" if math.isnan(d.lift) else f"{100 * d.lift:+.1f}%"
            out.append(
                (
                    *head,
                    _num(d.difference, signed=True),
                    _interval(d.welch_low, d.welch_high),
                    _interval(d.bootstrap_low, d.bootstrap_high),
                    _pvalue(d.p_value),
                    lift,
                )
            )
        return out


def _num(x: float, signed: bool = False) -> str:
    return "n/a" if math.isnan(x) else f"{x:+.4g}" if signed else f"{x:.4g}"


def _pvalue(p: float) -> str:
    return "n/a" if math.isnan(p) else "< 0.0001" if p < 0.0001 else f"{p:.4f}"


def _interval(low: float, high: float) -> str:
    return "n/a" if math.isnan(low) else f"[{low:.4g}, {high:.4g}]"


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
        p = _pvalue(self.p_value)
        head = f"Sample ratio: {noun} per arm {counts} against a planned {split} split (p = {p})"
        if self.mismatch:
            return (
                f"{head}: SAMPLE-RATIO MISMATCH. The arms did not get their planned shares, so "
                "the assignment, the logging or lost outcomes have biased them; do not trust "
                "the differences until the cause is found."
            )
        return f"{head}: no mismatch."


@dataclass(frozen=True)
class ExperimentResult:
    """Everything `analyse_experiment` found; `to_dict` is its JSON form (NaN as null)."""

    unit: str
    control: str
    confidence: float
    resamples: int
    seed: int
    metrics: tuple[MetricResult, ...]
    sample_ratio: SampleRatio
    planned_skipped: int
    unassigned_skipped: int

    def to_dict(self) -> dict[str, object]:
        """Plain data for JSON: floats that are NaN become None."""
        data = {k: _clean(v) for k, v in asdict(self).items()}
        return {**data, "sample_ratio_mismatch": self.sample_ratio.mismatch}


def _clean(value: object) -> object:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def unit_ratios(
    frame: pd.DataFrame, unit: str, outcomes: Sequence[str], arm: str = "arm", cost: str = "cost"
) -> pd.DataFrame:
    """Sum each unit's outcomes and cost; return one row per unit with its arm and ratios.

    `frame` has one row per placement (columns `unit`, `arm`, `cost` and `outcomes`). The
    result is indexed by unit (sorted) with the column `arm` and each outcome divided by the
    unit's total cost: a campaign's clicks per unit cost weighs its placements by cost, as
    its budget did. Raises TrainingError for a unit in two arms or with no cost.
    """
    _one_arm_per_unit(frame, unit, arm)
    sums = frame.groupby(unit)[[cost, *outcomes]].sum()
    free = sums.index[sums[cost] <= 0]
    if len(free):
        raise TrainingError(
            f"{len(free)} {unit} values have a total cost of 0 ({_first(free)}), so they have "
            "no actions per unit cost; drop them or record what they cost."
        )
    ratios = sums[list(outcomes)].div(sums[cost], axis=0)
    ratios.insert(0, "arm", frame.groupby(unit)[arm].first())
    return ratios


def _one_arm_per_unit(frame: pd.DataFrame, unit: str, arm: str) -> None:
    arms = frame.groupby(unit)[arm].nunique()
    mixed = arms.index[arms > 1]
    if len(mixed):
        raise TrainingError(
            f"{len(mixed)} {unit} values are in more than one arm ({_first(mixed)}); the "
            f"{unit} is the unit of randomisation, so all its placements must share one arm."
        )


def _first(values: Iterable[object], n: int = 5) -> str:
    items = [str(v) for v in values]
    return ", ".join(items[:n]) + (", ..." if len(items) > n else "")


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


def choose_control(arms: Iterable[str], control: str | None = None) -> str:
    """The arm every other is compared with: `control`, else "followers", else the first."""
    names = sorted(set(arms))
    if control is not None:
        if control not in names:
            raise TrainingError(
                f"The control arm {control!r} is not among the arms: {', '.join(names)}."
            )
        return control
    return DEFAULT_CONTROL if DEFAULT_CONTROL in names else names[0]


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


def analyse_experiment(
    placements: pd.DataFrame,
    *,
    unit: str = "campaign_id",
    outcomes: Sequence[str] = OUTCOMES,
    control: str | None = None,
    planned: Mapping[str, float] | None = None,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> ExperimentResult:
    """Compare the arms of a live experiment on each outcome per unit cost.

    `placements` has one row per placement with `unit`, `arm`, `cost` and the outcomes.
    Rows without an arm are outside the experiment and rows with an empty outcome are
    planned, not yet measured: both are left out and counted. Outcomes empty on every row
    (revenue not tracked) are not analysed. The sample-ratio check counts the units with
    outcomes, so it also catches arms that lose units. The same seed gives the same
    bootstrap intervals.
    """
    if resamples < 1 or not 0 < confidence < 1:
        raise TrainingError(
            f"resamples must be >= 1 and confidence between 0 and 1; got {resamples} "
            f"and {confidence}."
        )
    armed = placements[placements["arm"].notna()]
    if armed.empty:
        raise TrainingError(
            "placements have no `arm` column values: an experiment needs the arm (selection "
            "policy, for example model or followers) that chose each placement."
        )
    _one_arm_per_unit(armed, unit, "arm")  # planned placements included
    metrics = [m for m in outcomes if armed[m].notna().any()]
    measured = armed[armed[metrics].notna().all(axis=1)] if metrics else armed.iloc[:0]
    if measured.empty:
        raise TrainingError(
            f"None of the {len(armed):,} placements with an arm has outcomes yet; "
            "analyse the experiment once they are measured."
        )
    ratios = unit_ratios(measured, unit, metrics)
    groups = {str(a): g for a, g in ratios.groupby("arm", sort=True)}
    if len(groups) < 2:
        raise TrainingError(
            f"An experiment needs at least two arms with outcomes; found only {_first(groups)}."
        )
    ctrl = choose_control(groups, control)
    srm = sample_ratio({a: len(g) for a, g in groups.items()}, planned)
    rng = np.random.default_rng(seed)
    boot = {
        a: bootstrap_means(g[metrics].to_numpy(float), resamples, rng) for a, g in groups.items()
    }
    tail = (1 - confidence) / 2
    results = []
    for j, metric in enumerate(metrics):
        arms = tuple(
            ArmStats(a, len(g), float(g[metric].mean()), float(g[metric].std(ddof=1)))
            for a, g in groups.items()
        )
        base = float(groups[ctrl][metric].mean())
        diffs = []
        for a, g in groups.items():
            if a == ctrl:
                continue
            d, lo, hi, p = welch(g[metric], groups[ctrl][metric], confidence)
            blo, bhi = np.quantile(boot[a][:, j] - boot[ctrl][:, j], [tail, 1 - tail])
            lift = d / base if base != 0 else math.nan
            diffs.append(Difference(a, d, lo, hi, p, float(blo), float(bhi), lift))
        results.append(MetricResult(metric, arms, tuple(diffs)))
    return ExperimentResult(
        unit=unit,
        control=ctrl,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        metrics=tuple(results),
        sample_ratio=srm,
        planned_skipped=len(armed) - len(measured),
        unassigned_skipped=len(placements) - len(armed),
    )


def sample_size(
    lift: float, baseline_mean: float, baseline_sd: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Units per arm to detect a relative `lift` of a mean with a two-sided two-sample test.

    Normal approximation: n = 2 (z[1 - alpha/2] + z[power])^2 sd^2 / (lift * mean)^2, rounded
    up. Inputs are the control's mean and sd of the per-unit ratio, for example estimated
    from past campaigns with `baseline`.
    """
    if not (0 < alpha < 1 and 0 < power < 1):
        raise TrainingError(f"alpha and power must be between 0 and 1; got {alpha} and {power}.")
    effect = lift * baseline_mean
    if effect == 0 or not baseline_sd > 0:
        raise TrainingError(
            "The lift and the baseline mean must be non-zero and the baseline sd > 0; got lift "
            f"{lift:g}, mean {baseline_mean:g}, sd {baseline_sd:g}."
        )
    z = float(special.ndtri(1 - alpha / 2) + special.ndtri(power))  # normal quantiles
    return math.ceil(2 * (z * baseline_sd / effect) ** 2)


def baseline(
    placements: pd.DataFrame, metric: str, unit: str = "campaign_id"
) -> tuple[float, float, int]:
    """Mean and sd across past units of `metric` per unit cost, and how many units.

    Uses every placement whose `metric` is measured, whatever its arm.
    """
    past = placements[placements[metric].notna()].assign(arm="past")
    ratios = unit_ratios(past, unit, [metric])[metric]
    if len(ratios) < 2:
        raise TrainingError(
            f"Estimating the spread of {metric} per unit cost needs at least two past "
            f"{unit} values with outcomes; found {len(ratios)}."
        )
    return float(ratios.mean()), float(ratios.std(ddof=1)), len(ratios)


def assign_arm(unit_id: str, arms: Sequence[str], salt: str) -> str:
    """The arm of one unit: sha256(salt + unit_id) as an integer, modulo the number of arms.

    Deterministic and stateless: the same salt, id and arm list always give the same arm,
    so anyone can recompute an assignment; a new salt gives a fresh randomisation.
    """
    if len(arms) < 2 or len(set(arms)) != len(arms) or not all(arms):
        raise TrainingError(
            f"Give at least two distinct, non-empty arm names; got {', '.join(arms) or 'none'}."
        )
    digest = hashlib.sha256((salt + unit_id).encode("utf-8")).hexdigest()
    return arms[int(digest, 16) % len(arms)]
