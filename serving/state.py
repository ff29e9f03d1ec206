"""What the service holds in memory: the model, the account histories (from a data directory
or a snapshot, `serving.sources`), when they end,
whether they are the data the model was trained on (`serving.lineage`), and where the
project's latest backtest is (`serving.backtest`, read on first use).

A `ServiceState` is built whole and never changed; reloading builds a new one and
swaps the reference, so a request that started on the old state finishes on it.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from features.histories import Histories
from features.io import Dataset
from features.online import OnlineFeatures
from features.profile import TierNorms
from serving.backtest import BacktestReads, BacktestSource
from serving.errors import NotReadyError
from serving.lineage import DataCheck, check_manifest, read_flags
from serving.settings import ServingSettings
from serving.sources import load_histories
from training.artifacts.bundle import ModelBundle, load_bundle, read_manifest
from training.errors import TrainingError
from training.units import CostUnit
from training.workspace import project_flag

if TYPE_CHECKING:
    from training.tracking.store import Tracking

__all__ = [
    "ServiceState",
    "freeze_heap",
    "load_model",
    "load_state",
    "model_manifest",
]


@dataclass(frozen=True)
class ServiceState:
    """An immutable snapshot: model, histories indexed per account, and their end."""

    bundle: ModelBundle
    manifest: dict[str, Any]
    histories: Histories
    """Each account's posts and placements (`features.histories`), read per request."""
    as_of: pd.Timestamp
    online: OnlineFeatures
    """Every known account's campaign-free features as of `as_of` (`features.online`)."""
    version: str
    """The model version being served."""
    targets: tuple[str, ...]
    """What the model predicts, in training order."""
    data_check: DataCheck
    """Whether `data` is the data the model was trained on (their digests compared)."""
    backtests: BacktestSource
    """Where the project's backtests are logged, and which to prefer (`serving.backtest`)."""
    snapshot: Path | None = None
    """The snapshot folder the histories come from; None when from a data directory."""

    @cached_property
    def norms(self) -> TierNorms:
        """What accounts of each follower tier typically show, for profiles
        (`features.profile`): a snapshot's stored norms, or computed from the data on the
        first profile asked for, not at start-up or on reload, which only profiles need
        (about 0.8 s of CPU per million posts)."""
        return self.histories.norms(self.as_of)

    @cached_property
    def post_counts(self) -> Mapping[str, int]:
        """Per known account (one with a post), its number of posts; ids sorted."""
        return self.histories.post_counts()

    @cached_property
    def backtest_reads(self) -> BacktestReads:
        """The project's latest backtest (`serving.backtest`): read from MLflow on the first
        look at the model's page or `/model`, not at start-up or on reload, which only those
        need (a first MLflow client costs about 2 s of CPU). Made on the event loop."""
        return BacktestReads(self.backtests)

    @property
    def unit(self) -> CostUnit:
        """The words for cost: the currency the model was trained with ("per EUR"), from
        its manifest; "per unit cost" when it recorded none (or none that can be shown)."""
        try:
            return CostUnit.of(self.manifest.get("currency"))
        except ValueError:
            return CostUnit()

    def knows(self, account_id: str) -> bool:
        """Whether the account is in the service's data."""
        return self.histories.knows(account_id)

    def history(self, account_ids: list[str]) -> Dataset:
        """The tables restricted to `account_ids` (campaigns left empty)."""
        return self.histories.take(account_ids)


def load_model(uri: str, tracking: Tracking | None = None) -> tuple[ModelBundle, dict[str, Any]]:
    """Load the bundle from a manifest path or a registry URI (`models:/name@alias`).

    Both go through `load_bundle`: files inside the manifest's folder only, each
    sha256 checked, nothing unpickled. A registry URI is read from the store of
    `tracking` (`use_tracking` of the training settings when not given). Raises
    NotReadyError naming the reason when it cannot be loaded.
    """
    try:
        if uri.startswith("models:/"):
            if tracking is None:
                from training.settings import get_settings
                from training.tracking.store import use_tracking

                tracking = use_tracking(get_settings())
            return _from_registry(uri, tracking)
        return load_bundle(Path(uri))
    except (TrainingError, OSError) as e:
        raise NotReadyError(f"no model: {e}") from e


