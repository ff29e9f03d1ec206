"""The MLflow pyfunc: the bundle behind MLflow's standard model interface.

Input: feature rows (the `FEATURES` columns) plus `cost`; output: what
`ModelBundle.predict` returns. It lets `mlflow models serve` and any MLflow tool
score the same model the `influence` API serves.
"""

from __future__ import annotations

from typing import Any

import joblib
import pandas as pd
from mlflow.pyfunc.model import PythonModel

from features.builder import FEATURES
from training.bundle import ModelBundle

__all__ = ["InfluencePyfunc"]


class InfluencePyfunc(PythonModel):
    """Loads the joblib bundle once (`load_context`) and predicts from feature rows."""

    def load_context(self, context: Any) -> None:
        """Load the bundle from the model's `bundle` artifact."""
        self.bundle: ModelBundle = joblib.load(context.artifacts["bundle"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """Score feature rows: expected outcomes, intervals, ROI, followers baseline."""
        frame = pd.DataFrame(model_input)
        features = frame[list(FEATURES)].astype(float)
        return self.bundle.predict(features, frame["cost"].astype(float))
