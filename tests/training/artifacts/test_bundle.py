"""The exported bundle: plain files that round-trip to the bit, confined to their folder.

Real files in temporary folders throughout: a FIFO from `os.mkfifo`, a symlink to
/dev/zero, a real pickle whose `__reduce__` would leave a marker if anything ran it.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.builder import FEATURES, FeatureBuilder
from features.io import Dataset, load_dataset
from serving.errors import NotReadyError
from serving.state import load_model
from training.artifacts.bundle import (
    FOLDER_MANIFEST,
    BundleError,
    ModelBundle,
    TargetModel,
    load_bundle,
    write_bundle,
    write_manifest,
)
from training.artifacts.files import read_manifest, sha256_of
from training.learners.boosters import (
    HeuristicBaseline,
    fit_booster,
    followers_frame,
    model_frame,
    params_for,
)
from training.learners.intervals import calibrate
from training.learners.price import PRICE_FEATURES

ROOT = Path(__file__).resolve().parents[3]


def _fresh(data: Dataset) -> ModelBundle:
    """A bundle fitted here, in memory, on the small world (two targets, 30 rounds)."""
    builder = FeatureBuilder().fit(data)
    placements = data.placements.dropna(subset=["clicks", "revenue"]).reset_index(drop=True)
    features = builder.transform(data, placements)
    cost = placements["cost"]
    models = {}
    for target in ("clicks", "revenue"):
        params, y = params_for(target, 0), placements[target]
        booster = fit_booster(model_frame(features), y, params, rounds=30)
        pred = np.asarray(booster.predict(model_frame(features)), dtype=float)
        models[target] = TargetModel(
            target=target,
            booster=booster,
            followers=fit_booster(followers_frame(features, cost), y, params, rounds=30),
            heuristic=HeuristicBaseline.fit(features, y),
            interval=calibrate(y.to_numpy(float), pred, 1.5 if target == "revenue" else 1.0),
            coverage=float("nan"),
        )
    return ModelBundle(builder, models, {"trained_at": "now", "targets": ["clicks", "revenue"]})


@pytest.fixture(scope="module")
def data(small_csv_dir: Path) -> Dataset:
    return load_dataset(small_csv_dir)


@pytest.fixture(scope="module")
def fresh(data: Dataset) -> ModelBundle:
    return _fresh(data)


def _assert_identical(a: ModelBundle, b: ModelBundle, data: Dataset) -> None:
    rows = data.placements.reset_index(drop=True)
    fa, fb = a.builder.transform(data, rows), b.builder.transform(data, rows)
    pd.testing.assert_frame_equal(fa, fb, check_exact=True)
    x = fa[list(FEATURES)].to_numpy(dtype=np.float64)
    cost = rows["cost"].to_numpy(dtype=float)
    pa, pb = a.predict_arrays(x, cost), b.predict_arrays(x, cost)
    assert list(pa) == list(pb)
    for column in pa:
        np.testing.assert_array_equal(pa[column], pb[column])
    ca, cb = a.contributions_arrays(x), b.contributions_arrays(x)
    for target in a.targets:
        np.testing.assert_array_equal(ca[target], cb[target])
    assert a.builder.priors_ == b.builder.priors_
    assert (
        a.builder.vectorizer_.vectorizer_.vocabulary_
        == b.builder.vectorizer_.vectorizer_.vocabulary_
    )
    assert a.models["clicks"].heuristic == b.models["clicks"].heuristic
    assert a.models["clicks"].interval == b.models["clicks"].interval
    assert (a.price is None) == (b.price is None)
    if a.price is not None and b.price is not None:
        for ea, eb in zip(a.price.estimate(x), b.price.estimate(x), strict=True):
            np.testing.assert_array_equal(ea, eb)
        assert (a.price.low, a.price.high, a.price.follower_rate) == (
            b.price.low,
            b.price.high,
            b.price.follower_rate,
        )


def test_fresh_bundle_round_trips_to_the_bit(
    fresh: ModelBundle, data: Dataset, tmp_path: Path
) -> None:
    folder = write_bundle(fresh, tmp_path / "b")
    assert sorted(p.name for p in folder.iterdir()) == [
        "bundle.json",
        "clicks.booster.txt",
        "clicks.followers.txt",
        "manifest.json",
        "revenue.booster.txt",
        "revenue.followers.txt",
        "vectorizer.npz",
    ]
    loaded, manifest = load_bundle(folder / FOLDER_MANIFEST)
    assert manifest["bundle"] == "bundle.json"
    assert len(manifest["files"]) == 6
    _assert_identical(fresh, loaded, data)
    assert loaded.metadata == fresh.metadata
    assert np.isnan(loaded.models["clicks"].coverage)
    # A bundle without a price model (as every bundle before it was) writes none and loads.
    assert loaded.price is None
    assert "price" not in json.loads((folder / "bundle.json").read_text())


def test_trained_bundle_round_trips_to_the_bit(trained: Path, tmp_path: Path) -> None:
    data = load_dataset(trained / "world")
    champion, manifest = load_bundle(trained / "models" / "champion.json")
    assert manifest["bundle"] == f"influence-{manifest['run_id'][:12]}/bundle.json"
    assert len(champion.builder.vectorizer_.vectorizer_.vocabulary_) > 100
    assert champion.price is not None
    folder = write_bundle(champion, tmp_path / "b")
    again, _ = load_bundle(folder / FOLDER_MANIFEST)
    _assert_identical(champion, again, data)
    price = json.loads((folder / "bundle.json").read_text())["price"]
    assert price["booster"] == "price.booster.txt"
    assert price["features"] == list(PRICE_FEATURES)
    assert (folder / "price.booster.txt").read_text().startswith("tree\n")


def test_a_price_model_fitted_on_other_features_is_refused(trained: Path, tmp_path: Path) -> None:
    champion, _ = load_bundle(trained / "models" / "champion.json")
    folder = write_bundle(champion, tmp_path / "b")
    description = json.loads((folder / "bundle.json").read_text())
    description["price"]["features"] = ["reach_followers"]
    (folder / "bundle.json").write_text(json.dumps(description))
    manifest = json.loads((folder / FOLDER_MANIFEST).read_text())
    manifest["files"]["bundle.json"] = sha256_of(folder / "bundle.json")
    (folder / FOLDER_MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="does not describe an influence model bundle") as e:
        load_bundle(folder / FOLDER_MANIFEST)
    assert str(e.value).endswith(
        ": its price model was fitted on other features than this version's."
    )


@pytest.fixture
def models(fresh: ModelBundle, tmp_path: Path) -> Path:
    """`tmp/models/` with a bundle folder and its manifest `influence-v1.json`."""
    folder = write_bundle(fresh, tmp_path / "models" / "influence-abc")
    write_manifest(tmp_path / "models" / "influence-v1.json", folder, {"version": "1"})
    (tmp_path / "outside").mkdir()
    return tmp_path / "models"


def _with_entry(models: Path, entry: str, content: bytes, as_bundle: bool = False) -> Path:
    """The manifest, also listing `entry` with the right sha256 of `content`."""
    manifest = json.loads((models / "influence-v1.json").read_text())
    manifest["files"][entry] = hashlib.sha256(content).hexdigest()
    if as_bundle:
        manifest["bundle"] = entry
    path = models / "probe.json"
    path.write_text(json.dumps(manifest))
    return path


def _refused(manifest: Path, entry: str, reason: str) -> str:
    return re.escape(
        f"The model manifest {manifest} is refused: its entry {entry!r} {reason}; a manifest "
        f"may name only files inside its own folder ({manifest.parent})."
    )


def test_manifest_versions_and_layout(models: Path) -> None:
    manifest = read_manifest(models / "influence-v1.json")
    assert manifest["manifest_version"] == 2
    assert manifest["bundle"] == "influence-abc/bundle.json"
    assert sorted(manifest["files"]) == [
        "influence-abc/bundle.json",
        "influence-abc/clicks.booster.txt",
        "influence-abc/clicks.followers.txt",
        "influence-abc/revenue.booster.txt",
        "influence-abc/revenue.followers.txt",
        "influence-abc/vectorizer.npz",
    ]
    bundle, loaded = load_bundle(models / "influence-v1.json")
    assert loaded["version"] == "1"
    assert bundle.targets == ["clicks", "revenue"]


def test_absolute_dotdot_and_symlinked_entries_are_refused(models: Path) -> None:
    secret = models.parent / "outside" / "secret.txt"
    secret.write_bytes(b"secret")
    probe = _with_entry(models, str(secret), b"secret")
    with pytest.raises(BundleError, match=_refused(probe, str(secret), "is an absolute path")):
        load_bundle(probe)
    probe = _with_entry(models, "../outside/secret.txt", b"secret")
    with pytest.raises(
        BundleError, match=_refused(probe, "../outside/secret.txt", "goes up a folder with '..'")
    ):
        load_bundle(probe)
    (models / "link").symlink_to(models.parent / "outside")
    probe = _with_entry(models, "link/secret.txt", b"secret")
    reason = f"leads through a symlink to {secret.resolve()}"
    with pytest.raises(BundleError, match=_refused(probe, "link/secret.txt", reason)):
        load_bundle(probe)


class _Payload:
    """Unpickling this writes `marker`: proof that something ran it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., int], tuple[Path, str]]:
        return Path.write_text, (self.marker, "the pickle ran")


