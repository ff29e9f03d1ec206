"""Writing a simulated world as a data directory (`write_world`), beside its ground truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.contract import TABLES
from features.errors import FeaturesError
from features.io import account_buckets, atomic_path

if TYPE_CHECKING:
    from features.simulate import World

__all__ = ["METADATA_FILE", "TRUTH_FILE", "write_world"]


METADATA_FILE = "simulation.json"
TRUTH_FILE = "truth.parquet"


def write_world(world: World, out: Path, fmt: str = "parquet", partitions: int = 1) -> None:
    """Write a world as a data directory: the four tables, `truth.parquet`, `simulation.json`.

    The directory is written whole into a temporary folder and swapped into place,
    so `out` is either the previous complete directory or the new one, never a
    mix. An existing `out` is replaced only when it is empty or was itself written
    by the simulator; any other folder is refused, so user data is never deleted.
    With `partitions` > 1 (Parquet only) each table is a folder `NAME.parquet` of
    that many files; accounts, posts and placements are split by `account_buckets`,
    so file i of posts and of placements hold the same accounts (campaigns are cut
    in consecutive slices). With 1, the files are exactly those of earlier versions.
    """
    out = Path(out)
    if fmt not in ("parquet", "csv"):
        raise FeaturesError(f"The format must be parquet or csv, got {fmt!r}.")
    if partitions < 1 or (partitions > 1 and fmt != "parquet"):
        raise FeaturesError(
            f"--partitions must be 1, or more with --format parquet; got {partitions} with {fmt}."
        )
    if out.exists() and (
        not out.is_dir() or (any(out.iterdir()) and not (out / METADATA_FILE).exists())
    ):
        raise FeaturesError(
            f"{out} exists and was not written by `influence simulate`; "
            "choose a new --out folder so that nothing of yours is overwritten."
        )
    with atomic_path(out) as tmp:
        tmp.mkdir()
        for name in TABLES:
            frame: pd.DataFrame = getattr(world, name)
            if partitions > 1:
                _write_partitioned(frame, tmp / f"{name}.parquet", partitions)
            elif fmt == "parquet":
                frame.to_parquet(tmp / f"{name}.parquet", index=False)
            else:
                frame.to_csv(tmp / f"{name}.csv", index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
        world.truth.to_parquet(tmp / TRUTH_FILE, index=False)
        (tmp / METADATA_FILE).write_text(json.dumps(world.metadata(), indent=2) + "\n")


def _write_partitioned(frame: pd.DataFrame, folder: Path, partitions: int) -> None:
    """`partitions` Parquet files `part-00000.parquet`... in `folder`, by account bucket."""
    folder.mkdir()
    if "account_id" in frame:
        bucket = account_buckets(frame["account_id"], partitions)
    else:
        bucket = np.arange(len(frame)) * partitions // max(len(frame), 1)
    for i in range(partitions):
        frame[bucket == i].to_parquet(folder / f"part-{i:05d}.parquet", index=False)
