"""The files of an exported bundle: bounded reads, names confined to a folder, sha256 first.

A manifest is a small JSON file naming the bundle's files (paths relative to the
manifest's own folder) and each file's sha256. `read_manifest` reads one without
following it anywhere unsafe; `read_listed` returns every listed file's bytes
after checking that its name stays inside the manifest's folder, that it is a
regular file and that its sha256 matches. Nothing here unpickles: the bytes are
handed to parsers of plain formats (JSON, LightGBM's model text, NumPy `.npz`
without object arrays).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from features.io import atomic_path
from training.errors import TrainingError

__all__ = [
    "FILE_LIMIT",
    "MANIFEST_LIMIT",
    "MANIFEST_VERSION",
    "BundleError",
    "read_listed",
    "read_manifest",
    "sha256_of",
    "write_json",
]

MANIFEST_VERSION = 2
"""Version 1 named one pickled file; version 2 names plain files, each with its sha256."""
MANIFEST_LIMIT = 1 << 20
"""A manifest lists a dozen files: anything over 1 MiB is not one, and is not read."""
FILE_LIMIT = 1 << 30
"""A bundle file over 1 GiB is refused rather than read into memory."""


class BundleError(TrainingError):
    """A bundle or its manifest is missing, unreadable, outside its folder or tampered with."""


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_regular(path: Path, limit: int, what: str) -> bytes:
    """The bytes of `path` if it is a regular file of at most `limit` bytes.

    `what` names the file in messages ("The model manifest"). FileNotFoundError
    passes through (callers word it); anything else that is not a readable regular
    file within the limit is a BundleError. Opened without blocking, so that a FIFO
    or a device named as a model cannot hang the reader, and checked with `fstat`
    on the opened file, so that what is checked is what is read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as e:
        raise BundleError(f"{what} {path} cannot be read: {e.strerror or e}.") from e
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise BundleError(f"{what} {path} is {_kind(info.st_mode)}, not a regular file.")
        if info.st_size > limit:
            raise BundleError(f"{what} {path} has {info.st_size} bytes, over the limit of {limit}.")
        try:
            data = f.read(limit + 1)
        except OSError as e:
            raise BundleError(f"{what} {path} cannot be read: {e.strerror or e}.") from e
    if len(data) > limit:  # it grew while being read
        raise BundleError(f"{what} {path} has over {limit} bytes, the limit.")
    return data


def read_manifest(path: Path) -> dict[str, Any]:
    """Read and check a manifest; BundleError with the reason when it cannot be used.

    Takes the manifest's path. Returns its entries: `bundle` (the file describing
    the bundle) and `files` ({path relative to the manifest's folder: sha256}), plus
    whatever the writer added (version, data digest, metrics). Refused: a missing,
    unreadable, oversized or non-regular file, one that is not UTF-8 JSON, and a
    manifest of the old pickled format.
    """
    what = "The model manifest"
    try:
        raw = read_regular(Path(path), MANIFEST_LIMIT, what)
    except FileNotFoundError as e:
        raise BundleError(
            f"No model manifest at {path}; run `influence train` to create one."
        ) from e
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise BundleError(f"{what} {path} is not UTF-8 text: {e}.") from e
    except json.JSONDecodeError as e:
        raise BundleError(f"{what} {path} cannot be read: {e}.") from e
    if not isinstance(manifest, dict):
        raise BundleError(f"{what} {path} is not a JSON object.")
    if "file" in manifest and "files" not in manifest:
        raise BundleError(
            f"{what} {path} names a pickled bundle ({manifest['file']}), which is no longer "
            "loaded. Train again to export the model as plain files."
        )
    files = manifest.get("files")
    if (
        not isinstance(files, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())
        or not isinstance(manifest.get("bundle"), str)
    ):
        raise BundleError(
            f"{what} {path} lacks its 'bundle' entry or its 'files' (each a name and a sha256)."
        )
    if manifest["bundle"] not in files:
        raise BundleError(f"{what} {path} does not list its bundle {manifest['bundle']!r}.")
    return manifest


def _refuse(manifest_path: Path, entry: str, reason: str) -> BundleError:
    return BundleError(
        f"The model manifest {manifest_path} is refused: its entry {entry!r} {reason}; a "
        f"manifest may name only files inside its own folder ({manifest_path.parent})."
    )


def contained(manifest_path: Path, entry: str) -> Path:
    """The resolved path of `entry`, which must stay inside the manifest's folder.

    BundleError naming the entry when it is absolute, has a `..` part, or leads out
    of the folder through a symlink (the path is resolved before it is compared).
    """
    name = PurePosixPath(entry)
    if not entry or "\\" in entry or "\0" in entry:
        raise _refuse(manifest_path, entry, "is not a plain relative path")
    if name.is_absolute():
        raise _refuse(manifest_path, entry, "is an absolute path")
    if ".." in name.parts:
        raise _refuse(manifest_path, entry, "goes up a folder with '..'")
    root = manifest_path.parent.resolve()
    resolved = (root / name).resolve()
    if not resolved.is_relative_to(root):
        raise _refuse(manifest_path, entry, f"leads through a symlink to {resolved}")
    return resolved


def read_listed(manifest_path: Path, manifest: dict[str, Any]) -> dict[str, bytes]:
    """Every file the manifest lists, as bytes, each checked before anything parses it.

    Takes the manifest's path and its entries (`read_manifest`). Returns {entry:
    bytes}. Raises BundleError naming the entry and the reason: outside the folder
    (`contained`), missing, not a regular file, unreadable, or a sha256 that differs
    from the manifest's. The bytes checked are the bytes returned, so a file swapped
    after the check is never parsed.
    """
    manifest_path = Path(manifest_path)
    # Every name first: a manifest naming anything outside is refused before any read.
    located = {entry: contained(manifest_path, entry) for entry in manifest["files"]}
    checked: dict[str, bytes] = {}
    for entry, file in located.items():
        expected = manifest["files"][entry]
        try:
            data = read_regular(file, FILE_LIMIT, "The model file")
        except FileNotFoundError as e:
            raise BundleError(f"The model file {file} named by {manifest_path} is missing.") from e
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise BundleError(
                f"The model file {file} does not match its manifest (sha256 {actual[:12]}... "
                f"instead of {expected[:12]}...); it is truncated or was changed. "
                "Train again or restore the file."
            )
        checked[entry] = data
    return checked


def write_json(path: Path, value: Any) -> Path:
    """Write `value` as indented JSON to `path`, atomically; return the path."""
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(value, indent=2, default=str) + "\n", encoding="utf-8")
    return Path(path)
