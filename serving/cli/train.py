"""`influence train` and `influence promote`: thin commands over `training.pipeline`."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from serving.cli.console import err, out
from serving.cli.engine import Engine, run_on
from serving.cli.options import (
    LOCAL_WORKERS,
    TRAIN,
    TRAIN_TARGETS,
    BudgetShare,
    DataDir,
    EngineOption,
    MemoryLimit,
    Scheduler,
    Seed,
    Targets,
    Until,
    Window,
    Workers,
    targets_of,
    until_of,
)
from training.config import TrainConfig

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


def _cell(table: pd.DataFrame, policy: str, metric: str, digits: int = 3) -> str:
    row = table[(table["policy"] == policy) & (table["metric"] == metric)]
    if row.empty:
        return ""
    value, low, high = (float(row[c].iloc[0]) for c in ("value", "low", "high"))
    return f"{value:.{digits}g} [{low:.{digits}g}, {high:.{digits}g}]"


def print_train_result(result: object, config: TrainConfig, console: Console) -> None:
    """Print the comparison table of a `TrainResult` trained with `config`: model against
    baselines, with intervals."""
    from training.pipeline import TrainResult

    assert isinstance(result, TrainResult)
    for target, ev in result.evaluations.items():
        table = Table(
            title=f"{target} on {result.split['valid_campaigns']} later campaigns "
            f"({result.split['valid_placements']} placements); [95% campaign bootstrap]",
            title_justify="left",
        )
        for column in (
            "policy",
            f"{target}/cost, {config.budget_share:.0%} budget",
            "Spearman",
            "partial|followers",
            "NDCG@10",
        ):
            table.add_column(column, no_wrap=True)
        for policy in POLICY_ORDER:
            if (ev.table["policy"] == policy).any():
                table.add_row(
                    POLICY_LABEL[policy],
                    _cell(ev.table, policy, "actions_per_cost"),
                    _cell(ev.table, policy, "spearman", 2),
                    _cell(ev.table, policy, "partial_spearman", 2),
                    _cell(ev.table, policy, "ndcg_at_10", 2),
                )
        console.print(table)
        ratio, low, high = ev.budget_ratio
        console.print(
            f"  model / followers baseline on {target} per unit cost: {ratio:.2f}x "
            f"[{low:.2f}, {high:.2f}]; {result.coverage[target]:.0%} of later outcomes fell in "
            "their 90% prediction interval (calibrated on the other half of the campaigns).",
            highlight=False,
        )
    shares = result.family_importance
    console.print(
        "What the models learned from (share of gain): "
        + "; ".join(
            f"{t}: " + ", ".join(f"{f} {shares.loc[t, f]:.0%}" for f in shares.columns)
            for t in shares.index
        ),
        highlight=False,
    )
    console.print(
        f"Run {result.run_id} registered as version {result.version} (alias challenger); "
        f"bundle manifest {result.manifest}; {result.seconds:.0f} s.",
        highlight=False,
    )
    if result.decision is not None:
        verdict = "promoted to champion" if result.decision.promote else "not promoted"
        console.print(
            f"Version {result.version} {verdict}: {result.decision.reason}.", highlight=False
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
    engine: EngineOption = Engine.pandas,
    scheduler: Scheduler = None,
    workers: Workers = LOCAL_WORKERS,
    memory_limit: MemoryLimit = None,
) -> None:
    """Train one LightGBM model per outcome and compare it with the follower baselines.

    Splits by time (earlier campaigns train, later ones validate), logs the run
    to MLflow, registers the model as challenger, exports it to models/, and
    prints model against baselines with 95% campaign-bootstrap intervals. With
    --engine dask, features are built and the boosters fitted (lightgbm.dask) on a
    Dask cluster.
    """
    from training.learners.sparse import WARNING
    from training.pipeline import train as run_training
    from training.settings import get_settings

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
    with (
        err.status("Training ...") as status,
        run_on(engine, scheduler, workers, memory_limit) as runner,
    ):

        def progress(message: str) -> None:
            # A warning (a skipped target) must outlive the spinner line it would replace.
            if message.startswith(WARNING):
                err.print(
                    f"[yellow]warning:[/] {escape(message.removeprefix(WARNING))}.",
                    highlight=False,
                    soft_wrap=True,
                )
                return
            status.update(message + " ...")

        result = run_training(
            data_dir, config, get_settings(), progress, load=runner.load, refit=runner.refit
        )
    print_train_result(result, config, out)


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
) -> None:
    """Make a version champion if it beats the followers baseline and the champion."""
    from training.artifacts.registry import promote
    from training.settings import get_settings
    from training.tracking.store import use_tracking

    settings = get_settings()
    use_tracking(settings)
    decision = promote(settings.registered_model, version, target, settings.models_dir, force)
    verdict = "promoted to champion" if decision.promote else "not promoted"
    out.print(f"Version {version} {verdict}: {decision.reason}.", highlight=False)
    if not decision.promote:
        raise typer.Exit(1)
