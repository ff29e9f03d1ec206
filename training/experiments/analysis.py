"""Analyse a live experiment: each outcome per unit cost, arm by arm, against a control.

`analyse_experiment` sums each unit's outcomes and cost (`unit_ratios`), compares every arm
with the control by Welch's t and by a bootstrap of units (`training.experiments.stats`), checks
the sample ratio, and returns an `ExperimentResult`: the tables a person reads and its JSON.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from features.contract import OUTCOMES
from training.errors import TrainingError
from training.experiments.stats import SampleRatio, bootstrap_means, p_text, sample_ratio, welch

__all__ = [
    "ArmStats",
    "Difference",
    "ExperimentResult",
    "MetricResult",
    "analyse_experiment",
    "choose_control",
    "unit_ratios",
]

DEFAULT_CONTROL = "followers"


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
                    p_text(d.p_value),
                    lift,
                )
            )
        return out


def _num(x: float, signed: bool = False) -> str:
    return "n/a" if math.isnan(x) else f"{x:+.4g}" if signed else f"{x:.4g}"


def _interval(low: float, high: float) -> str:
    return "n/a" if math.isnan(low) else f"[{low:.4g}, {high:.4g}]"


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
