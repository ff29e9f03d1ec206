"""The model bundle: fitted feature state, boosters per target, baselines and intervals.

One object carries everything needed to score a placement exactly as it was
evaluated. It is exported as a folder of plain files: LightGBM's own model text
per booster, the feature state as JSON and a NumPy `.npz` without object arrays,
and a manifest with every file's sha256. `load_bundle` reads only files inside the
manifest's folder, checks each checksum before parsing, and unpickles nothing, so
a manifest can at worst fail to load: it cannot run code (tests/training/artifacts/test_bundle.py).
"""

from __future__ import annotations

import io
import json
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

from features.builder import FAMILIES, FEATURES, FeatureBuilder, family_of
from features.relevance import TopicVectorizer, fitted_vectorizer
from training.artifacts.files import (
    MANIFEST_VERSION,
    BundleError,
    read_listed,
    read_manifest,
    sha256_of,
    write_json,
)
from training.learners.boosters import HeuristicBaseline, follower_columns
from training.learners.intervals import ConformalInterval
from training.learners.price import PriceModel

__all__ = [
    "BUNDLE_FILE",
    "FOLDER_MANIFEST",
    "BundleError",
    "ModelBundle",
    "TargetModel",
    "load_bundle",
    "read_manifest",
    "sha256_of",
    "write_bundle",
    "write_manifest",
]

BUNDLE_FILE = "bundle.json"
"""In a bundle folder: the description (feature state, targets, metadata) naming the rest."""
FOLDER_MANIFEST = "manifest.json"
"""In a bundle folder: its own manifest, so the folder alone loads (the MLflow artifact)."""
IDF_FILE = "vectorizer.npz"
PRICE_FILE = "price.booster.txt"
FORMAT = "influence-bundle"
PREDICT_THREADS = 1
"""One OpenMP thread per LightGBM call, whatever the batch. Requests are concurrent, and
when the other core is busy two threads make a 1,000-row call 4 to 12 times slower
(measured: about 8 ms against 0.7 to 3 ms per booster), as each waits for the other."""


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
    """The servable model: feature state, one `TargetModel` per target and the price model
    (None in bundles written before there was one: candidates must then quote a cost)."""

    builder: FeatureBuilder
    models: dict[str, TargetModel]
    metadata: dict[str, Any] = field(default_factory=dict)
    price: PriceModel | None = None

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


def _vectorizer_state(
    vectorizer: TopicVectorizer,
) -> tuple[dict[str, Any], npt.NDArray[np.float64]]:
    """The fitted vectoriser as JSON (parameters, terms in column order) and its IDF weights."""
    fitted: TfidfVectorizer = vectorizer.vectorizer_
    params: dict[str, Any] = {}
    for key, value in fitted.get_params().items():
        if key == "vocabulary":  # the fitted vocabulary is stored as `terms`
            continue
        if callable(value) and key != "dtype":
            raise BundleError(f"The vectoriser's {key} is a function; it cannot be exported.")
        params[key] = np.dtype(value).name if key == "dtype" else value
    vocabulary: dict[str, int] = fitted.vocabulary_
    terms = sorted(vocabulary, key=vocabulary.__getitem__)
    if [vocabulary[t] for t in terms] != list(range(len(terms))):
        raise BundleError("The vectoriser's vocabulary does not number its columns 0 to n - 1.")
    state = {
        "max_features": vectorizer.max_features,
        "min_df": vectorizer.min_df,
        "params": params,
        "terms": terms,
        "idf": IDF_FILE,
    }
    return state, np.asarray(fitted.idf_, dtype=np.float64)


DTYPES = {"float64": np.float64, "float32": np.float32}


