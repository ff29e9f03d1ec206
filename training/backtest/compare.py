"""`influence compare`: the rolling-origin backtest, its report, and one MLflow run.

Validate the data, run the backtest (`training.backtest.rolling`), spend every policy's
budget on the held-out campaigns (`training.evaluation.policies`), write the report
(`training.backtest.report`) and log its numbers and files to MLflow, in the project's
backtest experiment (`influence-compare` for the default project, `influence-<project>-compare`
for another: `training.workspace`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.engine import Engine
from features.headers import ReadOptions
from features.io import load_dataset
from features.simulate import TRUTH_FILE
from training.backtest.report import ReportFiles, write_report
from training.backtest.rolling import BacktestConfig, Fold, run_backtest
from training.evaluation.policies import Comparison, compare_policies
from training.settings import TrainingSettings
from training.tracking.store import Tracking, use_tracking
from training.tracking.story import RunStory, describe_data, interval, note_run
from training.units import CostUnit

__all__ = ["EXPERIMENT", "CompareResult", "run_compare"]

EXPERIMENT = "influence-compare"
"""The default project's backtest experiment (`TrainingSettings.experiment_name("compare")`)."""


@dataclass(frozen=True)
class CompareResult:
    """What a comparison produced, for the CLI and for tests."""

    files: ReportFiles
    run_id: str
    comparison: Comparison
    folds: list[Fold]
    campaigns: int
    placements: int
    seconds: float
    importance: pd.DataFrame
    """Gain share per feature and target, averaged over the folds (the report's chart)."""
    unit: CostUnit = CostUnit()
    """The words for cost the report and the run's description use (the settings' currency)."""


def _metrics(table: pd.DataFrame) -> dict[str, float]:
    """The pooled rows as MLflow metrics: `target.policy.metric` and its `_low` and `_high`."""
    metrics: dict[str, float] = {}
    for row in table[table["tier"] == "all"].to_dict("records"):
        key = f"{row['target']}.{row['policy']}.{row['metric']}"
        for suffix, column in (("", "value"), ("_low", "low"), ("_high", "high")):
            value = float(row[column])
            if np.isfinite(value):
                metrics[key + suffix] = value
    return metrics


def _findings(comparison: Comparison, targets: tuple[str, ...], folds: int, unit: CostUnit) -> str:
    """The run's description after its data: the model against the follower rule per target.

    The backtest's headline is the follower rule (biggest accounts first, the market's
    way), so each line is `clicks per unit cost 0.158 [0.12, 0.19] against the follower
    rule's 0.098 [0.071, 0.12]`, pooled over the held-out campaigns of every fold.
    """

    def shown(rate: tuple[float, ...]) -> str:
        return f"{rate[0]:.3g} {interval(rate[1], rate[2])}"

    def rate(target: str, policy: str) -> str:
        return shown(comparison.value(target, policy, "actions_per_cost"))

    lines = "\n".join(
        f"- {t} {unit.per()} {rate(t, 'model')} against the follower rule's "
        f"{rate(t, 'follower_rule')}"
        for t in targets
    )
    return f"Backtest over {folds} rolling origins, 95% campaign-bootstrap intervals:\n\n{lines}"


def run_compare(
    data_dir: Path,
    out_dir: Path,
    config: BacktestConfig,
    settings: TrainingSettings,
    progress: Callable[[str], None] = lambda _: None,
    tracking: Tracking | None = None,
    read: ReadOptions | None = None,
) -> CompareResult:
    """Backtest the model against the follower baselines; write and log the report.

    Takes the data directory (validated on entry; `truth.parquet` beside the tables
    adds the truth policy), the report folder, the configuration, the training
    layer's settings (MLflow store), a callback told what each step is doing and the
    command's MLflow handle (`use_tracking` of the project's backtest experiment,
    `settings.experiment_name("compare")`, when not given) and how the directory's
    exports are read (`features.headers.ReadOptions`, default the contract as written).
    The settings' currency words the report and the run's description
    (`training.units.CostUnit`). Raises TrainingError (or DataContractError) with a
    plain sentence on bad input. The run is named `<project> compare <digest>`, tagged
    and described as `influence train`'s are (`training.tracking.story`), its engine
    always pandas.
    """
    started = time.perf_counter()
    config.check()
    unit = settings.cost_unit()  # a currency that cannot be shown fails before any work
    progress("Validating the data")
    data = load_dataset(data_dir, read)
    truth_file = Path(data_dir) / TRUTH_FILE
    truth = pd.read_parquet(truth_file) if truth_file.exists() else None
    backtest = run_backtest(data, truth, config, progress)
    progress("Spending every policy's budget on the held-out campaigns")
    comparison = compare_policies(backtest, config)
    progress("Writing the report and logging it to MLflow")
    if tracking is None:
        tracking = use_tracking(settings, experiment=settings.experiment_name("compare"))
    digest = data.digest()
    story = RunStory(
        settings.project, "compare", digest, Engine.pandas.value, tuple(config.targets)
    )
    with tracking.run(tags=story.tags(), name=story.name()) as run_id:
        found = _findings(comparison, config.targets_in_order, len(backtest.folds), unit)
        note_run(tracking, run_id, f"{describe_data(data_dir, digest, data.placements)}\n\n{found}")
        meta: dict[str, object] = {
            "data_dir": str(data_dir),
            "data_digest": digest,
            "run_id": run_id,
            # Only when configured: without one, the report's files are as they always were.
            **({"currency": unit.currency} if unit.currency else {}),
        }
        tracking.log_params(
            run_id,
            {
                **{k: v for k, v in asdict(config).items() if k != "targets"},
                "targets": ",".join(config.targets),
                "data_dir": str(data_dir),
                "data_digest": meta["data_digest"],
                "truth": truth is not None,
                **{f"fold.{f.index}.origin": f.origin.isoformat() for f in backtest.folds},
            },
        )
        tracking.log_metrics(run_id, _metrics(comparison.table))
        files = write_report(out_dir, backtest, comparison, config, meta, unit)
        for path in (files.html, files.json, files.csv):
            tracking.client.log_artifact(run_id, str(path))
    return CompareResult(
        files=files,
        run_id=run_id,
        comparison=comparison,
        folds=backtest.folds,
        campaigns=int(backtest.frame["campaign_id"].nunique()),
        placements=len(backtest.frame),
        seconds=time.perf_counter() - started,
        importance=backtest.importance,
        unit=unit,
    )
