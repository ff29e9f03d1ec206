"""Feature layer: the data contract, validation, the simulator and point-in-time features."""

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
    "load_dataset",
    "validate_directory",
]
