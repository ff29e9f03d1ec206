"""`influence train`: features, a time split, boosters per target, baselines, MLflow.

The shape of MLflow's LightGBM examples: parse the configuration, one run, an
explicit seed, parameters and metrics logged as dicts, then the model. Everything
is evaluated on later campaigns than it learned from, side by side with the
follower-count baseline; then refit on everything known and registered as the
challenger, and promoted to champion only when it earns it.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

import features
import training
from features.builder import FAMILIES, FeatureBuilder
from features.contract import OUTCOMES
from features.io import Dataset, atomic_path, load_dataset
from features.moment import observed_until
from features.simulate import TRUTH_FILE
from training.bundle import ModelBundle, TargetModel, write_bundle, write_manifest
from training.errors import TrainingError
from training.evaluate import Evaluation, evaluate_target
from training.importance import family_shares, importance_table, plot_family_importance
from training.intervals import calibrate
from training.models import (
    HeuristicBaseline,
    check_targets,
    fit_booster,
    followers_frame,
    model_frame,
    params_for,
)
from training.pyfunc import MODEL_CODE
from training.registry import CHALLENGER, CHAMPION, Decision, promote
from training.runs import fail_stale_runs, process_tags
from training.settings import TrainingSettings
from training.sparse import kept_targets
from training.split import TimeSplit, known_until, time_split
from training.tracking import use_tracking

__all__ = ["FeatureSource", "PandasSource", "Refit", "TrainConfig", "TrainResult", "train"]

PIP_REQUIREMENTS = [
    "pandas>=3.0",
    "numpy>=2.0",
    "scipy>=1.13",
    "scikit-learn>=1.6",
    "lightgbm>=4.7",
    "pyarrow>=17",
]
"""Written out: inferring requirements makes `log_model` slow."""


@dataclass(frozen=True)
class TrainConfig:
    """What to train and how; every field is logged as a run parameter."""

    targets: tuple[str, ...] = OUTCOMES
    until: pd.Timestamp | None = None
    seed: int = 0
    validation_share: float = 0.3
    window_days: int = 30
    budget_share: float = 0.3
    promote: bool = False

    @property
    def primary(self) -> str:
        """The target whose budget metric decides promotion: the first one asked for."""
        return self.targets[0]

    def check(self) -> None:
        """Raise TrainingError for a configuration that cannot train."""
        check_targets(self.targets)
        if not 0 < self.validation_share < 1:
            raise TrainingError(
                f"The validation share must be between 0 and 1, got {self.validation_share}."
            )


@dataclass
class TrainResult:
    """What a training run produced, for the CLI's table and for tests."""

    run_id: str
    version: str
    evaluations: dict[str, Evaluation]
    coverage: dict[str, float]
    decision: Decision | None
    manifest: Path
    split: dict[str, object]
    family_importance: pd.DataFrame
    seconds: float
    bundle: ModelBundle = field(repr=False)


class FeatureSource(Protocol):
    """Where training reads placements and builds features: one machine, or a cluster.

    `placements` is the placements table as known (on the driver); `fit` and
    `transform` are `FeatureBuilder.fit` and `.transform` on the whole data.
    """

    @property
    def placements(self) -> pd.DataFrame:
        """The placements table, as known at `--until`."""
        ...

    def as_of(self, until: pd.Timestamp | None, now: pd.Timestamp | None = None) -> pd.Timestamp:
        """`until`, or the latest observed post or placement (`features.moment`) by `now`."""
        ...

    def digest(self) -> str:
        """`Dataset.digest` of the data as known."""
        ...

    def fit(self, window_days: int, until: pd.Timestamp | None) -> FeatureBuilder:
        """A builder fitted on what was known before `until`."""
        ...

    def transform(self, builder: FeatureBuilder, targets: pd.DataFrame) -> pd.DataFrame:
        """The feature table of `targets`, in their order."""
        ...


