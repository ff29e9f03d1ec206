"""MLflow set-up: the embedded store by default; a tracking server or a shared database by
configuration.

`use_tracking` builds a `Tracking` handle once per command; everything that talks to
MLflow takes it and goes through its client. Nothing here reads or sets MLflow's
process-wide state (`mlflow.set_tracking_uri`, `mlflow.set_experiment`, the active
run): two handles on two stores can live in one process.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.tracking.context.registry import resolve_tags

from training.errors import TrainingError
from training.settings import TrainingSettings
from training.tracking.database import connect, is_database_url, redacted
from training.tracking.quiet import quieted

__all__ = [
    "EXPERIMENT_KIND",
    "EXPERIMENT_KIND_TAG",
    "Tracking",
    "TrackingStoreError",
    "stored_client",
    "use_tracking",
]


class TrackingStoreError(TrainingError):
    """The MLflow store's database cannot be used: its driver is missing or it is unreachable."""


@dataclass(frozen=True)
class Tracking:
    """One command's MLflow store: its URI, the experiment its runs go to, a client bound to it.

    `client` is an `MlflowClient` built with the URI as both tracking and registry URI;
    runs are created, logged and ended through it (`run`, `log_params`, `log_metrics`,
    `client.log_artifact`), never through MLflow's fluent API and its global state.
    """

    uri: str
    experiment_id: str
    client: MlflowClient = field(repr=False, compare=False)

    def run_page(self, run_id: str) -> str:
        """How to see a run in the MLflow UI, in one sentence: its page, on the runs view.

        A tracking server (http or https) shows it at its own address; a store (SQLite, a
        database) through `mlflow ui`, whose default address the link assumes, with the
        command to start it (a password shown as `***`). The link asks for the
        "Model training" view: MLflow 3.17 opens an experiment on its GenAI overview
        otherwise, whatever the experiment's tags say.
        """
        served = self.uri.startswith(("http://", "https://"))
        base = self.uri.rstrip("/") if served else "http://127.0.0.1:5000"
        page = (
            f"{base}/#/experiments/{self.experiment_id}/runs/{run_id}?workflowType=machine_learning"
        )
        if served:
            return f"See the run in the MLflow UI: {page}"
        shown = redacted(self.uri) if "@" in self.uri else self.uri
        return f"See the run in the MLflow UI (mlflow ui --backend-store-uri {shown}): {page}"

    @contextlib.contextmanager
    def run(self, tags: Mapping[str, str] | None = None, name: str | None = None) -> Iterator[str]:
        """Create a run in the experiment and yield its id; end it FINISHED, or FAILED.

        As `mlflow.start_run`'s context: the run gets MLflow's context tags (user,
        source, git commit) besides `tags`, and any exception, KeyboardInterrupt
        included, ends it FAILED before going on.
        """
        run = self.client.create_run(
            self.experiment_id, tags=resolve_tags(dict(tags or {})), run_name=name
        )
        status = "FAILED"
        try:
            yield run.info.run_id
            status = "FINISHED"
        finally:
            self.client.set_terminated(run.info.run_id, status=status)

    def log_params(self, run_id: str, params: Mapping[str, object]) -> None:
        """Log `params` to the run, each value as its `str` (as `mlflow.log_params` does)."""
        self.client.log_batch(run_id, params=[Param(k, str(v)) for k, v in params.items()])

    def log_metrics(self, run_id: str, metrics: Mapping[str, float]) -> None:
        """Log `metrics` to the run at step 0, all with this moment's timestamp."""
        now = int(time.time() * 1000)
        self.client.log_batch(
            run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()]
        )


def use_tracking(settings: TrainingSettings, experiment: str | None = None) -> Tracking:
    """The configured store and experiment (the project's training experiment,
    `settings.experiment_name()`, unless named), as a handle.

    Called once at the start of a command, never at import; sets no MLflow global. With
    the embedded default the `mlruns/` folder is created. When MLflow talks to a
    database itself (SQLite or a shared one such as PostgreSQL) a new experiment's
    artifacts go under `mlruns/` (MLflow's default is `./mlruns` wherever the command
    runs); a tracking server decides for itself. A database whose driver is missing or
    that cannot be reached raises TrackingStoreError at once, with one sentence,
    instead of MLflow's retries (about 100 s) and its traceback. The experiment is tagged
    as a machine learning one (`_experiment`).
    """
    uri = settings.tracking_uri()
    database = is_database_url(uri)
    if uri.startswith("sqlite:///"):
        settings.mlruns_dir.mkdir(parents=True, exist_ok=True)
    elif database:
        _reach(settings)
    name = experiment or settings.experiment_name()
    location = (settings.mlruns_dir / "artifacts").resolve().as_uri() if database else None
    # The embedded store is created (schema and all) by the first client on it; two
    # first-ever runs at once would both create it. A lock beside it lets one go first.
    lock = settings.mlruns_dir / LOCK_FILE if uri.startswith("sqlite:///") else None
    # The store's own start-up chatter (schema migrations) is noise on a user's terminal.
    noisy = STORE_LOGGERS if database else ()
    with quieted(logging.WARNING, *noisy), _locked(lock):
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)  # opens (or creates) the store
        exp_id = _experiment(client, name, location)
    return Tracking(uri=uri, experiment_id=exp_id, client=client)