def _vectorizer_from(state: dict[str, Any], idf: npt.NDArray[np.float64]) -> TopicVectorizer:
    params = dict(state["params"])
    params["dtype"] = DTYPES[params["dtype"]]
    params["ngram_range"] = tuple(params["ngram_range"])
    terms = state["terms"]
    if not all(isinstance(t, str) for t in terms):
        raise ValueError("the vectoriser's terms must be strings")
    return fitted_vectorizer(
        TfidfVectorizer(**params), terms, idf, _int(state["max_features"]), _int(state["min_df"])
    )


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def write_bundle(bundle: ModelBundle, folder: Path) -> Path:
    """Write the bundle as plain files into `folder`, which must not exist yet; return it.

    Files: `bundle.json` (feature builder parameters, vectoriser parameters and
    terms, priors, per target its baselines, interval and coverage, metadata), the
    IDF weights in `vectorizer.npz`, LightGBM's model text per booster
    (`T.booster.txt`, `T.followers.txt`, the price model's `price.booster.txt`) and
    `manifest.json` with every file's sha256. Not atomic by itself: write into
    `features.io.atomic_path(folder)` so that a killed writer leaves only a hidden
    temporary folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True)
    builder = bundle.builder
    vectorizer, idf = _vectorizer_state(builder.vectorizer_)
    with open(folder / IDF_FILE, "wb") as f:
        np.savez(f, idf=idf)
    targets = []
    for target, m in bundle.models.items():
        names = {"booster": f"{target}.booster.txt", "followers": f"{target}.followers.txt"}
        for role, name in names.items():
            # LightGBM 4 writes each double in its shortest exact form: the text round-trips.
            (folder / name).write_text(getattr(m, role).model_to_string(), encoding="utf-8")
        interval = m.interval
        targets.append(
            {
                "target": target,
                **names,
                "heuristic_scale": m.heuristic.scale,
                "interval": {
                    "power": interval.power,
                    "low": interval.low,
                    "high": interval.high,
                    "level": interval.level,
                },
                "coverage": m.coverage,
            }
        )
    description = {
        "format": FORMAT,
        "builder": {
            "attribution_window_days": builder.attribution_window_days,
            "lookback_days": builder.lookback_days,
            "prior_strength": builder.prior_strength,
            "max_vocabulary": builder.max_vocabulary,
        },
        "vectorizer": vectorizer,
        "priors": {k: float(v) for k, v in builder.priors_.items()},
        "targets": targets,
        "metadata": bundle.metadata,
    }
    if bundle.price is not None:
        (folder / PRICE_FILE).write_text(bundle.price.booster.model_to_string(), encoding="utf-8")
        description["price"] = bundle.price.describe(PRICE_FILE)
    (folder / BUNDLE_FILE).write_text(
        json.dumps(description, indent=1, default=str) + "\n", encoding="utf-8"
    )
    files = {p.name: sha256_of(p) for p in sorted(folder.iterdir())}
    manifest = {"manifest_version": MANIFEST_VERSION, "bundle": BUNDLE_FILE, "files": files}
    (folder / FOLDER_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return folder


def write_manifest(path: Path, bundle_folder: Path, entries: dict[str, Any]) -> Path:
    """Write the manifest `path` describing `bundle_folder` (inside path's folder), atomically.

    Copies the folder's own manifest with each name made relative to `path`'s
    folder (`influence-abc/bundle.json`), plus `entries` (version, data digest,
    metrics). Written after the folder is complete and in place, so that a manifest
    always describes complete files. Returns the path.
    """
    path, bundle_folder = Path(path), Path(bundle_folder)
    prefix = bundle_folder.resolve().relative_to(path.parent.resolve()).as_posix()
    own = read_manifest(bundle_folder / FOLDER_MANIFEST)
    reserved = {"manifest_version", "bundle", "files"} & set(entries)
    if reserved:
        raise ValueError(f"Manifest entries {sorted(reserved)} are the format's own.")
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "bundle": posixpath.join(prefix, own["bundle"]),
        "files": {posixpath.join(prefix, k): v for k, v in own["files"].items()},
        **entries,
    }
    return write_json(path, manifest)


def _bundle_from(description: dict[str, Any], file: Callable[[str], bytes]) -> ModelBundle:
    """Rebuild the bundle from its description; `file(name)` gives a checked sibling's bytes."""
    if description.get("format") != FORMAT:
        raise ValueError(f"its format is {description.get('format')!r}, not {FORMAT!r}")
    vectorizer_state = description["vectorizer"]
    with np.load(io.BytesIO(file(vectorizer_state["idf"])), allow_pickle=False) as npz:
        idf = np.asarray(npz["idf"])
    params = description["builder"]
    builder = FeatureBuilder(
        attribution_window_days=_int(params["attribution_window_days"]),
        lookback_days=_int(params["lookback_days"]),
        prior_strength=_float(params["prior_strength"]),
        max_vocabulary=_int(params["max_vocabulary"]),
    ).set_state(
        _vectorizer_from(vectorizer_state, idf),
        {str(k): _float(v) for k, v in description["priors"].items()},
    )
    models: dict[str, TargetModel] = {}
    for t in description["targets"]:
        interval = t["interval"]
        models[str(t["target"])] = TargetModel(
            target=str(t["target"]),
            booster=lgb.Booster(model_str=file(t["booster"]).decode("utf-8")),
            followers=lgb.Booster(model_str=file(t["followers"]).decode("utf-8")),
            heuristic=HeuristicBaseline(scale=_float(t["heuristic_scale"])),
            interval=ConformalInterval(
                power=_float(interval["power"]),
                low=_float(interval["low"]),
                high=_float(interval["high"]),
                level=_float(interval["level"]),
            ),
            coverage=_float(t["coverage"]),
        )
    metadata = description["metadata"]
    if not isinstance(metadata, dict):
        raise ValueError("its metadata is not a JSON object")
    price = description.get("price")  # absent from bundles older than the price model
    if price is not None:
        price = PriceModel.from_description(price, file(price["booster"]).decode("utf-8"))
    return ModelBundle(builder=builder, models=models, metadata=metadata, price=price)


def load_bundle(manifest_path: Path) -> tuple[ModelBundle, dict[str, Any]]:
    """Load the bundle a manifest describes, after checking where each file is and its sha256.

    Takes a manifest (`models/champion.json`, or a bundle folder's `manifest.json`).
    Returns the bundle and the manifest's entries. Raises BundleError naming the
    reason: a missing or malformed manifest, a file named outside the manifest's
    folder, a missing, non-regular or changed file, or files that do not describe
    a bundle. Parses JSON, LightGBM model text and `.npz` arrays only.
    """
    manifest_path = Path(manifest_path)
    manifest = read_manifest(manifest_path)
    files = read_listed(manifest_path, manifest)
    entry = manifest["bundle"]
    where = manifest_path.parent / entry

    def sibling(name: Any) -> bytes:
        # The description names files beside it; each must be one the manifest checked.
        if not isinstance(name, str) or "/" in name or name in ("", ".", ".."):
            raise ValueError(f"it names {name!r}, which is not a file name")
        key = posixpath.join(posixpath.dirname(entry), name)
        if key not in files:
            raise ValueError(f"it names {name!r}, which its manifest does not list")
        return files[key]

    try:
        description = json.loads(files[entry].decode("utf-8"))
        bundle = _bundle_from(description, sibling)
    except Exception as e:  # malformed files raise many kinds; each means "not a bundle"
        raise BundleError(
            f"The model file {where} does not describe an influence model bundle: {e}."
        ) from e
    return bundle, manifest