@dataclass(frozen=True)
class PandasSource:
    """The pandas engine: every table in this process's memory."""

    data: Dataset

    @classmethod
    def load(cls, data_dir: Path, until: pd.Timestamp | None) -> PandasSource:
        """Validate and load `data_dir` as it stood at `until`."""
        return cls(known_until(load_dataset(data_dir), until))

    @property
    def placements(self) -> pd.DataFrame:
        """The placements table."""
        return self.data.placements

    def as_of(self, until: pd.Timestamp | None, now: pd.Timestamp | None = None) -> pd.Timestamp:
        """`until`, or the latest observed post or placement."""
        return _as_of(self.data, until, now)

    def digest(self) -> str:
        """The data's digest."""
        return self.data.digest()

    def fit(self, window_days: int, until: pd.Timestamp | None) -> FeatureBuilder:
        """`FeatureBuilder.fit` on the data."""
        return FeatureBuilder(attribution_window_days=window_days).fit(self.data, until=until)

    def transform(self, builder: FeatureBuilder, targets: pd.DataFrame) -> pd.DataFrame:
        """`FeatureBuilder.transform` on the data."""
        return builder.transform(self.data, targets)


Refit = Callable[[pd.DataFrame, pd.Series, dict[str, Any], int], Any]
"""Fits a booster with a given number of rounds: (x, y, params, rounds) -> lgb.Booster."""


def _refit_here(x: pd.DataFrame, y: pd.Series, params: dict[str, Any], rounds: int) -> Any:
    return fit_booster(x, y, params, rounds=rounds)


def _truth(data_dir: Path) -> pd.DataFrame | None:
    path = Path(data_dir) / TRUTH_FILE
    return pd.read_parquet(path) if path.exists() else None


def _as_of(
    data: Dataset, until: pd.Timestamp | None, now: pd.Timestamp | None = None
) -> pd.Timestamp:
    """The moment the data stands at: `--until`, or its latest observed event (by `now`)."""
    if until is not None:
        return until
    return observed_until(data.posts["posted_at"], data.placements, now)


