"""The backtest's configuration: each check names the parameter it refuses, in one sentence."""

from __future__ import annotations

import pytest

from training.backtest.rolling import BacktestConfig
from training.errors import TrainingError


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (BacktestConfig(folds=0), "folds must be at least 1, got 0."),
        (BacktestConfig(holdout_share=1.0), "holdout_share must be between 0 and 1, got 1.0."),
        (BacktestConfig(holdout_share=0.0), "holdout_share must be between 0 and 1, got 0.0."),
        (BacktestConfig(budget_share=1.5), "budget_share must be in (0, 1], got 1.5."),
        (BacktestConfig(random_draws=0), "random_draws must be at least 1, got 0."),
        (
            BacktestConfig(targets=()),
            "targets must be among clicks, referrals, conversions, revenue; got none.",
        ),
    ],
)
def test_a_configuration_that_cannot_run_names_its_parameter(
    config: BacktestConfig, message: str
) -> None:
    with pytest.raises(TrainingError, match=r"^(targets|folds|holdout|budget|random)") as raised:
        config.check()
    assert str(raised.value) == message
