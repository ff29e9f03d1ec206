"""`influence train` and `influence promote`: thin commands over `training.pipeline`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich.console import Console

from serving.cli.console import progress, say, stderr, stdout, warn
from serving.cli.engine import Engine, run_on
from serving.cli.options import (
    LOCAL_WORKERS,
    TRAIN,
    TRAIN_TARGETS,
    BudgetShare,
    ColumnsFile,
    Currency,
    DataDir,
    DayFirst,
    EngineOption,
    MemoryLimit,
    Project,
    Scheduler,
    Seed,
    Targets,
    Until,
    Window,
    Workers,
    read_of,
    settings_of,
    targets_of,
    until_of,
)
from serving.cli.tables import estimate, result_table, show
from training.config import TrainConfig

if TYPE_CHECKING:
    from training.pipeline import TrainResult

__all__ = ["app", "print_train_result", "promote_command", "train"]

app = typer.Typer()

POLICY_ORDER = ("model", "followers", "heuristic", "follower_rule", "truth")
POLICY_LABEL = {
    "model": "model",
    "followers": "followers baseline",
    "heuristic": "engagement heuristic",
    "follower_rule": "biggest accounts first",
    "truth": "truth (simulated)",
}


def _cell(table: pd.DataFrame, policy: str, metric: str, spec: str = ".3g") -> str:
    row = table[(table["policy"] == policy) & (table["metric"] == metric)]
    if row.empty:
        return ""
    return estimate(tuple(float(row[c].iloc[0]) for c in ("value", "low", "high")), spec)


def print_train_result(result: TrainResult, config: TrainConfig, console: Console) -> None:
    """Print what `train` found with `config`: per target, the model against the baselines
    with 95% campaign-bootstrap intervals (within 80 columns), then the run and its verdict;
    costs in the result's words (`result.unit`: "per EUR" when a currency is configured)."""
    unit = result.unit
    for target, ev in result.evaluations.items():
        title = (
            f"{target} on {result.split['valid_campaigns']} later campaigns "
            f"({result.split['valid_placements']} placements), 95% campaign-bootstrap "
            "intervals below each value:"
        )
        table = result_table(
            "policy",
            f"{target}\n{unit.per('cost')} at\n{config.budget_share:.0%} budget",
            "Spearman",
            "partial\nSpearman |\nfollowers",
            "NDCG@10",
        )
        for policy in POLICY_ORDER:
            if (ev.table["policy"] == policy).any():
                table.add_row(
                    POLICY_LABEL[policy],
                    _cell(ev.table, policy, "actions_per_cost"),
                    _cell(ev.table, policy, "spearman", ".2f"),
                    _cell(ev.table, policy, "partial_spearman", ".2f"),
                    _cell(ev.table, policy, "ndcg_at_10", ".2f"),
                )
        ratio, low, high = ev.budget_ratio
        note = (
            f"The model bought {ratio:.3g} times the {target} {unit.per()} of the followers "
            f"baseline [{low:.3g}, {high:.3g}]; {result.coverage[target]:.0%} of later outcomes "
            "fell in their 90% prediction interval (calibrated on the other half of the "
            "campaigns)."
        )
        show(console, title, table, note)
    shares = result.family_importance
    say(
        console,
        "What the models learned from (share of gain): "
        + "; ".join(
            f"{t}: " + ", ".join(f"{f} {shares.loc[t, f]:.0%}" for f in shares.columns)
            for t in shares.index
        )
        + ".",
    )
    if result.price is not None:
        say(console, result.price.sentence())
    say(
        console,
        f"Run {result.run_id} registered as version {result.version} (alias challenger); "
        f"bundle manifest {result.manifest}; {result.seconds:.0f} s.",
    )
    if result.decision is not None:
        verdict = "promoted to champion" if result.decision.promote else "not promoted"
        say(console, f"Version {result.version} {verdict}: {result.decision.reason}.")
    if result.snapshot is not None:
        say(
            console,
            f"Its online snapshot, which `influence serve` starts from: {result.snapshot}.",
        )


