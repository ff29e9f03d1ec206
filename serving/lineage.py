"""Whether the data served is the data the model learned from, in one flag and one sentence.

Training records the digest of its data (`features.io.Dataset.digest`, as `data_digest` in
the bundle's manifest); the service computes the digest of the data directory it loads.
The same digest: the model describes the accounts it was trained on. Another: a newer
export of the same brand (expected between two trainings, and worth a new one), or
another brand's data served with the wrong project's model, which nothing else would
show. `GET /model` carries the check and `influence serve` warns at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from features.headers import ReadOptions
from training.workspace import project_flag

__all__ = ["DataCheck", "check_data", "check_manifest", "read_flags"]


@dataclass(frozen=True)
class DataCheck:
    """The comparison of the served data's digest with the model's training data's."""

    matches: bool | None
    """True for the same digest, False for another, None when the model records none."""
    note: str
    """The comparison in one sentence; when they differ, what to do."""


def check_data(
    trained_on: str | None,
    served: str,
    data_dir: Path,
    version: str,
    project: str,
    read: ReadOptions = ReadOptions(),  # frozen: one shared default is safe
) -> DataCheck:
    """Compare the digest a model's manifest records (`trained_on`, None if it records
    none) with the digest of the data served from `data_dir`; `version` names the model,
    and `project` and `read` (how the data is read: `--columns`, `--dayfirst`) the
    command that would train one on this data, which must read it as the service does."""
    model = f"model version {version}"
    if trained_on is None:
        return DataCheck(
            None,
            f"The manifest of {model} does not record the digest of the data it was trained "
            f"on, so the data in {data_dir} cannot be compared with it.",
        )
    if trained_on == served:
        return DataCheck(
            True,
            f"The data in {data_dir} is the data {model} was trained on (digest {served[:8]}).",
        )
    return DataCheck(
        False,
        f"The data in {data_dir} (digest {served[:8]}) is not the data {model} was trained "
        f"on (digest {trained_on[:8]}): if it is a newer export of the same brand, train on "
        f"it (influence train {data_dir}{read_flags(read)}{project_flag(project)}); if it is "
        "another brand's, serve that brand's project (--project NAME).",
    )


def read_flags(read: ReadOptions) -> str:
    """The flags that read the data as `read` says: ` --columns map.toml --dayfirst`, or ''."""
    columns = f" --columns {read.columns_file}" if read.columns_file else ""
    return columns + (" --dayfirst" if read.dayfirst else "")


def check_manifest(
    manifest: dict[str, Any],
    served: str,
    data_dir: Path,
    project: str,
    read: ReadOptions = ReadOptions(),  # frozen: one shared default is safe
) -> DataCheck:
    """`check_data` for a model's manifest entries (its `data_digest` and `version`)."""
    recorded = manifest.get("data_digest")
    return check_data(
        str(recorded) if recorded else None,
        served,
        data_dir,
        str(manifest.get("version", "unknown")),
        project,
        read,
    )
