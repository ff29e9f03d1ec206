"""The files of a snapshot folder (`features.snapshot`): written beside and renamed into
place, each listed in the manifest with its sha256 and checked before it is read.

NumPy arrays are saved and loaded with `allow_pickle=False`; tables are Parquet or Arrow
IPC files. Nothing in a snapshot is unpickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from features.errors import FeaturesError

__all__ = [
    "MANIFEST",
    "SNAPSHOT_FORMAT",
    "SnapshotError",
    "building",
    "checked_manifest",
    "load_array",
    "load_sparse",
    "save_array",
    "save_sparse",
    "sha256",
    "write_manifest",
]

MANIFEST = "snapshot.json"
SNAPSHOT_FORMAT = 2
"""The layout's version: a reader refuses a snapshot written in another."""


class SnapshotError(FeaturesError):
    """A snapshot folder that cannot be used, and why, in one sentence."""


def sha256(path: Path) -> str:
    """The file's sha256, in 64 hex digits, read in blocks (a posts file may be gigabytes)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def save_array(folder: Path, name: str, values: npt.NDArray[Any]) -> str:
    """Save `values` as `folder/name.npy` (no pickle); returns the file's name."""
    file = f"{name}.npy"
    np.save(folder / file, np.ascontiguousarray(values), allow_pickle=False)
    return file


def save_sparse(folder: Path, name: str, matrix: sp.csr_matrix) -> list[str]:
    """Save a CSR matrix as its three arrays; returns their file names."""
    matrix = sp.csr_matrix(matrix)
    return [
        save_array(folder, f"{name}.{part}", getattr(matrix, part))
        for part in ("data", "indices", "indptr")
    ]


def load_array(folder: Path, manifest: dict[str, Any], name: str) -> npt.NDArray[Any]:
    """The array `name` of a checked snapshot (`checked_manifest`)."""
    if f"{name}.npy" not in manifest["files"]:
        raise SnapshotError(f"{folder / MANIFEST} does not list {name}.npy.")
    values: npt.NDArray[Any] = np.load(folder / f"{name}.npy", allow_pickle=False)
    return values


def load_sparse(folder: Path, manifest: dict[str, Any], name: str) -> sp.csr_matrix:
    """The CSR matrix `name` of a checked snapshot, of the shape its manifest records."""
    parts = (load_array(folder, manifest, f"{name}.{p}") for p in ("data", "indices", "indptr"))
    return sp.csr_matrix(tuple(parts), shape=tuple(manifest["shapes"][name]))


@contextlib.contextmanager
def building(out: Path) -> Iterator[Path]:
    """A temporary folder beside `out` to write a snapshot into, renamed to `out` (replacing
    what was there) when the block ends without error and removed when it fails: a reader
    sees the old snapshot or the new one, never a part.

    Raises SnapshotError, before writing anything, when `out` is a file, or a folder that
    holds something but no snapshot: replacing it would delete what is there.
    """
    if out.is_file() or (out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file()):
        raise SnapshotError(
            f"{out} exists and is not a snapshot: writing one there would delete it; "
            "choose a new or empty folder."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        yield work
        if out.exists():
            # Moved aside, then removed: the rename of the new one is the only gap. A service
            # still mapping the old posts keeps reading them: removing a file leaves what a
            # process has mapped (POSIX) until it reloads.
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(work, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def write_manifest(folder: Path, manifest: dict[str, Any], files: list[str]) -> Path:
    """Write `manifest` with the format and each of `files`' sha256 to `folder/snapshot.json`."""
    listed = {"format": SNAPSHOT_FORMAT, **manifest}
    listed["files"] = {f: sha256(folder / f) for f in sorted(files)}
    path = folder / MANIFEST
    path.write_text(json.dumps(listed, indent=2) + "\n")
    return path


def checked_manifest(folder: Path, files: bool = True) -> dict[str, Any]:
    """The manifest of `folder`, once its format and (with `files`) every file's sha256
    are checked.

    Raises SnapshotError naming the folder or the file: no manifest, another format, a
    file missing or changed (a snapshot written in part, or edited).
    """
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise SnapshotError(f"{folder} is not a snapshot: it has no {MANIFEST}.") from None
    except (OSError, ValueError) as e:
        raise SnapshotError(f"{folder / MANIFEST} cannot be read as JSON: {e}.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != SNAPSHOT_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise SnapshotError(
            f"{folder / MANIFEST} is in snapshot format {found!r}; this version reads "
            f"format {SNAPSHOT_FORMAT}: materialize it again."
        )
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise SnapshotError(f"{folder / MANIFEST} lists no files.")
    for name, digest in listed.items() if files else ():
        path = folder / str(name)
        if Path(str(name)).name != name or not path.is_file() or sha256(path) != digest:
            raise SnapshotError(
                f"{path} is missing or not the file the snapshot's manifest lists (sha256 "
                "differs): the snapshot is incomplete or was changed; materialize it again."
            )
    return manifest