@app.command()
def train(
    data_dir: DataDir,
    targets: Targets = TRAIN_TARGETS,
    until: Until = None,
    seed: Seed = TRAIN.seed,
    window: Window = TRAIN.window_days,
    validation_share: Annotated[
        float, typer.Option(help="Share of the latest campaigns held out for validation.")
    ] = TRAIN.validation_share,
    budget_share: BudgetShare = TRAIN.budget_share,
    promote: Annotated[
        bool, typer.Option("--promote", help="Make it champion if it earns it.")
    ] = TRAIN.promote,
    columns: ColumnsFile = None,
    dayfirst: DayFirst = False,
    currency: Currency = None,
    project: Project = None,
    engine: EngineOption = Engine.pandas,
    scheduler: Scheduler = None,
    workers: Workers = LOCAL_WORKERS,
    memory_limit: MemoryLimit = None,
) -> None:
    """Train one LightGBM model per outcome and compare it with the follower baselines.

    Splits by time (earlier campaigns train, later ones validate), logs the run
    to MLflow, registers the model as challenger, exports it to models/ (models/NAME/
    for --project NAME), and prints model against baselines with 95%
    campaign-bootstrap intervals. With --engine dask, features are built and the
    boosters fitted (lightgbm.dask) on a Dask cluster.
    """
    from training.learners.sparse import WARNING
    from training.pipeline import train as run_training
    from training.tracking.store import use_tracking

    config = TrainConfig(
        targets=targets_of(targets),
        until=until_of(until),
        seed=seed,
        window_days=window,
        validation_share=validation_share,
        budget_share=budget_share,
        promote=promote,
    )
    config.check()  # before a cluster starts for it
    read = read_of(columns, dayfirst)
    settings = settings_of(currency, project)
    tracking = use_tracking(settings)  # a store that cannot be used fails before any work
    err = stderr()
    say(err, settings.describe(), soft_wrap=True)
    with (
        progress(err, "Training") as step,
        run_on(engine, scheduler, workers, memory_limit, read) as runner,
    ):

        def told(message: str) -> None:
            # A warning (a skipped target) must outlive the progress line it would replace.
            if message.startswith(WARNING):
                warn(err, message.removeprefix(WARNING) + ".")
            else:
                step(message)

        result = run_training(
            data_dir,
            config,
            settings,
            told,
            load=runner.load,
            refit=runner.refit,
            tracking=tracking,
            engine=engine,
            read=read,
        )
    print_train_result(result, config, stdout())
    say(stdout(), tracking.run_page(result.run_id))


@app.command(name="promote")
def promote_command(
    version: Annotated[
        str, typer.Argument(metavar="VERSION", help="Registered version to promote.")
    ],
    target: Annotated[
        str, typer.Option(help="The outcome whose budget metric decides.")
    ] = TRAIN.primary,
    force: Annotated[
        bool, typer.Option("--force", help="Promote even if it does not earn it.")
    ] = False,
    currency: Currency = None,
    project: Project = None,
) -> None:
    """Make a version champion if it beats the followers baseline and the champion.

    VERSION is one of the project's registered versions (--project, or INFLUENCE_PROJECT).
    """
    from training.artifacts.registry import promote
    from training.tracking.store import use_tracking

    settings = settings_of(currency, project)
    tracking = use_tracking(settings)
    say(stderr(), settings.describe(), soft_wrap=True)
    decision = promote(
        settings.model_name(),
        version,
        target,
        settings.project_models_dir(),
        force,
        tracking=tracking,
        unit=settings.cost_unit(),
    )
    verdict = "promoted to champion" if decision.promote else "not promoted"
    say(stdout(), f"Version {version} {verdict}: {decision.reason}.")
    if not decision.promote:
        raise typer.Exit(1)
