"""What a fit and a backtest are asked to do: `TrainConfig` and `BacktestConfig`.

Plain frozen dataclasses whose every field has a default, and their checks. They live
apart from the code that uses them (`training.fitting`, `training.pipeline`,
`training.backtest.rolling`, which export them too) so that reading a default, as the
command line does for its options, loads neither LightGBM nor scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from features.contract import OUTCOMES, in_outcome_order
from training.errors import TrainingError

__all__ = ["BacktestConfig", "TrainConfig", "check_targets"]


def check_targets(targets: tuple[str, ...]) -> None:
    """Raise TrainingError unless `targets` is a non-empty selection of the contract's outcomes."""
    unknown = [t for t in targets if t not in OUTCOMES]
    if unknown or not targets:
        raise TrainingError(
            f"targets must be among {', '.join(OUTCOMES)}; got {', '.join(targets) or 'none'}."
        )


@dataclass(frozen=True)
class TrainConfig:
    """What to fit and how; every field has a default and is logged as a run parameter.

    `targets`: outcomes to model (the first decides promotion; models and results list
    them in the contract's order, `targets_in_order`); `until`: ignore data
    from this moment on; `validation_share`: the latest campaigns `train` judges on;
    `window_days`: the attribution window; `budget_share`: the share of a campaign's
    candidates' summed cost the budget metric spends; `promote`: ask for champion.
    """

    targets: tuple[str, ...] = OUTCOMES
    until: pd.Timestamp | None = None
    seed: int = 0
    validation_share: float = 0.3
    window_days: int = 30
    budget_share: float = 0.3
    promote: bool = False

    @property
    def primary(self) -> str:
        """The target whose budget metric decides promotion: the first one asked for."""
        return self.targets[0]

    @property
    def targets_in_order(self) -> tuple[str, ...]:
        """The targets in the contract's order, the order models and results list them."""
        return in_outcome_order(self.targets)

    def check(self) -> None:
        """Raise TrainingError, naming the parameter, for a configuration that cannot train."""
        check_targets(self.targets)
        if not 0 < self.validation_share < 1:
            raise TrainingError(
                f"validation_share must be between 0 and 1, got {self.validation_share}."
            )
        if self.window_days < 1:
            raise TrainingError(f"window_days must be at least 1, got {self.window_days}.")
        if not 0 < self.budget_share <= 1:
            raise TrainingError(f"budget_share must be in (0, 1], got {self.budget_share}.")


@dataclass(frozen=True)
class BacktestConfig:
    """What the backtest compares and how; every field is logged as a run parameter."""

    targets: tuple[str, ...] = OUTCOMES
    folds: int = 4
    holdout_share: float = 0.5
    seed: int = 0
    window_days: int = 30
    budget_share: float = 0.3
    random_draws: int = 20

    @property
    def targets_in_order(self) -> tuple[str, ...]:
        """The targets in the contract's order, the order the report lists them; the first
        asked for (`targets[0]`) still leads the report's summary."""
        return in_outcome_order(self.targets)

    def check(self) -> None:
        """Raise TrainingError, naming the parameter, for a configuration that cannot run."""
        check_targets(self.targets)
        if self.folds < 1:
            raise TrainingError(f"folds must be at least 1, got {self.folds}.")
        if not 0 < self.holdout_share < 1:
            raise TrainingError(f"holdout_share must be between 0 and 1, got {self.holdout_share}.")
        if not 0 < self.budget_share <= 1:
            raise TrainingError(f"budget_share must be in (0, 1], got {self.budget_share}.")
        if self.random_draws < 1:
            raise TrainingError(f"random_draws must be at least 1, got {self.random_draws}.")
