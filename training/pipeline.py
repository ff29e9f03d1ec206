"""`train`: fit, judge on later campaigns, log, register and maybe promote; orchestration only.

The shape of MLflow's LightGBM examples: validate the configuration, open one run,
log the parameters, fit inside the run, log the metrics, then the model. The model
is judged on later campaigns than it learned from (`training.evaluation.holdout`), side by
side with the follower-count baseline; then refitted on everything known with the
rounds and intervals that judgement chose (`training.fitting`), registered as the
challenger, and promoted to champion only when it earns it.

The data is validated and split before the run opens, so that a data set that breaks the
contract or has too few campaigns to split leaves no run behind. A failure once the run
is open (too few campaigns for the earlier fit to choose its rounds on, a target with
nothing to learn, the store) leaves the run FAILED. Every
MLflow call goes through the command's store handle (`training.tracking.store.Tracking`);
MLflow's globals are left alone, but for the one registry call that cannot do without
(`training.tracking.logged_model.create_version`), which puts them back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pandas as pd

from features.builder import FEATURES
from features.engine import Engine, PandasTables, Tables
from features.headers import ReadOptions
from features.io import Dataset
from features.simulate import TRUTH_FILE
from features.snapshot import snapshot_lineage
from training.artifacts.bundle import ModelBundle, write_manifest
from training.artifacts.registry import Decision, promote
from training.artifacts.run_log import has_champion, log_evaluation, log_model
from training.evaluation.holdout import evaluate, holdout_split
from training.evaluation.metrics import Evaluation
from training.evaluation.price import PriceEvaluation, evaluate_price
from training.fitting import Refit, TrainConfig, fit, local_refit
from training.learners.boosters import params_for
from training.learners.importance import family_shares, importance_table
from training.settings import TrainingSettings
from training.tracking.runs import fail_stale_runs, process_tags
from training.tracking.store import Tracking, use_tracking
from training.tracking.story import (
    TARGETS_TAG,
    UNDECIDED,
    RunStory,
    describe_data,
    describe_results,
    note,
    note_registered,
    note_run,
    note_status,
)
from training.units import CostUnit
from training.workspace import project_flag, snapshot_folder

__all__ = ["TrainResult", "train"]


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
    unit: CostUnit = CostUnit()
    """The words for cost its results were described in (the settings' currency)."""
    price: PriceEvaluation | None = None
    """The price model on the later campaigns; None when too few paid placements fitted one."""
    snapshot: Path | None = None
    """The new champion's online snapshot (`_champion_snapshot`), when one was written."""


def train(
    data: Path | Dataset,
    config: TrainConfig,
    settings: TrainingSettings,
    progress: Callable[[str], None] = lambda _: None,
    load: Callable[[Path, pd.Timestamp | None], Tables] = PandasTables.load,
    refit: Refit = local_refit,
    tracking: Tracking | None = None,
    engine: Engine = Engine.pandas,
    read: ReadOptions | None = None,
) -> TrainResult:
    """Train, evaluate against the baselines, log, register and maybe promote.

    Takes a data directory (validated on entry) or a validated `Dataset`, the
    configuration, the layer's settings and a callback that receives a short
    message as each step starts. `load` (validate and open a directory as of
    `--until`) and `refit` default to this machine; `training.distributed` passes
    the Dask engine's. `tracking` is the command's MLflow store and experiment
    (`use_tracking(settings)` when not given); `engine` is where `load` and `refit` run,
    for the run's tags; `read` how `load` reads the directory, recorded with the snapshot a
    promoted model gets. The run's name, tags and description: `training.tracking.story`.
    Returns the run's numbers and where the bundle went. Raises TrainingError (or the
    features layer's DataContractError) with a plain sentence on bad input.
    """
    started = time.perf_counter()
    config.check()
    unit = settings.cost_unit()  # a currency that cannot be shown fails before any work
    # The store first: one that cannot be used should fail now, not after minutes of training.
    if tracking is None:
        tracking = use_tracking(settings)
    fail_stale_runs(tracking)  # runs a killed `train` left RUNNING
    progress("Validating the data")
    source: Tables
    if isinstance(data, Dataset):
        source, truth, data_dir = PandasTables(data.known_until(config.until)), None, None
    else:
        source, truth, data_dir = load(data, config.until), _truth(data), data
    split = holdout_split(source, config)
    digest = source.digest()
    story = RunStory(settings.project, "train", digest, engine.value, config.targets)
    models_dir, name = settings.project_models_dir(), settings.model_name()
    data_note = describe_data(data_dir, digest, source.placements)

    with tracking.run(tags={**story.tags(), **process_tags()}, name=story.name()) as run_id:
        note_run(tracking, run_id, note([data_note], "training; no result yet"))
        tracking.log_params(
            run_id,
            {
                **{k: v for k, v in asdict(config).items() if k != "targets"},
                "data_dir": str(data_dir) if data_dir else "(in memory)",
                "data_digest": digest,
                **split.describe(),
            },
        )
        progress("Fitting on the earlier campaigns")
        earlier = fit(source, config, until=split.cutoff, refit=refit, progress=progress)
        # Skipped targets: no output. The asked order is kept, since its first decides promotion.
        config = replace(config, targets=tuple(t for t in config.targets if t in earlier.models))
        tracking.log_params(run_id, {"targets": ",".join(config.targets)})
        tracking.client.set_tag(run_id, TARGETS_TAG, ",".join(config.targets))
        progress("Judging it on the later campaigns")
        holdout = evaluate(
            earlier,
            source,
            split,
            seed=config.seed,
            budget_share=config.budget_share,
            truth=truth,
        )
        price = _judge_price(earlier, holdout.table, split.valid)
        tuning = holdout.tuning(earlier)
        if price is not None:  # the refit's price interval, as its outcome intervals, from here
            tuning = replace(tuning, price_interval=(price.low, price.high))
        progress("Refitting on everything known")
        bundle = fit(source, config, tuning=tuning, refit=refit, progress=progress)
        bundle.metadata["metrics"] = _summary(holdout.evaluations)
        bundle.metadata["run_id"] = run_id
        if unit.currency:  # so that the service speaks of cost as this training did
            bundle.metadata["currency"] = unit.currency
        if price is not None:
            bundle.metadata["price"] = price.metrics()
        tracking.log_params(
            run_id,
            {
                **{f"rounds.{t}": m.booster.current_iteration() for t, m in bundle.models.items()},
                **{f"lgbm.{k}": v for k, v in params_for(config.primary, config.seed).items()},
            },
        )
        progress("Logging the run and the model to MLflow")
        importance = importance_table({t: m.booster for t, m in bundle.models.items()})
        log_evaluation(tracking, run_id, holdout.evaluations, holdout.coverage, importance)
        if price is not None:  # after the outcomes' metrics, whose headlines the UI lists first
            tracking.log_metrics(run_id, price.metrics())
        example = holdout.table[list(FEATURES)].head(5)
        example = example.assign(cost=split.valid["cost"].head(5).to_numpy())
        version = log_model(tracking, bundle, example, models_dir, name)
        results = describe_results(holdout.evaluations, split.describe(), unit)
        note_registered(tracking, run_id, name, version, [data_note, results])
    manifest = write_manifest(
        models_dir / f"influence-v{version}.json",
        models_dir / f"influence-{run_id[:12]}",
        {"version": version, **bundle.metadata},
    )
    decision = None
    if config.promote or not has_champion(tracking, name):
        progress("Deciding on promotion")
        decision = promote(
            name,
            version,
            config.primary,
            models_dir,
            tracking=tracking,
            unit=unit,
        )
    else:
        promoting = version + project_flag(settings.project)  # `influence promote 2 --project x`
        note_status(tracking, name, version, UNDECIDED.format(promoting))
    snapshot = None
    if decision is not None and decision.promote and data_dir is not None and config.until is None:
        progress("Writing the champion's online snapshot")
        snapshot = _champion_snapshot(source, bundle, version, models_dir, data_dir, read)
    return TrainResult(
        run_id=run_id,
        version=version,
        evaluations=holdout.evaluations,
        coverage=holdout.coverage,
        decision=decision,
        manifest=manifest,
        split=split.describe(),
        family_importance=family_shares(importance),
        seconds=time.perf_counter() - started,
        bundle=bundle,
        unit=unit,
        price=price,
        snapshot=snapshot,
    )


def _champion_snapshot(
    source: Tables,
    bundle: ModelBundle,
    version: str,
    models_dir: Path,
    data_dir: Path,
    read: ReadOptions | None,
) -> Path:
    """Write the new champion's snapshot beside its bundle (`snapshot_folder`), so that a
    service starts from it in seconds. As of the moment a service reading `data_dir` would
    describe it at (just after its latest observation). Only for a model trained on all
    of the data: with `--until` the snapshot would not be what `serve --data` serves."""
    as_of = source.as_of(None) + pd.Timedelta(seconds=1)
    lineage = snapshot_lineage(source.digest(), version, data_dir, read)
    out = snapshot_folder(models_dir, version)
    return source.materialize(bundle.builder, out, as_of, lineage).parent


def _judge_price(
    earlier: ModelBundle, table: pd.DataFrame, valid: pd.DataFrame
) -> PriceEvaluation | None:
    """The earlier fit's price model on the later placements `valid` (`table`: their feature
    rows, in their order)."""
    if earlier.price is None:
        return None
    x = table[list(FEATURES)].to_numpy(dtype=float)
    cost = valid["cost"].to_numpy(dtype=float)
    return evaluate_price(earlier.price, x, cost, valid["campaign_id"].to_numpy(dtype=object))


def _truth(data_dir: Path) -> pd.DataFrame | None:
    """The simulator's expected outcomes beside the data, when it wrote them."""
    path = Path(data_dir) / TRUTH_FILE
    return pd.read_parquet(path) if path.exists() else None


def _summary(evaluations: dict[str, Evaluation]) -> dict[str, dict[str, object]]:
    """The bundle's headline numbers per target: the budget metric of each policy."""
    return {
        t: {
            "model": ev.value("model", "actions_per_cost"),
            "followers": ev.value("followers", "actions_per_cost"),
            "heuristic": ev.value("heuristic", "actions_per_cost"),
            "ratio_vs_followers": list(ev.budget_ratio),
            "partial_spearman": ev.value("model", "partial_spearman"),
        }
        for t, ev in evaluations.items()
    }