def stored_client(settings: TrainingSettings) -> MlflowClient | None:
    """A client on the configured store as it is, for reading; None when the embedded
    store (a SQLite file) does not exist.

    Unlike `use_tracking`, creates nothing: no `mlruns/` folder, no database file (MLflow
    would create one, schema and all, for a SQLite URI that names no file), no
    experiment. For a service that shows what commands logged, where finding nothing is
    an answer. A database whose driver is missing or that cannot be reached raises
    TrackingStoreError at once, as `use_tracking` does.
    """
    uri = settings.tracking_uri()
    database = is_database_url(uri)
    if uri.startswith("sqlite:///"):
        if not Path(uri.removeprefix("sqlite:///")).is_file():
            return None
    elif database:
        _reach(settings)
    with quieted(logging.WARNING, *(STORE_LOGGERS if database else ())):
        return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _reach(settings: TrainingSettings) -> None:
    """Connect once to the store's database: TrackingStoreError, one sentence, when its
    driver is missing or it cannot be reached (MLflow would retry for about 100 s)."""
    connect(
        settings.configured_tracking_uri(),  # named as the user wrote it
        "The MLflow tracking store",
        "MLFLOW_TRACKING_URI (or INFLUENCE_MLFLOW_TRACKING_URI)",
        TrackingStoreError,
    ).dispose()


STORE_LOGGERS = ("mlflow.store.db.utils", "alembic")
"""What a database store logs while it creates or migrates its schema."""

LOCK_FILE = ".store.lock"
"""Beside the embedded store: held while the store and the experiment are created."""


@contextlib.contextmanager
def _locked(path: Path | None) -> Iterator[None]:
    """Hold an exclusive `flock` on `path` (created if absent); nothing when `path` is None."""
    if path is None:
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield


EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
"""The experiment tag MLflow 3's UI reads for an experiment's kind, where it reads a tag."""

EXPERIMENT_KIND = "custom_model_development"
"""The kind whose experiments open on their runs (the UI's "machine learning" workflow)."""


def _experiment(client: MlflowClient, name: str, location: str | None) -> str:
    """The id of experiment `name`, created when absent, tagged as a machine learning one.

    MLflow 3's UI opens an experiment on the tab its kind asks for
    (`useNavigateToExperimentPageTab` in mlflow/mlflow's
    mlflow/server/js/src/experiment-tracking/components/experiment-page/hooks/, kinds in
    `ExperimentKind` of experiment-tracking/constants.ts): `genai_development` on the
    GenAI overview or traces, `custom_model_development` on the runs. Where the kind comes
    from is `useExperimentKind` (experiment-tracking/utils/ExperimentKindUtils.ts): the
    `mlflow.experimentKind` tag only while `shouldEnableWorkflowBasedNavigation` is off;
    it is on in 3.17, and the kind is then the browser's workflow type (the sidebar's
    "GenAI | Model training" switch, remembered in its local storage, or `?workflowType=`
    in the address; GenAI by default), whatever the tag says. No store setting chooses
    that default, so the README tells the user to pick Model training. The tag is still
    set on creation, and on an experiment found without it (one an older version
    created), for the UIs that read it; a kind a user chose in the UI is left as it is.

    A shared store (a database or a server) has no lock of ours: when another process
    created the experiment between the look-up and the creation, it is looked up again.
    """
    found = client.get_experiment_by_name(name)
    if found is None:
        try:
            exp_id = str(
                client.create_experiment(
                    name, artifact_location=location, tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}
                )
            )
        except MlflowException:
            found = client.get_experiment_by_name(name)
            if found is None:
                raise
        else:
            return exp_id
    if EXPERIMENT_KIND_TAG not in found.tags:
        client.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
    return str(found.experiment_id)