def _from_registry(uri: str, tracking: Tracking) -> tuple[ModelBundle, dict[str, Any]]:
    """The registered model's bundle folder, downloaded and read by `load_bundle`.

    MLflow's own loader would run the model's code from the store; only the
    artifacts are fetched here, through the handle's client (MLflow's download of a
    `models:/` URI would resolve it in the process-wide registry instead). The
    version named (`models:/name@alias`, `models:/name/N`, a stage or `latest`) is
    reported; a logged model's own URI (`models:/<model id>`) has none.
    """
    import tempfile

    import mlflow
    from mlflow.models import Model
    from mlflow.store.artifact.utils.models import get_model_name_and_version

    from training.artifacts.bundle import FOLDER_MANIFEST
    from training.artifacts.files import contained

    client = tracking.client
    with tempfile.TemporaryDirectory(prefix="influence-model-") as tmp:
        try:
            # MLflow's own resolver of a `models:/` URI, given our client (it has no types).
            found = get_model_name_and_version(client, uri)  # type: ignore[no-untyped-call]
            if len(found) == 1:  # models:/<model id>: a logged model, registered or not
                version, source = "unknown", client.get_logged_model(found[0]).artifact_location
            else:
                version = str(found[1])
                source = client.get_model_version_download_uri(found[0], version)
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=source, dst_path=tmp, tracking_uri=tracking.uri
                )
            )
            artifacts = Model.load(str(local)).flavors["python_function"]["artifacts"]
            folder = str(artifacts["bundle"]["path"])
        except Exception as e:  # MLflow raises many kinds for a missing or broken model
            raise NotReadyError(f"no model at {uri}: {e}") from e
        # The MLmodel file names the folder: it too must stay inside the download.
        manifest = contained(local / "MLmodel", f"{folder}/{FOLDER_MANIFEST}")
        bundle, _ = load_bundle(manifest)
    return bundle, {"version": version, **bundle.metadata}


def model_manifest(uri: str) -> dict[str, Any] | None:
    """The manifest entries (version, data digest, metrics) of the model at `uri`, a
    manifest or a registry URI; None when it cannot be read (the service then says why
    it cannot load it). A manifest file is only read, its bundle neither checked nor
    loaded; a registry model is loaded, since its manifest is inside its artifacts."""
    try:
        return load_model(uri)[1] if uri.startswith("models:/") else read_manifest(Path(uri))
    except (NotReadyError, TrainingError, OSError):
        return None


def load_state(settings: ServingSettings) -> ServiceState:
    """Load the model and its histories (`serving.sources`: a data directory or a snapshot);
    NotReadyError with the reason if either is missing, broken or does not fit the other."""
    bundle, manifest = load_model(settings.model_uri)
    version = str(manifest.get("version", "unknown"))
    loaded = load_histories(settings, bundle, version)
    recorded = manifest.get("data_digest")
    backtests = BacktestSource(
        training=settings.training(),
        model_digest=str(recorded) if recorded else None,
        served_digest=loaded.digest,
        command=f"influence compare {loaded.data_dir}{read_flags(loaded.read)} --out report"
        f"{project_flag(settings.project)}",
    )
    return ServiceState(
        bundle=bundle,
        manifest=manifest,
        histories=loaded.histories,
        as_of=loaded.as_of,
        online=loaded.online,
        version=version,
        targets=tuple(bundle.targets),
        data_check=check_manifest(
            manifest, loaded.digest, loaded.data_dir, settings.project, loaded.read
        ),
        backtests=backtests,
        snapshot=loaded.snapshot,
    )


def freeze_heap() -> None:
    """Collect what a load left behind, then exempt what survives from the cyclic GC.

    A loaded state is some 140,000 objects that live until the next reload; every
    full collection would walk them all (about 70 ms on 2 cores), at whatever
    request happens to trigger it. Call after each load or swap: unfreezing first
    lets the collection free the previous state's reference cycles.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
