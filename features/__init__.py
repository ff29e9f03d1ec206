"""Feature layer: the data contract, validation, the simulator, the budget rules and
point-in-time features.

The library API (docs/python-api.md): `load_dataset(path)` (exports read as
`read_options(columns_file, dayfirst)` says) or `validate_tables(...)` for a validated
`Dataset`; `FeatureBuilder` for point-in-time features; `OnlineFeatures`
for every known account's latest row, and `materialize` / `read_snapshot` to write it (with
the histories) to files a service starts from; the budget rules. `FeatureBuilder` and
`OnlineFeatures` (scikit-learn and SciPy behind them) are imported on first use, so
that `import features` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from features.budget import (
    follower_portfolio,
    greedy_select,
    knapsack,
    plan,
    portfolio_total,
    spend_per_campaign,
)
from features.contract import OUTCOMES, TABLES
from features.errors import DataContractError, FeaturesError, NotFittedError, Problem, Rule
from features.headers import ReadOptions, read_options
from features.io import Dataset, load_dataset, validate_directory, validate_tables

if TYPE_CHECKING:
    from features.builder import FeatureBuilder
    from features.online import OnlineFeatures
    from features.snapshot import Snapshot, materialize, read_snapshot

__all__ = [
    "OUTCOMES",
    "TABLES",
    "DataContractError",
    "Dataset",
    "FeatureBuilder",
    "FeaturesError",
    "NotFittedError",
    "OnlineFeatures",
    "Problem",
    "ReadOptions",
    "Rule",
    "Snapshot",
    "follower_portfolio",
    "greedy_select",
    "knapsack",
    "load_dataset",
    "materialize",
    "plan",
    "portfolio_total",
    "read_options",
    "read_snapshot",
    "spend_per_campaign",
    "validate_directory",
    "validate_tables",
]

_LAZY = {
    "FeatureBuilder": "features.builder",
    "OnlineFeatures": "features.online",
    "Snapshot": "features.snapshot",
    "materialize": "features.snapshot",
    "read_snapshot": "features.snapshot",
}


def __getattr__(name: str) -> Any:
    """Import `FeatureBuilder` or `OnlineFeatures` the first time it is asked for."""
    if name not in _LAZY:
        raise AttributeError(f"module 'features' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


def __dir__() -> list[str]:
    """The public names too, for autocompletion, though they are imported on first use."""
    return sorted(set(globals()) | set(__all__))