def test_a_pickle_named_anywhere_with_its_sha256_never_runs(models: Path) -> None:
    # The probe is real: unpickling it does write its marker.
    sanity = models.parent / "sanity"
    pickle.loads(pickle.dumps(_Payload(sanity)))
    assert sanity.read_text() == "the pickle ran"

    marker = models.parent / "marker"
    payload = pickle.dumps(_Payload(marker))
    evil = models.parent / "outside" / "evil.pkl"
    evil.write_bytes(payload)
    sha = hashlib.sha256(payload).hexdigest()
    old = models / "old.json"
    old.write_text(json.dumps({"manifest_version": 1, "file": str(evil), "sha256": sha}))
    with pytest.raises(
        BundleError,
        match=re.escape(
            f"The model manifest {old} names a pickled bundle ({evil}), which is no longer "
            "loaded. Train again to export the model as plain files."
        ),
    ):
        load_bundle(old)
    (models / "to-evil").symlink_to(evil)
    for entry in (str(evil), "../outside/evil.pkl", "to-evil"):
        with pytest.raises(BundleError, match="is refused: its entry"):
            load_bundle(_with_entry(models, entry, payload, as_bundle=True))
    # Inside the folder, with its sha256 and as the bundle itself: parsed as JSON, refused.
    (models / "evil.pkl").write_bytes(payload)
    probe = _with_entry(models, "evil.pkl", payload, as_bundle=True)
    with pytest.raises(
        BundleError,
        match=re.escape(
            f"The model file {models / 'evil.pkl'} does not describe an influence model bundle: "
        ),
    ):
        load_bundle(probe)
    assert not marker.exists()


