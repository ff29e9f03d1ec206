"""The MLflow pyfunc: the bundle behind MLflow's standard model interface.

Input: feature rows (the `FEATURES` columns) plus `cost`; output: what
`ModelBundle.predict` returns. It lets `mlflow models serve` and any MLflow tool
score the same model the `influence` API serves. It is logged as code
(`MODEL_CODE`, MLflow's "models from code"), not pickled, and its artifact is the
bundle folder, loaded by the same checked loader as `models/champion.json`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.pyfunc.model import PythonModel

from features.builder import FEATURES
from training.artifacts.bundle import FOLDER_MANIFEST, ModelBundle, load_bundle

__all__ = ["MODEL_CODE", "InfluencePyfunc"]

MODEL_CODE = Path(__file__).with_name("pyfunc_code.py")
"""The file MLflow runs to build the pyfunc (`mlflow.models.set_model`)."""


class InfluencePyfunc(PythonModel):
    """Loads the bundle folder once (`load_context`) and predicts from feature rows."""

    def load_context(self, context: Any) -> None:
        """Load the bundle from the model's `bundle` artifact (a bundle folder).

        Through `load_bundle` on the folder's own manifest: files inside the folder
        only, each sha256 checked, nothing unpickled. BundleError when it fails.
        """
        bundle, _ = load_bundle(Path(context.artifacts["bundle"]) / FOLDER_MANIFEST)
        self.bundle: ModelBundle = bundle

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """Score feature rows: expected outcomes, intervals, ROI, followers baseline."""
        frame = pd.DataFrame(model_input)
        features = frame[list(FEATURES)].astype(float)
        return self.bundle.predict(features, frame["cost"].astype(float))
