"""Training layer: LightGBM models per action, baselines, evaluation and MLflow tracking.

The library API, for a notebook as for the CLI (docs/python-api.md):

- `fit(dataset, config=TrainConfig()) -> ModelBundle`: pure, writes and logs nothing;
- `holdout_split(dataset, config)` and `evaluate(bundle, dataset, split)`: judge a
  bundle fitted before the split's cutoff on the later campaigns;
- `train(dataset_or_path, config, settings)`: the above inside one MLflow run, then
  register, export and maybe promote;
- `run_backtest(dataset, truth, BacktestConfig())`: refit at rolling origins.

Names are imported on first use (PEP 562), so that `import training` stays cheap and
loads neither MLflow nor LightGBM until something asks for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from training.artifacts.bundle import ModelBundle, load_bundle
    from training.backtest.rolling import Backtest, run_backtest
    from training.config import BacktestConfig, TrainConfig
    from training.errors import TrainingError
    from training.evaluation.holdout import Holdout, evaluate, holdout_split
    from training.fitting import Tuning, fit
    from training.pipeline import TrainResult, train
    from training.settings import TrainingSettings

__all__ = [
    "Backtest",
    "BacktestConfig",
    "Holdout",
    "ModelBundle",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "TrainingSettings",
    "Tuning",
    "evaluate",
    "fit",
    "holdout_split",
    "load_bundle",
    "run_backtest",
    "train",
]

_HOME = {
    "Backtest": "training.backtest.rolling",
    "BacktestConfig": "training.config",
    "Holdout": "training.evaluation.holdout",
    "ModelBundle": "training.artifacts.bundle",
    "TrainConfig": "training.config",
    "TrainResult": "training.pipeline",
    "TrainingError": "training.errors",
    "TrainingSettings": "training.settings",
    "Tuning": "training.fitting",
    "evaluate": "training.evaluation.holdout",
    "fit": "training.fitting",
    "holdout_split": "training.evaluation.holdout",
    "load_bundle": "training.artifacts.bundle",
    "run_backtest": "training.backtest.rolling",
    "train": "training.pipeline",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module the first time it is asked for."""
    if name not in _HOME:
        raise AttributeError(f"module 'training' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)


def __dir__() -> list[str]:
    """The public names too, for autocompletion, though they are imported on first use."""
    return sorted(set(globals()) | set(__all__))