def _finishes(call: Callable[[], object], seconds: float = 20.0) -> BaseException | None:
    """Run `call` in a thread; fail if it hangs, return what it raised."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as e:  # handed to the test to assert on
            raised.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"it hung for {seconds} s"
    return raised[0] if raised else None


def test_fifo_device_and_oversized_manifests_are_refused_without_hanging(models: Path) -> None:
    fifo = models / "fifo.json"
    os.mkfifo(fifo)
    error = _finishes(lambda: load_bundle(fifo))
    assert isinstance(error, BundleError)
    assert str(error) == f"The model manifest {fifo} is a FIFO, not a regular file."
    zero = models / "zero.json"
    zero.symlink_to("/dev/zero")
    error = _finishes(lambda: load_model(str(zero)))
    assert isinstance(error, NotReadyError)
    assert str(error) == f"no model: The model manifest {zero} is a device, not a regular file."
    big = models / "big.json"
    big.write_bytes(b" " * (1 << 20) + b"{}")
    with pytest.raises(
        BundleError,
        match=re.escape(f"The model manifest {big} has 1048578 bytes, over the limit of 1048576."),
    ):
        load_bundle(big)
    # A FIFO named by a manifest, inside its folder, is refused as a file.
    os.mkfifo(models / "influence-abc" / "pipe")
    probe = _with_entry(models, "influence-abc/pipe", b"")
    error = _finishes(lambda: load_bundle(probe))
    assert str(error) == (
        f"The model file {models / 'influence-abc' / 'pipe'} is a FIFO, not a regular file."
    )


def test_non_utf8_manifest_is_refused_with_the_reason(models: Path) -> None:
    path = models / "latin1.json"
    path.write_bytes('{"bundle": "caf\u00e9"}'.encode("latin-1"))
    with pytest.raises(
        BundleError,
        match=re.escape(
            f"The model manifest {path} is not UTF-8 text: 'utf-8' codec can't decode byte "
            "0xe9 in position 15: invalid continuation byte."
        ),
    ):
        load_bundle(path)


def _unprivileged(call: Callable[[], object]) -> str:
    """The message `call` raises when run as a user without read permission.

    As root, whom file modes do not stop, in a forked child that drops to `nobody`
    first; its message comes back through a pipe.
    """
    if os.geteuid() != 0:
        try:
            call()
        except BundleError as e:
            return str(e)
        return "no error"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        message = b"no error"
        try:
            os.setgid(65534)
            os.setuid(65534)
            call()
        except BaseException as e:
            message = str(e).encode()
        os.write(write, message)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        message = f.read().decode()
    os.waitpid(pid, 0)
    return message


def test_unreadable_manifest_and_file_are_refused_with_the_reason(fresh: ModelBundle) -> None:
    # Outside pytest's own temporary folder, which only root may enter.
    root = Path(tempfile.mkdtemp(prefix="influence-perm-"))
    try:
        root.chmod(0o755)
        folder = write_bundle(fresh, root / "influence-abc")
        manifest = write_manifest(root / "m.json", folder, {})
        for p in (root, folder, *folder.iterdir()):
            p.chmod(0o755 if p.is_dir() else 0o644)
        manifest.chmod(0o000)
        assert _unprivileged(lambda: load_bundle(manifest)) == (
            f"The model manifest {manifest} cannot be read: Permission denied."
        )
        manifest.chmod(0o644)
        booster = folder / "clicks.booster.txt"
        booster.chmod(0o000)
        assert _unprivileged(lambda: load_bundle(manifest)) == (
            f"The model file {booster} cannot be read: Permission denied."
        )
    finally:
        shutil.rmtree(root)


def test_no_pickle_on_any_load_path() -> None:
    forbidden = ("joblib", "pickle.load", "allow_pickle=True", "cloudpickle", "import pickle")
    found = [
        f"{path.relative_to(ROOT)}: {word}"
        for package in ("features", "training", "serving")
        for path in sorted((ROOT / package).rglob("*.py"))
        for word in forbidden
        if word in path.read_text()
    ]
    assert found == []
    assert "allow_pickle=False" in (ROOT / "training" / "artifacts" / "bundle.py").read_text()
