"""Feature layer: the data contract, validation, the simulator, the budget rules and
point-in-time features."""

from features.budget import (
    follower_portfolio,
    greedy_select,
    knapsack,
    portfolio_total,
    spend_per_campaign,
)
from features.contract import OUTCOMES, TABLES
from features.errors import DataContractError, FeaturesError, NotFittedError, Problem, Rule
from features.io import Dataset, load_dataset, validate_directory

__all__ = [
    "OUTCOMES",
    "TABLES",
    "DataContractError",
    "Dataset",
    "FeaturesError",
    "NotFittedError",
    "Problem",
    "Rule",
    "follower_portfolio",
    "greedy_select",
    "knapsack",
    "load_dataset",
    "portfolio_total",
    "spend_per_campaign",
    "validate_directory",
]
