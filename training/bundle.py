"""The model bundle: fitted feature state, boosters per target, baselines and intervals.

One object carries everything needed to score a placement exactly as it was
evaluated. It is saved with joblib beside a JSON manifest holding the file's
sha256; `load_bundle` refuses a file whose checksum does not match, so a truncated
or tampered bundle is never served. Only bundles this project wrote are loaded:
never point `load_bundle` at a file from an untrusted source (joblib unpickles).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd

from features.builder import FAMILIES, FEATURES, FeatureBuilder, family_of
from features.io import atomic_path
from training.errors import TrainingError
from training.intervals import ConformalInterval
from training.models import HeuristicBaseline, follower_columns

__all__ = [
    "BundleError",
    "ModelBundle",
    "TargetModel",
    "load_bundle",
    "read_manifest",
    "sha256_of",
    "write_bundle",
    "write_manifest",
]

MANIFEST_VERSION = 1
PREDICT_THREADS = 1
"""One OpenMP thread per LightGBM call, whatever the batch. Requests are concurrent, and
when the other core is busy two threads make a 1,000-row call 4 to 12 times slower
(measured: about 8 ms against 0.7 to 3 ms per booster), as each waits for the other."""


class BundleError(TrainingError):
    """A bundle or its manifest is missing, unreadable or does not match its checksum."""


@dataclass
class TargetModel:
    """Everything fitted for one target."""

    target: str
    booster: lgb.Booster
    followers: lgb.Booster
    heuristic: HeuristicBaseline
    interval: ConformalInterval
    coverage: float


@dataclass
class ModelBundle:
    """The servable model: feature state plus one `TargetModel` per target."""

    builder: FeatureBuilder
    models: dict[str, TargetModel]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def targets(self) -> list[str]:
        """The targets this bundle predicts, in training order."""
        return list(self.models)

    @property
    def predict_columns(self) -> list[str]:
        """The columns `predict` returns, in order."""
        columns = [
            f"{t}{suffix}" for t in self.models for suffix in ("", "_low", "_high", "_followers")
        ] + [f"cost_per_{t}" for t in self.models]
        return columns + (["roi"] if "revenue" in self.models else [])

    def predict(self, features: pd.DataFrame, cost: pd.Series) -> pd.DataFrame:
        """Expected outcomes with intervals, ROI and the followers baseline, per row.

        Takes feature rows (`FEATURES` columns, as `FeatureBuilder.transform`
        returns them) and each row's cost. Returns, per target T: `T`, `T_low`,
        `T_high`, `T_followers` (the followers baseline's prediction) and
        `cost_per_T`; plus `roi` = (revenue - cost) / cost when revenue is a target.
        """
        x = features[list(FEATURES)].to_numpy(dtype=np.float64)
        out = self.predict_arrays(x, cost.to_numpy(dtype=float))
        return pd.DataFrame(out, index=features.index)[self.predict_columns]

    def predict_arrays(
        self, x: npt.NDArray[np.float64], costs: npt.NDArray[np.float64]
    ) -> dict[str, npt.NDArray[np.float64]]:
        """`predict` on arrays: x is (n, len(FEATURES)) in `FEATURES` order, costs (n,).

        Returns `predict`'s columns as a dict of arrays. The API calls this directly:
        NumPy in and out, since pandas' per-call overhead exceeds the boosters' time
        on a few rows.
        """
        xf = follower_columns(x[:, FEATURES.index("reach_followers")], costs)
        out: dict[str, npt.NDArray[np.float64]] = {}
        for target, m in self.models.items():
            pred = np.asarray(m.booster.predict(x, num_threads=PREDICT_THREADS), dtype=float)
            low, high = m.interval.bounds(pred)
            out[target] = pred
            out[f"{target}_low"] = low
            out[f"{target}_high"] = high
            out[f"{target}_followers"] = np.asarray(
                m.followers.predict(xf, num_threads=PREDICT_THREADS), dtype=float
            )
            with np.errstate(divide="ignore"):
                out[f"cost_per_{target}"] = np.where(pred > 0, costs / pred, np.inf)
        if "revenue" in self.models:
            with np.errstate(divide="ignore", invalid="ignore"):
                out["roi"] = np.where(costs > 0, (out["revenue"] - costs) / costs, np.nan)
        return out

    def contributions_arrays(
        self, x: npt.NDArray[np.float64], targets: list[str] | None = None
    ) -> dict[str, npt.NDArray[np.float64]]:
        """LightGBM's own contributions, summed per feature family, per target.

        Takes x as `predict_arrays` does. Returns {target: (n, len(FAMILIES) + 1)},
        columns FAMILIES then bias, on the booster's raw (log) scale: exp of a row's sum
        is the expected value. Costly (TreeSHAP: several times a prediction): call it
        only for rows that will be shown.
        """
        # One matrix sums the per-feature contributions into families in one product.
        to_family = np.zeros((len(FEATURES) + 1, len(FAMILIES) + 1))
        for j, name in enumerate(FEATURES):
            to_family[j, FAMILIES.index(family_of(name))] = 1.0
        to_family[-1, -1] = 1.0
        result: dict[str, npt.NDArray[np.float64]] = {}
        for target in targets or self.targets:
            booster = self.models[target].booster
            contrib = np.asarray(
                booster.predict(x, pred_contrib=True, num_threads=PREDICT_THREADS), dtype=float
            )
            result[target] = contrib @ to_family
        return result


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_bundle(bundle: ModelBundle, path: Path) -> Path:
    """Dump the bundle with joblib to `path`, atomically; return the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        joblib.dump(bundle, tmp)
    return path


def write_manifest(path: Path, bundle_file: Path, entries: dict[str, Any]) -> Path:
    """Write the JSON manifest describing `bundle_file` (a sibling of `path`), atomically.

    The manifest names the file and its sha256 plus `entries` (version, data
    digest, metrics). Written after the bundle, so that a manifest always
    describes a complete file.
    """
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "file": Path(bundle_file).name,
        "sha256": sha256_of(bundle_file),
        **entries,
    }
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return Path(path)