def _outcomes_known(
    placements: pd.DataFrame, targets: list[str], window_days: int, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Placements whose outcomes for `targets` are in and whose window closed by `as_of`."""
    done = placements.dropna(subset=targets)
    known: pd.DataFrame = done[done["posted_at"] + pd.Timedelta(days=window_days) <= as_of]
    return known


INNER_VALIDATION_SHARE = 0.2


def _inner_masks(
    train: pd.DataFrame, targets: list[str], window_days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the earlier fold to fit on and to stop early on (its own latest campaigns).

    The later fold is kept for the reported metrics and the intervals alone: choosing
    the number of rounds on it too would flatter both.
    """
    inner = time_split(train, targets, INNER_VALIDATION_SHARE, window_days)
    ids = train["placement_id"]
    return ids.isin(inner.train["placement_id"]).to_numpy(), ids.isin(
        inner.valid["placement_id"]
    ).to_numpy()


def _fit_target(
    target: str,
    seed: int,
    train_x: tuple[pd.DataFrame, pd.Series, pd.Series],
    inner: tuple[np.ndarray, np.ndarray],
    valid_x: tuple[pd.DataFrame, pd.Series],
    refit: Refit = _refit_here,
) -> tuple[Any, Any, HeuristicBaseline, dict[str, np.ndarray]]:
    """Fit model and baselines on the earlier fold (rounds by an inner split); predict the later.

    The rounds are chosen here by early stopping; `refit` then fits the boosters on
    the whole earlier fold with that many rounds (on this machine, or on a cluster).
    """
    params = params_for(target, seed)
    (tf, tcost, ty), (vf, vcost) = train_x, valid_x
    fit_rows, stop_rows = inner

    def fit(x: pd.DataFrame) -> Any:
        stopped = fit_booster(
            x[fit_rows], ty[fit_rows], params, valid=(x[stop_rows], ty[stop_rows])
        )
        return refit(x, ty, params, stopped.best_iteration)

    booster = fit(model_frame(tf))
    followers = fit(followers_frame(tf, tcost))
    heuristic = HeuristicBaseline.fit(tf, ty)
    predictions = {
        "model": np.asarray(booster.predict(model_frame(vf)), dtype=float),
        "followers": np.asarray(followers.predict(followers_frame(vf, vcost)), dtype=float),
        "heuristic": heuristic.predict(vf),
    }
    return booster, followers, heuristic, predictions


def _coverage(campaign: pd.Series, y: np.ndarray, pred: np.ndarray, power: float) -> float:
    """Calibrate on half of the later campaigns, measure on the other half, and back."""
    ids = np.sort(campaign.unique())
    half = campaign.isin(ids[::2]).to_numpy()
    if half.all() or not half.any():
        return float("nan")
    a = calibrate(y[half], pred[half], power).coverage(y[~half], pred[~half])
    b = calibrate(y[~half], pred[~half], power).coverage(y[half], pred[half])
    return float((a * (~half).sum() + b * half.sum()) / len(y))


def _log_run(
    result_rows: pd.DataFrame,
    evaluations: dict[str, Evaluation],
    coverage: dict[str, float],
    importance: pd.DataFrame,
    out: Path,
) -> None:
    metrics: dict[str, float] = {}
    for row in result_rows.to_dict("records"):
        key = f"{row['target']}.{row['policy']}.{row['metric']}"
        for suffix, column in (("", "value"), ("_low", "low"), ("_high", "high")):
            value = float(row[column])
            if np.isfinite(value):
                metrics[key + suffix] = value
    for target, ev in evaluations.items():
        ratio, low, high = ev.budget_ratio
        metrics |= {
            f"{target}.budget_ratio_vs_followers": ratio,
            f"{target}.budget_ratio_vs_followers_low": low,
            f"{target}.budget_ratio_vs_followers_high": high,
        }
        if np.isfinite(coverage[target]):
            metrics[f"{target}.interval_coverage"] = coverage[target]
    mlflow.log_metrics(metrics)
    result_rows.to_csv(out / "metrics.csv", index=False)
    importance.to_csv(out / "importance.csv", index=False)
    plot_family_importance(importance, out / "importance_by_family.png")
    mlflow.log_artifact(str(out / "metrics.csv"))
    mlflow.log_artifact(str(out / "importance.csv"))
    mlflow.log_artifact(str(out / "importance_by_family.png"))


def train(
    data_dir: Path,
    config: TrainConfig,
    settings: TrainingSettings,
    progress: Callable[[str], None] = lambda _: None,
    load: Callable[[Path, pd.Timestamp | None], FeatureSource] = PandasSource.load,
    refit: Refit = _refit_here,
) -> TrainResult:
    """Train, evaluate against the baselines, log, register and maybe promote.

    Takes a data directory (validated on entry), the configuration, the layer's
    settings and a callback that receives a short message as each step starts.
    `load` (validate and open the data as of `--until`) and `refit` (fit a booster
    with a given number of rounds) default to this machine; `training.distributed`
    passes the Dask engine's. Returns the run's numbers and where the bundle went.
    Raises TrainingError (or the features layer's DataContractError) with a plain
    sentence on bad input.
    """
    started = time.perf_counter()
    config.check()
    # The store first: one that cannot be used should fail now, not after minutes of training.
    fail_stale_runs(use_tracking(settings))  # runs a killed `train` left RUNNING
    targets = list(config.targets)
    progress("Validating the data")
    data = load(data_dir, config.until)
    truth = _truth(data_dir)
    as_of = data.as_of(config.until)
    split = time_split(data.placements, targets, config.validation_share, config.window_days, as_of)

    progress("Building features for the earlier and later campaigns")
    builder = data.fit(config.window_days, split.cutoff)
    train_f, valid_f = data.transform(builder, split.train), data.transform(builder, split.valid)
    tcost = split.train["cost"].reset_index(drop=True)
    vcost = split.valid["cost"].reset_index(drop=True)

    inner = _inner_masks(split.train.reset_index(drop=True), targets, config.window_days)
    targets, skipped = kept_targets(split.train[targets].reset_index(drop=True)[inner[0]], targets)
    for warning in skipped:
        progress(warning)
    config = replace(config, targets=tuple(targets))  # a skipped target is in no output
    evaluations: dict[str, Evaluation] = {}
    coverage: dict[str, float] = {}
    fitted: dict[str, tuple[Any, Any, HeuristicBaseline, dict[str, np.ndarray]]] = {}
    for target in targets:
        progress(f"Boosting {target} with early stopping on the later campaigns")
        ty = split.train[target].reset_index(drop=True)
        vy = split.valid[target].reset_index(drop=True)
        fitted[target] = _fit_target(
            target, config.seed, (train_f, tcost, ty), inner, (valid_f, vcost), refit
        )
        predictions = fitted[target][3]
        frame = _validation_frame(split, valid_f, target)
        true_values = None
        if truth is not None:
            true_values = (
                split.valid[["placement_id"]].merge(truth, on="placement_id", how="left")[target]
            ).to_numpy(dtype=float)
        power = 1.5 if target == "revenue" else 1.0
        evaluations[target] = evaluate_target(
            target, frame, predictions, power, config.seed, config.budget_share, true_values
        )
        coverage[target] = _coverage(
            split.valid["campaign_id"].reset_index(drop=True),
            vy.to_numpy(float),
            predictions["model"],
            power,
        )

    progress("Refitting on everything known")
    final_builder = data.fit(config.window_days, None)
    known = _outcomes_known(data.placements, targets, config.window_days, as_of)
    all_f = data.transform(final_builder, known)
    all_cost = known["cost"].reset_index(drop=True)
    models: dict[str, TargetModel] = {}
    for target in targets:
        booster, followers, _, predictions = fitted[target]
        y = known[target].reset_index(drop=True)
        params = params_for(target, config.seed)
        valid_y = split.valid[target].to_numpy(dtype=float)
        power = 1.5 if target == "revenue" else 1.0
        models[target] = TargetModel(
            target=target,
            booster=refit(model_frame(all_f), y, params, booster.current_iteration()),
            followers=refit(
                followers_frame(all_f, all_cost), y, params, followers.current_iteration()
            ),
            heuristic=HeuristicBaseline.fit(all_f, y),
            interval=calibrate(valid_y, predictions["model"], power),
            coverage=coverage[target],
        )
    importance = importance_table({t: m.booster for t, m in models.items()})
    table = pd.concat(
        [ev.table.assign(target=t) for t, ev in evaluations.items()], ignore_index=True
    )
    trained_at = datetime.now(UTC).isoformat(timespec="seconds")
    summary = {
        t: {
            "model": ev.value("model", "actions_per_cost"),
            "followers": ev.value("followers", "actions_per_cost"),
            "heuristic": ev.value("heuristic", "actions_per_cost"),
            "ratio_vs_followers": list(ev.budget_ratio),
            "partial_spearman": ev.value("model", "partial_spearman"),
        }
        for t, ev in evaluations.items()
    }
    bundle = ModelBundle(
        builder=final_builder,
        models=models,
        metadata={
            "trained_at": trained_at,
            "data_digest": data.digest(),
            "targets": targets,
            "seed": config.seed,
            "metrics": summary,
            "feature_families": list(FAMILIES),
        },
    )

    progress("Logging the run and the model to MLflow")
    with mlflow.start_run(tags=process_tags()) as run, tempfile.TemporaryDirectory() as tmp:
        params_logged = {
            **{k: v for k, v in asdict(config).items() if k != "targets"},
            "targets": ",".join(targets),
            "data_dir": str(data_dir),
            "data_digest": bundle.metadata["data_digest"],
            **split.describe(),
            **{f"rounds.{t}": m.booster.current_iteration() for t, m in models.items()},
            **{f"lgbm.{k}": v for k, v in params_for(targets[0], config.seed).items()},
        }
        mlflow.log_params(params_logged)
        _log_run(table, evaluations, coverage, importance, Path(tmp))
        bundle.metadata["run_id"] = run.info.run_id
        example = (
            valid_f[list(features.builder.FEATURES)].head(5).assign(cost=vcost.head(5).to_numpy())
        )
        signature = infer_signature(example, bundle.predict(example, example["cost"]))
        _quiet_mlflow()
        # The folder stays hidden until its version is registered, so that a run killed
        # before then leaves no bundle that no manifest names (tests/training/test_crash.py).
        with atomic_path(settings.models_dir / f"influence-{run.info.run_id[:12]}") as staged:
            write_bundle(bundle, staged)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(MODEL_CODE),  # models from code: nothing is pickled
                artifacts={"bundle": str(staged)},
                code_paths=[
                    str(Path(features.__file__).parent),
                    str(Path(training.__file__).parent),
                ],
                signature=signature,
                input_example=example,
                pip_requirements=PIP_REQUIREMENTS,
            )
            client = MlflowClient()
            version = _register(client, settings.registered_model, info.model_id, run.info.run_id)
            client.set_registered_model_alias(settings.registered_model, CHALLENGER, version)
    manifest = write_manifest(
        settings.models_dir / f"influence-v{version}.json",
        settings.models_dir / f"influence-{run.info.run_id[:12]}",
        {"version": version, "run_id": run.info.run_id, **bundle.metadata},
    )

    decision = None
    has_champion = _has_champion(client, settings.registered_model)
    if config.promote or not has_champion:
        progress("Deciding on promotion")
        decision = promote(settings.registered_model, version, config.primary, settings.models_dir)
    return TrainResult(
        run_id=run.info.run_id,
        version=version,
        evaluations=evaluations,
        coverage=coverage,
        decision=decision,
        manifest=manifest,
        split=split.describe(),
        family_importance=family_shares(importance),
        seconds=time.perf_counter() - started,
        bundle=bundle,
    )


