"""A materialized online snapshot: `OnlineFeatures` written to files and read back, bit for bit.

A service that reads the whole data directory and recomputes every account's features at
each start-up and reload waits minutes at agency scale (issue 17). This module is the
step between the offline engine and the service, as a feature store's `materialize` is:
`write_snapshot` stores a built `OnlineFeatures` (each known account's campaign-free row,
its recent captions as TF-IDF rows) in a folder, and `read_snapshot` gives back the same
object, so that `rows` answers to the bit what it answered before it was written.

The folder holds NumPy arrays (`.npy`, saved and loaded with `allow_pickle=False`),
Parquet tables for text, and `snapshot.json`: the format version, the as-of moment, the
fitted builder's state digest (`state_digest`), the data digest when given, and each
file's sha256. Nothing in it is unpickled. It is written into a temporary folder beside
the destination and renamed into place, so a failed write leaves no partial snapshot.
`read_snapshot` refuses, with `SnapshotError`, a folder whose files do not match their
digests or whose state digest is not the builder's: rows computed with another vocabulary
or other priors would be silently wrong.

Only the campaign-free features and captions are stored so far; what the account page
and `/discover` read of raw history is not (yet), so a service still needs the data
directory for those.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from features.builder import FEATURES, FeatureBuilder
from features.errors import FeaturesError
from features.online import OnlineFeatures
from features.relevance import RecentCaptions

__all__ = ["MANIFEST", "SNAPSHOT_FORMAT", "SnapshotError", "read_snapshot", "state_digest",
           "write_snapshot"]  # fmt: skip

MANIFEST = "snapshot.json"
SNAPSHOT_FORMAT = 1
"""The layout's version: a reader refuses a snapshot written in another."""

_ARRAYS = ("free", "text_codes", "positions", "counts", "norms")
_SPARSE = ("vectors", "profile")


class SnapshotError(FeaturesError):
    """A snapshot folder that cannot be used, and why, in one sentence."""


def state_digest(builder: FeatureBuilder) -> str:
    """The sha256 of a fitted builder's state: its parameters, vocabulary (terms in column
    order), IDF weights (their bytes) and priors; equal for builders that build the same
    rows. Takes a fitted `FeatureBuilder`; returns 64 hex digits."""
    builder._check_fitted()
    tfidf = builder.vectorizer_.vectorizer_
    terms = sorted(tfidf.vocabulary_, key=tfidf.vocabulary_.__getitem__)
    described = {
        "params": {
            "attribution_window_days": builder.attribution_window_days,
            "lookback_days": builder.lookback_days,
            "prior_strength": builder.prior_strength,
            "max_vocabulary": builder.max_vocabulary,
        },
        "features": list(FEATURES),
        "terms": terms,
        "idf": hashlib.sha256(
            np.ascontiguousarray(tfidf.idf_, dtype=np.float64).tobytes()
        ).hexdigest(),
        # repr keeps every bit of a float, as JSON's own formatting does
        "priors": {k: repr(float(v)) for k, v in sorted(builder.priors_.items())},
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _save_array(folder: Path, name: str, values: npt.NDArray[Any]) -> str:
    file = f"{name}.npy"
    np.save(folder / file, np.ascontiguousarray(values), allow_pickle=False)
    return file


def _save_sparse(folder: Path, name: str, matrix: sp.csr_matrix) -> list[str]:
    matrix = sp.csr_matrix(matrix)
    return [
        _save_array(folder, f"{name}.{part}", getattr(matrix, part))
        for part in ("data", "indices", "indptr")
    ]


def write_snapshot(
    online: OnlineFeatures,
    builder: FeatureBuilder,
    out: Path,
    *,
    data_digest: str | None = None,
) -> Path:
    """Write `online` (built with `builder`) to the folder `out`, replacing it if it exists.

    Takes the snapshot, the fitted builder it was built with, the destination and the
    digest of the data it describes (kept in the manifest for lineage). Returns the
    manifest's path. Files go to a temporary folder beside `out`, renamed into place at
    the end: a failure leaves whatever was at `out` before.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        captions = online.captions
        accounts = sorted(online.row_of, key=online.row_of.__getitem__)
        files = [
            _save_array(work, "free", online.free),
            *(_save_array(work, n, getattr(captions, n)) for n in _ARRAYS[1:]),
            *(f for n in _SPARSE for f in _save_sparse(work, n, getattr(captions, n))),
        ]
        pd.DataFrame({"account_id": pd.Series(accounts, dtype=object)}).to_parquet(
            work / "accounts.parquet", index=False
        )
        texts = {"text": captions.texts.tolist(), "lowered": captions.lowered.tolist()}
        pd.DataFrame(texts, dtype=object).to_parquet(work / "captions.parquet", index=False)
        files += ["accounts.parquet", "captions.parquet"]
        manifest = {
            "format": SNAPSHOT_FORMAT,
            "as_of": pd.Timestamp(online.as_of).isoformat(),
            "state_digest": state_digest(builder),
            "data_digest": data_digest,
            "accounts": len(accounts),
            "shapes": {n: list(getattr(captions, n).shape) for n in _SPARSE},
            "files": {f: _sha256(work / f) for f in sorted(files)},
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out / MANIFEST


def _manifest(folder: Path) -> dict[str, Any]:
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
    return manifest


def read_snapshot(folder: Path, builder: FeatureBuilder) -> OnlineFeatures:
    """The `OnlineFeatures` written to `folder`, for the fitted `builder` it was built with.

    Every file is checked against its sha256 in the manifest before it is loaded, and the
    manifest's state digest against `builder`'s. Raises SnapshotError, in one sentence
    naming the file or the digests, when a check fails.
    """
    folder = Path(folder)
    manifest = _manifest(folder)
    expected, found = state_digest(builder), manifest.get("state_digest")
    if found != expected:
        raise SnapshotError(
            f"{folder} was materialized with another fitted feature state (digest "
            f"{str(found)[:12]}) than the model's ({expected[:12]}): its rows would be "
            "wrong for this model; materialize it again with this model."
        )
    listed: dict[str, str] = manifest.get("files", {})
    for name, digest in listed.items():
        path = folder / name
        if Path(name).name != name or not path.is_file() or _sha256(path) != digest:
            raise SnapshotError(
                f"{path} is missing or not the file the snapshot's manifest lists (sha256 "
                "differs): the snapshot is incomplete or was changed; materialize it again."
            )

    def array(name: str) -> npt.NDArray[Any]:
        if f"{name}.npy" not in listed:
            raise SnapshotError(f"{folder / MANIFEST} does not list {name}.npy.")
        values: npt.NDArray[Any] = np.load(folder / f"{name}.npy", allow_pickle=False)
        return values

    def sparse(name: str) -> sp.csr_matrix:
        parts = (array(f"{name}.{p}") for p in ("data", "indices", "indptr"))
        return sp.csr_matrix(tuple(parts), shape=tuple(manifest["shapes"][name]))

    accounts = pd.read_parquet(folder / "accounts.parquet")["account_id"].tolist()
    texts = pd.read_parquet(folder / "captions.parquet")
    captions = RecentCaptions(
        texts=texts["text"].to_numpy(dtype=object),
        lowered=texts["lowered"].to_numpy(dtype=object),
        vectors=sparse("vectors"),
        text_codes=array("text_codes"),
        positions=array("positions"),
        counts=array("counts"),
        profile=sparse("profile"),
        norms=array("norms"),
    )
    as_of = pd.Timestamp(manifest["as_of"])
    return OnlineFeatures.assemble(builder, as_of, array("free"), accounts, captions)
