"""The configurations of a fit and a backtest: each check names the parameter it refuses."""

from __future__ import annotations

import subprocess
import sys

import pytest

from training.config import BacktestConfig
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


def test_reading_a_default_loads_neither_lightgbm_nor_scikit_learn() -> None:
    code = (
        "import sys, training.config; "
        "print(sorted(m for m in ('lightgbm', 'sklearn', 'mlflow') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