def read_manifest(path: Path) -> dict[str, Any]:
    """Read a manifest; BundleError with the reason when it is missing or unreadable."""
    try:
        manifest: dict[str, Any] = json.loads(Path(path).read_text())
    except FileNotFoundError as e:
        raise BundleError(
            f"No model manifest at {path}; run `influence train` to create one."
        ) from e
    except (OSError, json.JSONDecodeError) as e:
        raise BundleError(f"The model manifest {path} cannot be read: {e}.") from e
    if not isinstance(manifest, dict) or "file" not in manifest or "sha256" not in manifest:
        raise BundleError(f"The model manifest {path} lacks its 'file' or 'sha256' entry.")
    return manifest


def load_bundle(manifest_path: Path) -> tuple[ModelBundle, dict[str, Any]]:
    """Load the bundle a manifest names, after checking its sha256.

    Returns the bundle and the manifest. Raises BundleError naming the reason when
    the file is missing, its checksum differs from the manifest's, or it does not
    hold a bundle.
    """
    manifest = read_manifest(manifest_path)
    file = Path(manifest_path).parent / str(manifest["file"])
    if not file.exists():
        raise BundleError(f"The model file {file} named by {manifest_path} is missing.")
    actual = sha256_of(file)
    if actual != manifest["sha256"]:
        raise BundleError(
            f"The model file {file} does not match its manifest (sha256 {actual[:12]}... "
            f"instead of {str(manifest['sha256'])[:12]}...); it is truncated or was changed. "
            "Train again or restore the file."
        )
    try:
        bundle = joblib.load(file)
    except Exception as e:  # a corrupt pickle can raise almost anything
        raise BundleError(f"The model file {file} cannot be loaded: {e}.") from e
    if not isinstance(bundle, ModelBundle):
        raise BundleError(f"The model file {file} does not hold an influence model bundle.")
    return bundle, manifest
