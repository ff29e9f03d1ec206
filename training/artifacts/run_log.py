"""What a training run writes: its parameters, metrics and artifacts to MLflow, and its bundle.

Every call here takes the command's store handle (`training.tracking.store.Tracking`) and
writes to the run that `training.pipeline` opened with it, by its id; the bundle goes
to `models/` only once its version is registered.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pandas as pd
from mlflow.entities import LoggedModel
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

import features
import training
from features.io import atomic_path
from training.artifacts.bundle import ModelBundle, write_bundle
from training.artifacts.pyfunc import MODEL_CODE
from training.artifacts.registry import CHALLENGER, CHAMPION
from training.evaluation.metrics import Evaluation
from training.learners.importance import plot_family_importance
from training.tracking.logged_model import create_version, log_pyfunc
from training.tracking.metric_keys import run_metrics
from training.tracking.quiet import quieted
from training.tracking.store import Tracking

__all__ = ["PIP_REQUIREMENTS", "has_champion", "log_evaluation", "log_model"]

PIP_REQUIREMENTS = [
    "pandas>=3.0",
    "numpy>=2.0",
    "scipy>=1.13",
    "scikit-learn>=1.6",
    "lightgbm>=4.7",
    "pyarrow>=17",
]
"""Written out: inferring requirements makes `log_model` slow."""


def log_evaluation(
    tracking: Tracking,
    run_id: str,
    evaluations: dict[str, Evaluation],
    coverage: dict[str, float],
    importance: pd.DataFrame,
) -> None:
    """Log to run `run_id` every metric with its interval, the metrics table and the importance.

    Metric keys are grouped (`training.tracking.metric_keys`): `headline/<target>/...`
    (the budget metric of the model and of the followers baseline, their ratio, the
    held-out interval coverage) first in the UI, every other under
    `holdout/<target>/<policy>/<metric>`, bounds ending in `_low` / `_high`.
    """
    table = pd.concat(
        [ev.table.assign(target=t) for t, ev in evaluations.items()], ignore_index=True
    )
    metrics = run_metrics(evaluations, coverage)
    tracking.log_metrics(run_id, metrics)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        table.to_csv(out / "metrics.csv", index=False)
        importance.to_csv(out / "importance.csv", index=False)
        plot_family_importance(importance, out / "importance_by_family.png")
        for name in ("metrics.csv", "importance.csv", "importance_by_family.png"):
            tracking.client.log_artifact(run_id, str(out / name))


def log_model(
    tracking: Tracking,
    bundle: ModelBundle,
    example: pd.DataFrame,
    models_dir: Path,
    registered_model: str,
) -> str:
    """Log `bundle` as its run's pyfunc model, register it as challenger; return its version.

    The run is `bundle.metadata["run_id"]`; the model is logged through the handle's
    client (`training.tracking.logged_model.log_pyfunc`). `example` is a few feature
    rows with a `cost` column (the signature's input). The bundle folder
    `models_dir/influence-<run id>` appears only once the version is registered, so
    that a run killed before then leaves no bundle that no manifest names
    (tests/e2e/test_crash.py).
    """
    run_id = bundle.metadata["run_id"]
    signature = infer_signature(example, bundle.predict(example, example["cost"]))
    with atomic_path(models_dir / f"influence-{run_id[:12]}") as staged:
        write_bundle(bundle, staged)
        # MLflow's notices about how the pyfunc was logged (as code, with the bundle folder
        # as its artifact) are not the user's to act on.
        with quieted(logging.ERROR, "mlflow.pyfunc", "mlflow.models.model"):
            model = log_pyfunc(
                tracking.client,
                run_id,
                "model",
                python_model=str(MODEL_CODE),  # models from code: nothing is pickled
                artifacts={"bundle": str(staged)},
                code_paths=[
                    str(Path(features.__file__).parent),
                    str(Path(training.__file__).parent),
                ],
                signature=signature,
                input_example=example,
                pip_requirements=PIP_REQUIREMENTS,
            )
        version = _register(tracking.client, registered_model, model, run_id)
        tracking.client.set_registered_model_alias(registered_model, CHALLENGER, version)
    return version


def has_champion(tracking: Tracking, name: str) -> bool:
    """Whether the registered model `name` has a champion yet."""
    try:
        tracking.client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return False
    return True


def _register(client: MlflowClient, name: str, model: LoggedModel, run_id: str) -> str:
    """Register the logged model as a new version of `name`; return the version.

    Done through the client rather than `mlflow.pyfunc.log_model(registered_model_name=...)`,
    which prints registry notices straight to stderr.
    """
    try:
        client.get_registered_model(name)
    except MlflowException:
        try:
            client.create_registered_model(name)
        except MlflowException:
            # Two first-ever runs registering at once: the loser's create fails; the
            # winner's model is there now, and any other cause fails again here.
            client.get_registered_model(name)
    version = create_version(client, name, model, run_id)
    return str(version.version)
