"""A pyfunc model logged to a given run, and registered, through a given client.

`mlflow.pyfunc.log_model` resolves the store from MLflow's process-wide tracking URI
and the experiment from the active run or `mlflow.set_experiment` (MLflow 3.x:
`Model.log` builds `MlflowClient(_resolve_tracking_uri())`, even with `run_id` or
`model_id`). `log_pyfunc` does the same steps with public calls on an explicit
client: create the logged model of the run, link it to the run as an output with the
run's metrics, save the pyfunc with `mlflow.pyfunc.save_model` into a temporary folder,
upload that folder as the model's artifacts, and mark the model READY (FAILED when a
step raises). What `log_model` adds beyond that is left out: it loads the saved model
again to check that the input example can be served, and only warns when it cannot.

`create_version` registers it. It is the one place in the project that touches an
MLflow global, and only for a database registry: see its docstring.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import LoggedModel, LoggedModelOutput, LoggedModelStatus, Metric
from mlflow.entities.model_registry import ModelVersion
from mlflow.models import Model
from mlflow.tracking import MlflowClient
from mlflow.tracking.context.registry import resolve_tags

from training.tracking.database import is_database_url

__all__ = ["create_version", "log_pyfunc"]


def log_pyfunc(client: MlflowClient, run_id: str, name: str, **save_model: Any) -> LoggedModel:
    """Log a pyfunc model named `name` as an output of run `run_id`; return it, READY.

    `save_model` are `mlflow.pyfunc.save_model`'s arguments (`python_model`,
    `artifacts`, `code_paths`, `signature`, `input_example`, `pip_requirements`, ...),
    as `mlflow.pyfunc.log_model` takes them. The model gets the run's parameters and
    MLflow's context tags, as `log_model` gives it; `create_version` registers it.
    """
    run = client.get_run(run_id)
    model = client.create_logged_model(
        run.info.experiment_id,
        name=name,
        source_run_id=run_id,
        tags=resolve_tags(),
        params={k: str(v) for k, v in run.data.params.items()},
    )
    try:
        client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
        _link_metrics(client, run_id, model.model_id)
        with tempfile.TemporaryDirectory(prefix="influence-pyfunc-") as tmp:
            local = Path(tmp) / name
            spec = Model(
                artifact_path=model.artifact_location,
                model_uuid=model.model_id,
                run_id=run_id,
                model_id=model.model_id,
            )
            mlflow.pyfunc.save_model(str(local), mlflow_model=spec, **save_model)
            # Loading the code to check it leaves caches that are no part of the model.
            for cache in list(local.rglob("__pycache__")):
                shutil.rmtree(cache, ignore_errors=True)
            client.log_model_artifacts(model.model_id, str(local))
    except Exception:
        client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
        raise
    return client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)


def _link_metrics(client: MlflowClient, run_id: str, model_id: str) -> None:
    """Log the run's step-0 metrics again, tied to the model: MLflow shows them on the model."""
    linked = [
        Metric(m.key, m.value, m.timestamp, m.step, model_id=model_id, run_id=run_id)
        for key in client.get_run(run_id).data.metrics
        for m in client.get_metric_history(run_id, key)
        if m.step == 0 and m.model_id is None
    ]
    if linked:
        client.log_batch(run_id, metrics=linked)


def create_version(
    client: MlflowClient, name: str, model: LoggedModel, run_id: str
) -> ModelVersion:
    """`client.create_model_version` of the logged model, with source `models:/<model id>`.

    MLflow 3.x's database registry (SQLite, PostgreSQL) looks such a source up with
    `MlflowClient()`, in the process-wide tracking store rather than the client's
    ("TODO: Propagate tracking URI to file sqlalchemy directly, rather than relying on
    global URI", mlflow/store/model_registry/sqlalchemy_store.py). No public call
    avoids that but a different source, which would change what the version records.
    So for a database registry, and for this one call, MLflow's process-wide tracking
    URI is the client's, then what it was (`_process_tracking_uri`); a tracking server
    resolves the source itself and needs nothing of the kind. Nowhere else in the
    project is an MLflow global set.
    """
    registry: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if is_database_url(client.tracking_uri):
        registry = _process_tracking_uri(client.tracking_uri)
    with registry:
        return client.create_model_version(
            name, source=f"models:/{model.model_id}", run_id=run_id, model_id=model.model_id
        )


@contextlib.contextmanager
def _process_tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's process-wide tracking URI set to `uri` inside the block, then put back.

    `mlflow.set_tracking_uri` also sets the MLFLOW_TRACKING_URI variable; both are
    restored in a `finally`, so that after the block `mlflow.get_tracking_uri()` and
    the environment read as before, exception or not. No run is started or ended.
    """
    variable = "MLFLOW_TRACKING_URI"
    was_set = mlflow.is_tracking_uri_set()  # type: ignore[no-untyped-call]
    before = mlflow.get_tracking_uri() if was_set else None
    environment = os.environ.get(variable)
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before)  # type: ignore[arg-type]  # None unsets it
        if environment is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = environment