def _register(client: MlflowClient, name: str, model_id: str, run_id: str) -> str:
    """Register the logged model as a new version of `name`; return the version.

    Done through the client rather than `log_model(registered_model_name=...)`,
    which prints registry notices straight to stderr.
    """
    try:
        client.get_registered_model(name)
    except mlflow.exceptions.MlflowException:
        try:
            client.create_registered_model(name)
        except mlflow.exceptions.MlflowException:
            # Two first-ever runs registering at once: the loser's create fails; the
            # winner's model is there now, and any other cause fails again here.
            client.get_registered_model(name)
    version = client.create_model_version(
        name, source=f"models:/{model_id}", run_id=run_id, model_id=model_id
    )
    return str(version.version)


def _quiet_mlflow() -> None:
    """Silence MLflow's notices that tell a user nothing they can act on.

    The pyfunc is logged as code (`training/pyfunc_code.py`) with the bundle folder as
    its artifact; MLflow's notices about how it was logged are not the user's to act on.
    """
    for name in ("mlflow.pyfunc", "mlflow.models.model"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _has_champion(client: MlflowClient, name: str) -> bool:
    try:
        client.get_model_version_by_alias(name, CHAMPION)
    except mlflow.exceptions.MlflowException:
        return False
    return True


def _validation_frame(split: TimeSplit, valid_f: pd.DataFrame, target: str) -> pd.DataFrame:
    """The later fold's rows as `evaluate_target` wants them."""
    return pd.DataFrame(
        {
            "placement_id": split.valid["placement_id"].to_numpy(),
            "campaign_id": split.valid["campaign_id"].to_numpy(),
            "cost": split.valid["cost"].to_numpy(dtype=float),
            "followers": valid_f["reach_followers"].fillna(0.0).to_numpy(),
            target: split.valid[target].to_numpy(dtype=float),
        }
    )
