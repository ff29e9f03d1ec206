"""Where the service's account histories come from: a data directory read whole, or a snapshot.

Reading a data directory means validating every file and recomputing every account's
features: minutes at agency scale. A snapshot (`features.snapshot`, written by
`influence materialize` or by `influence train --promote` beside the champion's bundle)
holds the result, so start-up and reload read a few arrays and map the posts. The choice:

1. `snapshot_dir` (`--snapshot`, INFLUENCE_SNAPSHOT_DIR) when set;
2. else `data_dir` (`--data`, INFLUENCE_DATA_DIR) when set;
3. else the served model's own snapshot in the project's models folder
   (`training.workspace.snapshot_folder`), when training wrote one.

A snapshot made with another model's fitted feature state is refused with the reason: its
rows would be wrong for the model served.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from features.errors import FeaturesError
from features.headers import ReadOptions
from features.histories import Histories, MemoryHistories
from features.io import load_dataset
from features.moment import observed_until
from features.online import OnlineFeatures
from features.snapshot import SnapshotError, read_snapshot
from serving.errors import NotReadyError
from serving.settings import ServingSettings
from training.artifacts.bundle import ModelBundle
from training.workspace import snapshot_folder

__all__ = [
    "Loaded",
    "data_dir_of",
    "end_of_data",
    "load_histories",
    "recorded_read",
    "source_of",
]


@dataclass(frozen=True)
class Loaded:
    """What a source gives the service: histories, online features and where they came from."""

    histories: Histories
    online: OnlineFeatures
    as_of: pd.Timestamp
    digest: str
    """The data's digest (`features.io.Dataset.digest`), recorded by the snapshot."""
    data_dir: Path
    """The data directory read, or the one the snapshot was materialized from."""
    read: ReadOptions
    """How that directory is read (for the commands the service suggests)."""
    snapshot: Path | None
    """The snapshot folder, when the histories come from one."""


def source_of(settings: ServingSettings, version: str) -> tuple[str, Path]:
    """("snapshot", folder) or ("data", folder): what the service reads, by the order above.

    Takes the settings and the served model's version (whose own snapshot is the default).
    Raises NotReadyError saying how to name one when there is neither.
    """
    if settings.snapshot_dir is not None:
        return "snapshot", settings.snapshot_dir
    if settings.data_dir is not None:
        return "data", settings.data_dir
    own = snapshot_folder(settings.training().project_models_dir(), version)
    if own.is_dir():
        return "snapshot", own
    raise NotReadyError(
        "no data: set INFLUENCE_DATA_DIR (or --data) to the folder of account histories, or "
        f"INFLUENCE_SNAPSHOT_DIR (or --snapshot) to a snapshot; model version {version} has "
        f"none at {own} (influence materialize DATA_DIR --out {own} writes one)"
    )


def recorded_read(recorded: dict[str, Any]) -> ReadOptions:
    """How the data a snapshot was materialized from was read, from its manifest (for the
    commands the service suggests: the mapping itself is not needed to serve)."""
    return ReadOptions(
        columns_file=str(recorded.get("columns_file") or ""),
        dayfirst=bool(recorded.get("dayfirst")),
    )


def data_dir_of(settings: ServingSettings) -> Path:
    """The configured data directory; NotReadyError saying how to set it when there is none."""
    if settings.data_dir is None:
        raise NotReadyError(
            "no data: set INFLUENCE_DATA_DIR (or --data) to the folder of account histories"
        )
    return settings.data_dir


def end_of_data(
    post_times: pd.Series,
    placements: pd.DataFrame,
    data_dir: Path,
    now: pd.Timestamp | None = None,
) -> pd.Timestamp:
    """The moment the data stands at: just after its latest observed post or placement.

    Takes the posts' times (all, or each partition's latest before
    `first_unobserved(now)`), the placements and the directory (for the message).
    Planned placements (no outcome yet) and rows dated after `now` are not
    observations (`features.moment.observed_until`): one plan months ahead must
    not move every account's features to then. NotReadyError when no post was
    observed: nothing describes an account. A snapshot stands at the moment this gave
    when it was materialized.
    """
    if pd.isna(observed_until(post_times, placements.iloc[0:0], now)):
        raise NotReadyError(f"no data: {data_dir} has no posts to describe accounts by")
    return observed_until(post_times, placements, now) + pd.Timedelta(seconds=1)


def load_histories(settings: ServingSettings, bundle: ModelBundle, version: str) -> Loaded:
    """Read the source `source_of` chooses, with the model's fitted builder.

    Takes the settings, the served bundle and its version. Returns the histories, the
    online features and their lineage. Raises NotReadyError with the reason when the
    source cannot be read or does not fit the model.
    """
    kind, folder = source_of(settings, version)
    if kind == "snapshot":
        try:
            snapshot = read_snapshot(folder, bundle.builder)
        except SnapshotError as e:
            raise NotReadyError(f"the snapshot cannot be served: {e}") from e
        recorded = snapshot.manifest
        return Loaded(
            histories=snapshot.histories,
            online=snapshot.online,
            as_of=snapshot.as_of,
            digest=str(recorded.get("data_digest") or ""),
            data_dir=Path(str(recorded.get("data_dir") or folder)),
            read=recorded_read(recorded),
            snapshot=folder,
        )
    read = settings.read_options()
    try:
        data = load_dataset(folder, read)
    except FeaturesError as e:
        raise NotReadyError(f"no data: {e}") from e
    as_of = end_of_data(data.posts["posted_at"], data.placements, folder)
    try:
        online = OnlineFeatures.build(bundle.builder, data, as_of)
    except Exception as e:  # a model that cannot describe this data must not crash start-up
        raise NotReadyError(f"the model cannot describe the data in {folder}: {e}") from e
    return Loaded(
        histories=MemoryHistories(data),
        online=online,
        as_of=as_of,
        digest=data.digest(),
        data_dir=folder,
        read=read,
        snapshot=None,
    )
